"""TensorFlow utilities: nested structures, dtypes and shapes, debugging and test assertions, eager flags,
logging, sets, string lengths and n-grams, lookup tables, distribution strategies and resolvers, build queries
and the profiler.

Assertions report, per input, whether they raised: a holding assertion that raises and a violated one that
passes both fail the check. Functions a user traces once are traced in ``setup``; the timed call reuses the
trace. Multi-device APIs run in their single-process, single-device form.
"""

import collections
import glob
import logging
import os
import re
import shutil
import tempfile
import weakref

import ml_dtypes
import numpy as np

from portability.catalog import (
    BIG_SIDE,
    FLOATS,
    VEC,
    Keep,
    Kernel,
    monitored_steps,
    normal,
    nothing,
    pair,
    paper,
    raises,
    step_graph,
)

INTS = ("int8", "int16", "int32", "int64", "uint8")
ALL = (*FLOATS, "int32", "int64", "bool")
N = (BIG_SIDE, BIG_SIDE)
#: A fixed small input where the API's effect does not depend on the size (scopes, flags).
FIXED = (64, 64)
ALPHABET = list("abcdefghij ") + ["é", "ß", "中", "🙂"]
VOCAB = ["the", "cat", "sat", "on", "a", "mat", "über", "東京", "!"]


# -- tf.dtypes.as_dtype: from NumPy dtypes, names, enums, TF dtypes and Python types -------------

#: Python types and legacy names as_dtype accepts, and the DType each names (TF's own tables: a
#: Python float is float32, object is string; "half", "float", "double" are the C names).
_FIXED = ((float, "float32"), (bool, "bool"), (object, "string"), ("float", "float32"), ("half", "float16"),
          ("double", "float64"), ("bfloat16", "bfloat16"), (np.float16, "float16"), (np.uint8, "uint8"),
          (np.int64, "int64"))


def _as_dtype(c, x):
    host = x.numpy().dtype
    dt = c.fn(host)
    names = [host.name, dt.name, c.fn(c.dtype).name, c.fn(dt.as_datatype_enum).name, c.fn(x.dtype).name]
    facts = [dt.as_numpy_dtype == host, dt.size == host.itemsize,
             dt.is_floating == (host.kind == "f" or host == ml_dtypes.bfloat16), dt.is_complex == (host.kind == "c")]
    if host.kind in "iu":
        facts += [dt.min == np.iinfo(host).min, dt.max == np.iinfo(host).max]
    elif dt.is_floating:
        info = ml_dtypes.finfo(host)
        facts += [dt.min == float(info.min), dt.max == float(info.max)]
    return names, facts, [c.fn(spec).name for spec, _ in _FIXED]


def _check_as_dtype(out, x):
    n_facts = len(out) - 5 - len(_FIXED)
    names, facts, fixed = out[:5], out[5:5 + n_facts], out[5 + n_facts:]
    assert len(set(names)) == 1, f"as_dtype gave {names[1:]} for {names[0]} (from NumPy, name, enum, tf.DType)"
    assert all(facts), f"DType properties disagree with NumPy's for {names[0]}: {facts}"
    expected = [name for _, name in _FIXED]
    assert fixed == expected, f"as_dtype of {[s for s, _ in _FIXED]} gave {fixed}, expected {expected}"


# -- tf.test.TestCase.assertEqual on graph-mode op attributes, as the upstream test -------------

def _assert_equal_setup(c, x):
    tf = c.fw
    case = tf.test.TestCase()
    g = tf.Graph()
    with g.as_default():
        p = tf.compat.v1.placeholder(tf.int32, shape=[None, 3])
        y = tf.ensure_shape(tf.constant(x.numpy()), x.shape)
        noop = tf.no_op(name="check")

    def outcome(a, b):
        try:
            c.fn(case, a, b)
        except case.failureException:
            return "differ"
        return "equal"

    pairs = [(y.shape.as_list(), list(x.shape)), (p.shape.as_list(), [None, 3]), (y.dtype, x.dtype),
             (noop.type, "NoOp"), (y.shape.as_list(), [x.shape[0] + 1, x.shape[1]]), (p.dtype, tf.float32),
             ({"a": 1, "b": [2, 3]}, {"a": 1, "b": [2, 3]}), ({"a": 1, "b": [2, 3]}, {"a": 1, "b": [3, 2]})]
    return lambda: [outcome(a, b) for a, b in pairs]


# -- tf.compat.v1.debugging.assert_less: a holding, a violated and an empty comparison ----------

def _ordered(rng):
    x = rng.integers(-50, 50, rng.pick(*VEC)).astype(np.float64)
    return {"x": x, "y": x + rng.integers(1, 5, x.size)}


def _assert_less_setup(c, x, y):
    tf = c.fw
    k = int(x.shape[0]) // 2
    violated = tf.tensor_scatter_nd_update(y, [[k]], x[k:k + 1])  # y[k] == x[k]: not less
    empty = tf.zeros([0], x.dtype)

    def raises(a, b):
        try:
            c.fn(a, b)
        except tf.errors.InvalidArgumentError:
            return True
        return False

    return lambda: [raises(x, y), raises(x, violated), raises(empty, empty)]


# -- tf.nest.map_structure / tf.__internal__.nest.map_structure_up_to ----------------------------

_Pair = collections.namedtuple("_Pair", ["first", "second"])


def _map_structure(c, x, y):
    return c.fn(lambda a, b: a * b + 1, {"a": x, "b": [y, _Pair(x, y)]}, {"a": y, "b": [y, _Pair(y, x)]})


def _map_structure_ref(x, y):
    return {"a": x * y + 1, "b": [y * y + 1, _Pair(x * y + 1, y * x + 1)]}


def _map_up_to(c, x, y):
    tf = c.fw
    shallow = {"a": None, "b": [None, None], "c": _Pair(None, None)}
    deep = {"a": (x, y), "b": [x, {"k": y, "j": x}], "c": _Pair([x, x], y)}
    return c.fn(shallow, lambda sub: tf.math.add_n(tf.nest.flatten(sub)), deep)


def _map_up_to_ref(x, y):
    return {"a": x + y, "b": [x, x + y], "c": _Pair(2 * x, y)}


# -- tf.numpy_function inside a tf.function --------------------------------------------------------

def _numpy_function_setup(c, x):
    tf = c.fw

    def host_fn(a):
        return a * a + np.ones((), a.dtype)  # NumPy in the tensor's own dtype

    @tf.function
    def f(v):
        return c.fn(host_fn, [v], v.dtype, stateful=False)

    return lambda: f(x)


# -- tf.distribute.InputContext.get_per_replica_batch_size ---------------------------------------

def _per_replica_setup(c):
    tf = c.fw
    ctx = tf.distribute.InputContext(num_input_pipelines=2, input_pipeline_id=1, num_replicas_in_sync=6)

    def step():
        try:
            c.fn(ctx, 13)  # not divisible by 6 replicas
            refused = False
        except ValueError:
            refused = True
        return [c.fn(ctx, 12), c.fn(ctx, 600), refused]

    return step


# -- tf.sets.intersection of dense rows ----------------------------------------------------------

def _set_rows(rng):
    shape = rng.dims((64, 1024), (64, 1024))
    return {"a": rng.integers(0, 100, shape).astype(np.float64), "b": rng.integers(0, 100, shape).astype(np.float64)}


def _intersection(c, a, b):
    out = c.fn(a, b)
    return out.indices, out.values, out.dense_shape


def _intersection_ref(a, b):
    rows = [np.intersect1d(ra, rb) for ra, rb in zip(a, b, strict=True)]
    indices = np.array([(i, j) for i, r in enumerate(rows) for j in range(len(r))], dtype=np.int64).reshape(-1, 2)
    values = np.concatenate(rows).astype(a.dtype)
    return indices, values, np.array([len(rows), max(len(r) for r in rows)], dtype=np.int64)


def _eager_flag_setup(c):
    """The flag eagerly, inside a tf.function (read at trace time) and inside a TF1 graph."""
    tf = c.fw
    traced = tf.function(lambda: tf.constant(c.fn()))
    traced()
    graph = tf.Graph()

    def run():
        eager = c.fn()
        in_function = bool(traced().numpy())
        with graph.as_default():
            in_graph = c.fn()
        return eager, in_function, in_graph

    return run


def _docs_setup(c, x):
    marker = getattr(c.fw.tools.docs.doc_controls, "_DO_NOT_DOC", "_tf_docs_do_not_document")

    def run():
        class Block:
            def __call__(self, t):
                return self.scale(t)

            @c.fn
            def scale(self, t):
                return t * 3.0

        return Block()(x), hasattr(Block.scale, marker), Block.scale.__name__

    return run


def _nest_inputs(rng):
    return {"a": rng.standard_normal(64), "b": rng.standard_normal((8, 8)), "d": rng.standard_normal(3),
            "e": rng.standard_normal((2, 5))}


def _nest_structure(a, b, d, e):
    return {"logits": a, "state": (b, {"h": d, "c": e}), "aux": [e, a]}


def _nest_ref(a, b, d, e):
    # Dicts flatten in sorted key order: aux, logits, state; then c before h.
    return [e, a, a, b, e, d]


def _strategy_setup(c, x):
    tf = c.fw

    def run():
        strategy = c.fn()
        per_replica = strategy.run(lambda t: t * 2.0 + 1.0, args=(x,))
        total = strategy.reduce(tf.distribute.ReduceOp.SUM, per_replica, axis=None)
        return total, strategy.num_replicas_in_sync

    return run


def _cuda_build_ref():
    """What the build information says: the reference runs in the worker, where TensorFlow is imported."""
    import tensorflow as tf

    return bool(tf.sysconfig.get_build_info().get("is_cuda_build", False))


def _dvariable_setup(c, x, y):
    tf = c.fw
    dtensor = tf.experimental.dtensor
    kind = c.backend.upper()
    mesh = dtensor.create_mesh([("batch", 1)], devices=[f"{kind}:0"], device_type=kind)
    layout = dtensor.Layout.batch_sharded(mesh, "batch", rank=2)
    dx, dy = dtensor.copy_to_mesh(x, layout), dtensor.copy_to_mesh(y, layout)

    def run():
        v = c.fn(dx)
        v.assign_add(dy)
        return dtensor.unpack(v.read_value())[0]

    return run


# -- train.LoggingTensorHook in a MonitoredSession ------------------------------------------------

def _logging_hook_setup(c, x):
    tf = c.fw
    host = x.numpy()
    g, train = step_graph(c)
    with g.as_default(), tf.device(c.device):
        y = tf.math.multiply(tf.constant(host), 2)
    logged = []

    def formatter(values):
        logged.append(values["y"])
        return f"logged y, record {len(logged)}"

    def step():
        logged.clear()
        with g.as_default():
            hook = c.fn({"y": y}, every_n_iter=2, formatter=formatter)
        monitored_steps(c, g, train, hook, 5)
        return len(logged), np.stack(logged)

    return step


def _words(rng):
    """Words drawn from a pool of 1024 random mixed-script words."""
    lengths = rng.integers(0, 13, 1024)
    chars = rng.choice(ALPHABET, int(lengths.sum()))
    pool = ["".join(w) for w in np.split(chars, np.cumsum(lengths)[:-1])]
    return {"words": [pool[i] for i in rng.integers(0, len(pool), rng.pick(4096, 262144))]}


def _length_setup(c, words):
    t = c.fw.constant(words)
    return lambda: (c.fn(t), c.fn(t, unit="UTF8_CHAR"))


def _length_ref(words):
    return (np.array([len(w.encode()) for w in words], dtype=np.int32),
            np.array([len(w) for w in words], dtype=np.int32))


def _sentences(rng):
    rows = rng.pick(64, 16384)
    return {"tokens": [list(rng.choice(VOCAB, int(k))) for k in rng.integers(1, 33, rows)]}


def _ngrams_setup(c, tokens):
    rt = c.fw.ragged.constant(tokens)

    def run():
        grams = c.fn(rt, 2, separator=" ")
        return grams.flat_values, grams.row_splits

    return run


def _ngrams_ref(tokens):
    grams = [[f"{a} {b}".encode() for a, b in zip(s, s[1:], strict=False)] for s in tokens]
    flat = np.array([g for s in grams for g in s], dtype=object)
    return flat, np.concatenate([[0], np.cumsum([len(s) for s in grams])]).astype(np.int64)


def _table_inputs(rng):
    """Distinct int64 keys (a shuffled range times an odd constant, mod 2**40: a bijection), half of
    the queries present, half absent."""
    n = rng.pick(4096, 1 << 18)
    ids = (rng.permutation(n + n // 2).astype(np.int64) * 2654435761) % (1 << 40) - (1 << 39)
    keys, absent = ids[:n], ids[n:]
    return {"keys": Keep(keys), "values": rng.standard_normal(n) * 10,
            "queries": Keep(rng.permutation(np.concatenate([keys[: n // 2], absent])))}


def _table_setup(c, keys, values, queries):
    tf = c.fw
    table = c.fn(key_dtype=tf.int64, value_dtype=values.dtype, default_value=-1)

    def run():
        table.insert(keys, values)
        return table.lookup(queries)

    return run


def _table_ref(keys, values, queries):
    order = np.argsort(keys)
    ordered = keys[order]
    pos = np.minimum(np.searchsorted(ordered, queries), len(keys) - 1)
    return np.where(ordered[pos] == queries, values[order[pos]], -1)


# -- tf.TensorShape: partial shapes, merging, compatibility -------------------------------------------

def _odd_matrix(rng):
    return {"x": rng.standard_normal(tuple(rng.integers(2, 50, 2)))}


def _tensor_shape_call(c, x):
    shape = c.fn
    n, m = (int(d) for d in x.shape)
    partial = shape([None, m])
    merged = partial.merge_with(shape([n, None]))
    return [merged.as_list(), merged == x.shape, merged.num_elements(), merged.is_fully_defined(),
            partial.is_fully_defined(), partial.num_elements(), partial.rank, partial[1], partial.as_list(),
            partial.is_compatible_with(x.shape), partial.is_compatible_with(shape([n + 1, m])),
            partial.is_compatible_with(shape([n, m + 1])), partial.concatenate([4]).as_list(),
            partial.most_specific_compatible_shape(shape([n, m + 2])).as_list(), shape(None).rank,
            raises(ValueError, lambda: partial.merge_with(shape([n, m + 1])))]


def _tensor_shape_ref(x):
    n, m = x.shape
    return [[n, m], True, n * m, True, False, None, 2, m, [None, m], True, True, False, [None, m, 4],
            [None, None], None, True]


# -- tf.is_tensor --------------------------------------------------------------------------------------

def _is_tensor_setup(c, x):
    tf = c.fw
    objects = [x, tf.Variable(x), tf.sparse.from_dense(x), tf.RaggedTensor.from_tensor(x), tf.constant(["a"]),
               x.numpy(), 1.0, [x], tf.TensorSpec(x.shape), x.shape]

    @tf.function
    def traced(v):
        return c.fn(v), c.fn(v.shape)

    def step():
        in_function = [bool(b) for b in traced(x)]
        return [c.fn(o) for o in objects] + in_function

    return step


# -- tf.nest.assert_same_structure ---------------------------------------------------------------------

_Point = collections.namedtuple("_Point", ["x", "y"])


def _same_structure_call(c, x):
    nested = {"a": x, "b": (x, [x, x])}
    pairs = [
        (nested, {"a": 1, "b": (2, [3, 4])}, {}),  # same structure, other leaves
        (nested, {"a": 1, "b": (2, [3])}, {}),  # a list shorter by one
        ((x, x), [x, x], {}),  # tuple vs list
        ((x, x), [x, x], {"check_types": False}),
        (_Point(x, x), (x, x), {}),  # namedtuple vs tuple
        ({"a": x}, {"b": x}, {}),  # other keys
        (x, [x], {}),  # a leaf vs a sequence
    ]
    outcomes = []
    for a, b, kwargs in pairs:
        try:
            c.fn(a, b, **kwargs)
            outcomes.append("ok")
        except (ValueError, TypeError) as exc:
            outcomes.append(type(exc).__name__)
    return outcomes


# -- tf.debugging assertions ---------------------------------------------------------------------------

def _ints(rng):
    """Integer values of sd 10 (|x| < 64: x + 1 differs from x in every dtype)."""
    return {"x": np.clip(np.round(rng.standard_normal(rng.pick(*VEC)) * 10), -60, 60)}


def _debugging_assert_equal_setup(c, x):
    tf = c.fw
    k = int(x.shape[0]) * 2 // 3
    other = tf.tensor_scatter_nd_update(x, [[k]], x[k:k + 1] + 1)
    copy = tf.identity(x)

    @tf.function
    def guarded(a, b):
        c.fn(a, b)
        return a + 1

    guarded(x, copy)

    def first_difference():
        try:
            c.fn(x, other, message="labels differ")
        except tf.errors.InvalidArgumentError as exc:
            found = re.search(r"Indices of first \d+ different values:\s*\[\[(\d+)\]\]", exc.message)
            return int(found.group(1)) if found else -1
        return None

    return lambda: [raises(tf.errors.InvalidArgumentError, lambda: c.fn(x, copy)), first_difference(),
                    raises(tf.errors.InvalidArgumentError, lambda: guarded(x, other)), guarded(x, copy)]


def _assert_equal_ref(x):
    return [False, len(x) * 2 // 3, True, x + 1]


def _assert_op_setup(c, x):
    """Assert guarding a sqrt in a tf.function (its data printed when it fails), and eagerly."""
    tf = c.fw

    @tf.function
    def safe_sqrt(v):
        check = c.fn(tf.reduce_all(v >= 0), ["negative input, min:", tf.reduce_min(v)])
        with tf.control_dependencies([check]):
            return tf.sqrt(v)

    positive, negative = tf.abs(x), x
    safe_sqrt(positive)

    def eager_message():
        try:
            c.fn(tf.reduce_all(negative >= 0), ["negative input, min:", tf.reduce_min(negative)])
        except tf.errors.InvalidArgumentError as exc:
            return "negative input, min:" in exc.message
        return False

    return lambda: [safe_sqrt(positive), raises(tf.errors.InvalidArgumentError, lambda: safe_sqrt(negative)),
                    eager_message(), c.fn(tf.reduce_all(positive >= 0), [positive]) is None]


def _greater_pairs(rng):
    y = np.clip(np.round(rng.standard_normal(rng.pick(*VEC)) * 10), -60, 60)
    return {"x": y + rng.integers(1, 4, y.size), "y": y}


def _assert_greater_setup(c, x, y):
    tf = c.fw
    k = int(x.shape[0]) // 2
    tie = tf.tensor_scatter_nd_update(x, [[k]], y[k:k + 1])  # tie[k] == y[k]: not greater
    empty = tf.zeros([0], x.dtype)
    err = tf.errors.InvalidArgumentError
    return lambda: [raises(err, lambda: c.fn(x, y)), raises(err, lambda: c.fn(tie, y)),
                    raises(err, lambda: c.fn(empty, empty))]


def _assert_non_negative_setup(c, x):
    tf = c.fw
    magnitudes = tf.abs(x)  # zeros included: non-negative, not positive
    k = int(x.shape[0]) // 3
    one_negative = tf.tensor_scatter_nd_update(magnitudes, [[k]], -magnitudes[k:k + 1] - 1)

    @tf.function
    def guarded(v):
        with tf.control_dependencies([c.fn(v)]):
            return tf.identity(v)

    guarded(magnitudes)
    err = tf.errors.InvalidArgumentError
    return lambda: [raises(err, lambda: c.fn(magnitudes)), raises(err, lambda: c.fn(one_negative)),
                    guarded(magnitudes), raises(err, lambda: guarded(one_negative))]


# -- tf.get_logger: TensorFlow's own messages and the user's go through one logger -----------------

class _Capture(logging.Handler):
    def __init__(self):
        super().__init__()
        self.records = []

    def emit(self, record):
        self.records.append(f"{record.levelname}:{record.getMessage()}")


def _logger_setup(c):
    tf = c.fw

    def step():
        logger = c.fn()
        capture = _Capture()
        saved = logger.handlers[:], logger.level, logger.propagate
        logger.handlers, logger.propagate = [capture], False  # keep the worker's log quiet
        try:
            logger.setLevel(logging.ERROR)
            logger.warning("user warning")  # below the level: dropped
            tf.compat.v1.logging.warning("tf warning")  # dropped too: the same logger
            logger.error("user error")
            tf.compat.v1.logging.error("tf error")
            logger.setLevel(logging.INFO)
            tf.compat.v1.logging.info("tf info")
        finally:
            logger.handlers, logger.level, logger.propagate = saved
        return [logger is logging.getLogger("tensorflow"), logger.name, capture.records]

    return step


# -- tf.distribute.TPUStrategy: one replicated step over the local TPU system ------------------------

def _tpu_strategy_setup(c, x):
    """The recipe of TPU programs: resolve the local TPU, initialise its system (unless the harness
    already has), build the strategy, run a step on every replica. Where there is no TPU,
    initialize_tpu_system raises NotFoundError (no kernel for ConfigureDistributedTPU): an honest
    failure of a TPU-only API on another backend."""
    tf = c.fw
    resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu="local")
    if not tf.config.list_logical_devices("TPU"):
        tf.tpu.experimental.initialize_tpu_system(resolver)
    strategy = c.fn(resolver)

    @tf.function
    def replicated(v):
        return strategy.run(lambda t: t * 2 + 1, args=(v,))

    def step():
        local = strategy.experimental_local_results(replicated(x))
        first = local[0].numpy()
        agree = all(np.array_equal(first, r.numpy()) for r in local[1:])
        return local[0], agree, len(local) == strategy.num_replicas_in_sync

    return step


# -- TPUClusterResolver.cluster_spec -------------------------------------------------------------------

def _cluster_spec_setup(c):
    resolver = c.fw.distribute.cluster_resolver.TPUClusterResolver
    resolvers = [resolver(tpu="grpc://localhost:8470"), resolver(tpu="grpc://localhost:8470", job_name="tpu_worker"),
                 resolver(tpu="local")]

    def step():
        specs = [c.fn(r) for r in resolvers]
        return ([s.as_dict() for s in specs], specs[0].num_tasks("worker"), specs[0].task_address("worker", 0),
                specs[2].jobs)

    return step


class _Written:
    """A fresh directory that a kernel returns for its check to read: removed once both the timed
    callable and the checked output are gone (a harness may drop the callable before checking)."""

    def __init__(self, prefix):
        self.path = tempfile.mkdtemp(prefix=prefix)
        weakref.finalize(self, shutil.rmtree, self.path, ignore_errors=True)


# -- AttrValue.ListValue: built, serialized, parsed, and set on a graph op ---------------------------

def _list_value_setup(c, x):
    tf = c.fw
    values = x.numpy()

    def step():
        lv = c.fn(f=values, i=[-3, 0, 2**40], s=[b"loc:@anchor", b""], b=[True, False],
                  type=[tf.float32.as_datatype_enum, tf.int64.as_datatype_enum],
                  shape=[tf.TensorShape([None, 3]).as_proto(), tf.TensorShape([]).as_proto()])
        parsed = c.fn.FromString(lv.SerializeToString())
        g = tf.Graph()
        with g.as_default():
            anchor = tf.constant(0.0, name="anchor")
            follower = tf.identity(anchor, name="follower")
            # colocation as TF's own graph rewrites record it: a "_class" list of "loc:@name" strings
            follower.op._set_attr("_class", tf.compat.v1.AttrValue(list=c.fn(s=[b"loc:@anchor"])))
            follower.op._set_attr("_scales", tf.compat.v1.AttrValue(list=c.fn(f=values)))
        return [np.array(parsed.f, np.float32), list(parsed.i), list(parsed.s), list(parsed.b),
                [tf.as_dtype(t).name for t in parsed.type], [tf.TensorShape(s).as_list() for s in parsed.shape],
                follower.op.colocation_groups(), np.array(follower.op.get_attr("_scales"), np.float32)]

    return step


def _list_value_ref(x):
    return [x, [-3, 0, 2**40], [b"loc:@anchor", b""], [True, False], ["float32", "int64"], [[None, 3], []],
            [b"loc:@anchor"], x]


# -- tf.profiler.experimental.start: a profiled matmul leaves a trace naming it ---------------------

def _profiler_setup(c, a, b):
    tf = c.fw
    runs = []

    def step():
        if runs:  # keep one trace directory
            shutil.rmtree(os.path.join(root.path, runs[-1]), ignore_errors=True)
        runs.append(f"run_{len(runs)}")
        c.fn(os.path.join(root.path, runs[-1]))
        try:
            y = tf.matmul(a, b)
            host = y.numpy()  # the op has finished before the profiler stops
        finally:
            tf.profiler.experimental.stop()
        return host, root, runs[-1]

    root = _Written("tf_profiler_")
    return step


def _check_profile(out, a, b):
    from tensorflow.tsl.profiler.protobuf import xplane_pb2

    y, root, run = out
    logdir = os.path.join(root.path, run)
    ref = a @ b
    err = float(np.max(np.abs(y - ref)))
    assert err <= 1e-4 * float(np.max(np.abs(ref))), f"profiled matmul off by {err:.3g}"
    files = glob.glob(os.path.join(logdir, "plugins", "profile", "*", "*.xplane.pb"))
    assert len(files) == 1, f"expected one .xplane.pb trace under {logdir}, found {files}"
    space = xplane_pb2.XSpace()
    with open(files[0], "rb") as f:
        space.ParseFromString(f.read())
    names = {m.name for plane in space.planes for m in plane.event_metadata.values()}
    assert any("MatMul" in name for name in names), f"no MatMul event in the trace: {sorted(names)[:12]}"


KERNELS = [
    Kernel("tf.dtypes.as_dtype", "utility", normal(4, 4),
           dtypes=(*FLOATS, "complex64", "complex128", "int8", "int32", "int64", "uint8", "bool"),
           call=_as_dtype, check=_check_as_dtype, **paper(100, 202)),
    Kernel("tf.test.TestCase.assertEqual", "utility", normal(8, 3), dtypes=("float32",), setup=_assert_equal_setup,
           reference=lambda x: ["equal"] * 4 + ["differ"] * 2 + ["equal", "differ"], **paper(100, 3030)),
    Kernel("tf.compat.v1.debugging.assert_less", "utility", _ordered, dtypes=(*FLOATS, "int32", "int64"),
           setup=_assert_less_setup, reference=lambda x, y: [False, True, False],
           **paper(90, 122, name="assertLess"), note="raises on x < y (holds), x < y with one tie, empty < empty"),
    Kernel("tf.nest.map_structure", "utility", pair(BIG_SIDE, BIG_SIDE), dtypes=("float32", "float64"),
           call=_map_structure, reference=_map_structure_ref, **paper(90, 155)),
    Kernel("tf.__internal__.nest.map_structure_up_to", "utility", pair(BIG_SIDE, BIG_SIDE),
           dtypes=("float32", "float64"), call=_map_up_to, reference=_map_up_to_ref, **paper(40, 6)),
    Kernel("tf.numpy_function", "utility", normal(BIG_SIDE, BIG_SIDE), dtypes=(*FLOATS, "int32"),
           setup=_numpy_function_setup, reference=lambda x: x * x + 1, **paper(50, 8)),
    Kernel("tf.distribute.InputContext.get_per_replica_batch_size", "utility", nothing(), dtypes=("int64",),
           setup=_per_replica_setup, reference=lambda: [2, 100, True], **paper(40, 6)),
    Kernel("tf.sets.intersection", "utility", _set_rows, dtypes=INTS, call=_intersection,
           reference=_intersection_ref, **paper(50, 9)),
    Kernel("tf.get_static_value", "utility", normal(*N, scale=10.0), dtypes=ALL,
           call=lambda c, x: (c.fn(x), c.fn(c.fw.shape(x))),
           reference=lambda x: (x, np.array(x.shape, dtype=np.int32)),
           note="an eager tensor and its dynamic shape come back as NumPy arrays"),
    Kernel("tf.executing_eagerly", "utility", nothing(), setup=_eager_flag_setup,
           reference=lambda: (True, False, False)),
    Kernel("tf.compat.v1.executing_eagerly_outside_functions", "utility", nothing(),
           setup=_eager_flag_setup, reference=lambda: (True, True, False),
           note="True inside a tf.function traced from eager code, unlike tf.executing_eagerly"),
    Kernel("tf.tools.docs.doc_controls.do_not_generate_docs", "utility", normal(*FIXED), setup=_docs_setup,
           reference=lambda x: (x * 3, True, "scale"), note="decorates a method, which is then called"),
    Kernel("tf.nest.flatten", "utility", _nest_inputs, call=lambda c, **t: c.fn(_nest_structure(**t)),
           reference=_nest_ref),
    Kernel("tf.distribute.get_strategy", "utility", normal(*N), setup=_strategy_setup,
           reference=lambda x: (x * 2 + 1, 1),
           note="the default strategy: run a step per replica and SUM-reduce it (one replica)"),
    Kernel("tf.test.is_built_with_cuda", "utility", nothing(), reference=_cuda_build_ref,
           note="must agree with tf.sysconfig.get_build_info()['is_cuda_build'] (True on the CUDA build the gpu "
                "backend runs)"),
    Kernel("tf.experimental.dtensor.DVariable", "utility", pair(*N), dtypes=FLOATS, setup=_dvariable_setup,
           reference=lambda x, y: x + y,
           note="a batch-sharded DVariable on a 1-device mesh of the case's backend; assign_add then read"),
    Kernel("tf.compat.v1.train.LoggingTensorHook", "utility", normal(BIG_SIDE, BIG_SIDE),
           dtypes=(*FLOATS, "int32"), setup=_logging_hook_setup,
           reference=lambda x: (3, np.stack([2 * x] * 3)), **paper(50, 8),
           note="every_n_iter=2 over 5 steps logs at iterations 0, 2 and 4"),
    Kernel("tf.strings.length", "utility", _words, dtypes=("int32",), out_dtype="int32", setup=_length_setup,
           reference=_length_ref, note="byte lengths and UTF-8 character lengths of mixed-script words"),
    Kernel("tf.strings.ngrams", "utility", _sentences, setup=_ngrams_setup, reference=_ngrams_ref,
           note="bigrams of ragged token lists; checked as (flat_values, row_splits)"),
    Kernel("tf.lookup.experimental.MutableHashTable", "utility", _table_inputs,
           dtypes=(*FLOATS, "int32", "int64"), setup=_table_setup, reference=_table_ref,
           note="insert int64 keys, look up half present and half absent keys (default -1)"),
    Kernel("tf.TensorShape", "utility", _odd_matrix, call=_tensor_shape_call, reference=_tensor_shape_ref,
           note="partial shapes: merge, compatibility, concatenation, unknown rank"),
    Kernel("tf.is_tensor", "utility", normal(8, 4), setup=_is_tensor_setup,
           reference=lambda x: [True] * 5 + [False] * 5 + [True, False],
           note="Tensor, Variable, SparseTensor, RaggedTensor, strings; NumPy, Python, lists, specs, shapes"),
    Kernel("tf.nest.assert_same_structure", "utility", normal(4), call=_same_structure_call,
           reference=lambda x: ["ok", "ValueError", "TypeError", "ok", "TypeError", "ValueError", "ValueError"]),
    Kernel("tf.debugging.assert_equal", "utility", _ints, dtypes=(*FLOATS, "int32", "int64"),
           setup=_debugging_assert_equal_setup, reference=_assert_equal_ref,
           note="equal, one element changed (the message names its index) and inside a tf.function"),
    Kernel("tf.debugging.Assert", "utility", normal(VEC), dtypes=FLOATS, setup=_assert_op_setup,
           reference=lambda x: [np.sqrt(np.abs(x)), True, True, True],
           note="guards a sqrt in a tf.function; the failing message carries the data"),
    Kernel("tf.debugging.assert_greater", "utility", _greater_pairs, dtypes=(*FLOATS, "int32", "int64"),
           setup=_assert_greater_setup, reference=lambda x, y: [False, True, False],
           note="raises on x > y (holds), x > y with one tie, empty > empty"),
    Kernel("tf.debugging.assert_non_negative", "utility", _ints, dtypes=(*FLOATS, "int32", "int64"),
           setup=_assert_non_negative_setup, reference=lambda x: [False, True, np.abs(x), True],
           note="|x| with zeros (holds), one negative element, both inside a tf.function"),
    Kernel("tf.get_logger", "utility", nothing(), setup=_logger_setup,
           reference=lambda: [True, "tensorflow", ["ERROR:user error", "ERROR:tf error", "INFO:tf info"]]),
    # Runs only where a TPU is attached (see _tpu_strategy_setup): on cpu and gpu it fails, honestly.
    Kernel("tf.distribute.TPUStrategy", "utility", lambda rng: {"x": rng.standard_normal(rng.dims(*N))},
           dtypes=FLOATS, setup=_tpu_strategy_setup, reference=lambda x: (2 * x + 1, True, True), device_only="tpu",
           note="strategy.run of 2x + 1 in a tf.function on every replica; replica 0's output and agreement"),
    Kernel("tf.distribute.cluster_resolver.TPUClusterResolver.cluster_spec", "utility", nothing(),
           setup=_cluster_spec_setup,
           reference=lambda: ([{"worker": ["localhost:8470"]}, {"tpu_worker": ["localhost:8470"]}, {}], 1,
                              "localhost:8470", []),
           note="a grpc:// address, the same under another job name, and tpu='local' (no cluster)"),
    Kernel("tf.core.framework.attr_value_pb2.AttrValue.ListValue", "utility", normal((256, 65536)),
           setup=_list_value_setup, reference=_list_value_ref,
           note="every field, a serialize/parse round trip, and lists set as attrs on a graph op"),
    Kernel("tf.profiler.experimental.start", "utility",
           lambda rng: {"a": rng.standard_normal(rng.dims((64, 512), (64, 512))),
                        "b": rng.standard_normal(rng.dims((64, 512), (64, 512)))},
           setup=_profiler_setup, check=_check_profile,
           note="start, a matmul, stop; the check finds the MatMul in the .xplane.pb trace"),
]
