"""Nested structures, control flow and utilities from the paper's sample: tf.nest, smart_cond,
TensorArray, tf.sets, dtypes, tf.print, tf.test / tf.debugging assertions, distribution and
tf.distribute helpers, tf.numpy_function, and TF-NumPy's rad2deg (the paper mined numpy.rad2deg).

Functions traced once by a user (a tf.function around tf.print or numpy_function) are traced once
here too, in ``setup``; the timed call reuses the trace.
"""

import collections
import os
import shutil
import tempfile
import weakref

import ml_dtypes
import numpy as np

from portability.catalog import BIG_SIDE, VEC, Kernel, normal, nothing, pair, paper

FLOATS = ("float32", "float64", "float16", "bfloat16")
INTS = ("int8", "int16", "int32", "int64", "uint8")


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


# -- tf.TensorArray.concat of ragged pieces, one of them empty, in a tf.function ------------------

def _pieces(rng):
    cols = rng.pick(16, 256)
    rows = rng.pick((100, 0, 60, 96), (1500, 0, 1000, 1596))
    return {f"p{i}": rng.standard_normal((r, cols)) * 10 for i, r in enumerate(rows)}


def _ta_concat_setup(c, **pieces):
    tf = c.fw
    parts = list(pieces.values())

    @tf.function
    def concat(*ps):
        ta = tf.TensorArray(ps[0].dtype, size=len(ps), infer_shape=False)
        for i, p in enumerate(ps):
            ta = ta.write(i, p)
        return c.fn(ta)

    return lambda: concat(*parts)


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


# -- tf.compat.v1.distributions.Normal.param_shapes ------------------------------------------------

def _sample_shape(rng):
    return {"shape": np.array(rng.dims((16, 1024), (8, 1024), 3), dtype=np.float64)}


def _param_shapes(c, shape):
    return c.fn(shape.numpy().tolist()), c.fn(shape)


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


# -- smart_cond in graph mode: static and placeholder predicates, as the upstream test ------------

def _smart_cond_setup(c, x):
    tf = c.fw
    g = tf.Graph()
    # TF1's strict placement (TF2 sessions default to soft): a cond op with no kernel on the device fails.
    sess = tf.compat.v1.Session(graph=g, config=tf.compat.v1.ConfigProto(allow_soft_placement=False))
    with g.as_default(), tf.device(c.device):
        v = tf.constant(x.numpy())
        pred = tf.compat.v1.placeholder(tf.bool, shape=[])
        static = c.fn(True, lambda: v * 2, lambda: v + 1)
        n_static = len(g.get_operations())
        dynamic = c.fn(pred, lambda: v * 2, lambda: v + 1)
    # A Python predicate picks its branch while the graph is built (only the Mul is added); a tensor
    # predicate adds a conditional (StatelessIf in control flow v2, Switch/Merge in v1).
    conds = {op.type for op in g.get_operations()[n_static:]} & {"If", "StatelessIf", "Switch", "Merge"}
    direct = static.op.type == "Mul" and bool(conds)
    return lambda: [direct, *sess.run([static, dynamic], {pred: True}), sess.run(dynamic, {pred: False})]


def _smart_cond_ref(x):
    return [True, 2 * x, 2 * x, x + 1]


# -- tf.print to a file, inside a tf.function --------------------------------------------------------

def _print_setup(c, x):
    tf = c.fw

    @tf.function
    def show(v):
        c.fn("x:", v, output_stream=f"file://{path}")  # summarize=3: the first and last three values

    def step():
        show(x)
        return path, c.dtype

    directory = tempfile.mkdtemp(prefix="tf_print_")
    weakref.finalize(step, shutil.rmtree, directory, ignore_errors=True)
    path = os.path.join(directory, "out.txt")
    return step


def _check_print(out, x):
    path, dtype = out
    with open(path) as f:
        line = f.readline().rstrip("\n")
    assert line.startswith("x: [") and line.endswith("]"), f"printed {line[:80]!r}"
    tokens = line[len("x: ["):-1].split()
    assert len(tokens) == 7 and tokens[3] == "...", f"printed {line[:80]!r}: expected 3 values, ..., 3 values"
    # TF prints the digits that identify a value in its own dtype: read back in that dtype, exactly.
    np_dtype = ml_dtypes.bfloat16 if dtype == "bfloat16" else np.dtype(dtype)
    shown = np.array([float(t) for t in tokens[:3] + tokens[4:]]).astype(np_dtype)
    expected = np.concatenate([x[:3], x[-3:]]).astype(np_dtype)
    assert np.array_equal(shown, expected), f"printed {tokens}, the tensor holds {expected.tolist()}"


KERNELS = [
    Kernel("tf.dtypes.as_dtype", "utility", normal(4, 4),
           dtypes=(*FLOATS, "complex64", "complex128", "int8", "int32", "int64", "uint8", "bool"),
           call=_as_dtype, check=_check_as_dtype, out_dtype=None, **paper(100, 202)),
    Kernel("tf.test.TestCase.assertEqual", "utility", normal(8, 3), dtypes=("float32",), setup=_assert_equal_setup,
           reference=lambda x: ["equal"] * 4 + ["differ"] * 2 + ["equal", "differ"], **paper(100, 3030)),
    Kernel("tf.compat.v1.debugging.assert_less", "utility", _ordered, dtypes=(*FLOATS, "int32", "int64"),
           setup=_assert_less_setup, reference=lambda x, y: [False, True, False],
           **paper(90, 122, name="assertLess"), note="raises on x < y (holds), x < y with one tie, empty < empty"),
    Kernel("tf.TensorArray.concat", "shape", _pieces, dtypes=(*FLOATS, "int32", "int64"), setup=_ta_concat_setup,
           reference=lambda *pieces: np.concatenate(pieces), **paper(100, 1304),
           note="a TensorArray of four pieces of different lengths, one empty, in a tf.function"),
    Kernel("tf.nest.map_structure", "utility", pair(BIG_SIDE, BIG_SIDE), dtypes=("float32", "float64"),
           call=_map_structure, reference=_map_structure_ref, **paper(90, 155)),
    Kernel("tf.__internal__.nest.map_structure_up_to", "utility", pair(BIG_SIDE, BIG_SIDE),
           dtypes=("float32", "float64"), call=_map_up_to, reference=_map_up_to_ref, **paper(40, 6)),
    Kernel("tf.numpy_function", "utility", normal(BIG_SIDE, BIG_SIDE), dtypes=(*FLOATS, "int32"),
           setup=_numpy_function_setup, reference=lambda x: x * x + 1, **paper(50, 8)),
    Kernel("tf.compat.v1.distributions.Normal.param_shapes", "distribution", _sample_shape, dtypes=("int32",),
           call=_param_shapes, reference=lambda shape: ({"loc": shape, "scale": shape},) * 2, out_dtype="int32",
           **paper(20, 2), note="from a Python list and from an int32 tensor"),
    Kernel("tf.distribute.InputContext.get_per_replica_batch_size", "utility", nothing(), dtypes=("int64",),
           setup=_per_replica_setup, reference=lambda: [2, 100, True], **paper(40, 6)),
    Kernel("tf.sets.intersection", "utility", _set_rows, dtypes=INTS, call=_intersection,
           reference=_intersection_ref, **paper(50, 9)),
    Kernel("tf.print", "io", normal(VEC, scale=100.0), dtypes=(*FLOATS, "int64"), setup=_print_setup,
           check=_check_print, **paper(100, 6807)),
    Kernel("tf.__internal__.smart_cond.smart_cond", "control", normal(BIG_SIDE, BIG_SIDE, scale=10.0),
           dtypes=(*FLOATS, "int32"), setup=_smart_cond_setup, reference=_smart_cond_ref, **paper(30, 4),
           note="a static predicate (no cond op), and a placeholder predicate fed True, then False"),
    Kernel("tf.experimental.numpy.rad2deg", "elementwise", normal(BIG_SIDE, BIG_SIDE, scale=3.0), dtypes=FLOATS,
           reference=np.rad2deg, **paper(40, 6)),
]
