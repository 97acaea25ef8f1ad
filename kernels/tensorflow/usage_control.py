"""Tracing, control flow, specs and shapes, structure checks, debugging assertions, logging and TF1
graph scopes drawn in the usage sample: tf.function, tf.cond, tf.TensorSpec, tf.TensorShape,
tf.is_tensor, tf.nest.assert_same_structure, tf.tuple, tf.debugging.*, tf.get_logger,
tf.compat.v1.name_scope and tf.compat.v1.get_collection_ref.

Functions a user traces once are traced in ``setup``; the timed call reuses the trace. Assertions
report, per input, whether they raised: a holding assertion that raises and a violated one that
passes both fail the check. Graph-building APIs (scopes, collections) build a fresh graph per call.
"""

import collections
import logging
import re

import numpy as np

from portability.catalog import BIG_SIDE, VEC, Kernel, normal, nothing, pair

FLOATS = ("float32", "float64", "float16", "bfloat16")
N = (BIG_SIDE, BIG_SIDE)


def _raises(fn, *errors):
    try:
        fn()
    except errors:
        return True
    return False


# -- tf.function: a decorated function with autograph control flow, traced once ----------------------

def _function_setup(c, x, y):
    tf = c.fw
    traces = []

    @c.fn
    def gated(a, b):
        traces.append(1)  # Python side effects run once per trace, not per call
        z = a * b if tf.reduce_sum(a) > 0 else a - b  # autograph turns this into a tf.cond
        return tf.tanh(z) + 1

    negated = -x
    gated(x, y)
    return lambda: (gated(x, y), gated(negated, y), len(traces), gated.experimental_get_tracing_count())


def _function_inputs(rng):
    shape = rng.dims(*N)
    return {"x": rng.standard_normal(shape) + 0.5, "y": rng.standard_normal(shape)}  # sum(x) clearly > 0


def _function_ref(x, y):
    return np.tanh(x * y) + 1, np.tanh(-x - y) + 1, 1, 1


# -- tf.cond, eagerly and traced ------------------------------------------------------------------

def _cond_setup(c, x):
    tf = c.fw

    @tf.function
    def traced(p, v):
        return c.fn(p, lambda: v * 2, lambda: v + 1)

    yes, no = tf.constant(True), tf.constant(False)
    traced(yes, x)
    return lambda: [c.fn(yes, lambda: x * 2, lambda: x + 1), c.fn(no, lambda: x * 2, lambda: x + 1),
                    traced(yes, x), traced(no, x)]


# -- tf.TensorSpec as a tf.function input signature ----------------------------------------------------

def _spec_setup(c, x):
    tf = c.fw
    spec = c.fn([None, x.shape[1]], x.dtype)

    @tf.function(input_signature=[spec])
    def affine(v):
        return v * 3 - 1

    half = x[: x.shape[0] // 2]
    wrong = tf.zeros(x.shape, tf.uint8)
    affine(x)

    def step():
        outs = [affine(x), affine(half)]  # a shorter batch matches the signature: no new trace
        facts = [affine.experimental_get_tracing_count() == 1, spec.is_compatible_with(x),
                 spec.is_compatible_with(x[0]), c.fn.from_tensor(x) == c.fn(x.shape, x.dtype),
                 spec.shape.as_list()[0] is None, _raises(lambda: affine(wrong), TypeError, ValueError)]
        return outs, facts

    return step


def _spec_ref(x):
    return [x * 3 - 1, x[: x.shape[0] // 2] * 3 - 1], [True, True, False, True, True, True]


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
            _raises(lambda: partial.merge_with(shape([n, m + 1])), ValueError)]


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


# -- tf.tuple: fetching one output runs every input (TF1 graph) --------------------------------------

def _tuple_setup(c, x, y):
    tf = c.fw
    g = tf.Graph()
    with g.as_default(), tf.device(c.device):
        v = tf.compat.v1.Variable(tf.zeros(x.shape, x.dtype))
        bumped = v.assign_add(tf.constant(x.numpy()))
        doubled = tf.constant(y.numpy()) * 2
        _, gated = c.fn([bumped, doubled])
        read = v.read_value()
    sess = tf.compat.v1.Session(graph=g)

    def step():
        sess.run(v.initializer)
        out = sess.run(gated)  # only the second output is fetched: the assign_add still runs
        return c.fn([x, y]), out, sess.run(read)

    return step


# -- tf.debugging assertions ---------------------------------------------------------------------------

def _ints(rng):
    """Integer values of sd 10 (|x| < 64: x + 1 differs from x in every dtype)."""
    return {"x": np.clip(np.round(rng.standard_normal(rng.pick(*VEC)) * 10), -60, 60)}


def _assert_equal_setup(c, x):
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

    return lambda: [_raises(lambda: c.fn(x, copy), tf.errors.InvalidArgumentError), first_difference(),
                    _raises(lambda: guarded(x, other), tf.errors.InvalidArgumentError), guarded(x, copy)]


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

    return lambda: [safe_sqrt(positive), _raises(lambda: safe_sqrt(negative), tf.errors.InvalidArgumentError),
                    eager_message(), c.fn(tf.reduce_all(positive >= 0), [positive]) is None]


def _ordered(rng):
    y = np.clip(np.round(rng.standard_normal(rng.pick(*VEC)) * 10), -60, 60)
    return {"x": y + rng.integers(1, 4, y.size), "y": y}


def _assert_greater_setup(c, x, y):
    tf = c.fw
    k = int(x.shape[0]) // 2
    tie = tf.tensor_scatter_nd_update(x, [[k]], y[k:k + 1])  # tie[k] == y[k]: not greater
    empty = tf.zeros([0], x.dtype)
    err = tf.errors.InvalidArgumentError
    return lambda: [_raises(lambda: c.fn(x, y), err), _raises(lambda: c.fn(tie, y), err),
                    _raises(lambda: c.fn(empty, empty), err)]


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
    return lambda: [_raises(lambda: c.fn(magnitudes), err), _raises(lambda: c.fn(one_negative), err),
                    guarded(magnitudes), _raises(lambda: guarded(one_negative), err)]


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


# -- tf.compat.v1.name_scope in a TF1 graph ------------------------------------------------------------

def _v1_name_scope_setup(c):
    tf = c.fw

    def step():
        g = tf.Graph()
        with g.as_default(), tf.device(c.device):
            with c.fn("outer") as outer:
                const = tf.constant(1.0, name="c")
                with c.fn(None, "default_name", [const]) as inner:  # values: scope from the default name
                    ident = tf.identity(const)
            with c.fn("outer"):  # a second scope of the same name is made unique
                again = tf.identity(const)
            with c.fn("outer/"):  # a trailing slash re-enters the first scope as it is
                reentered = tf.identity(const, name="r")
        return [outer, const.name, inner, ident.name, again.name, reentered.name]

    return step


# -- tf.compat.v1.get_collection_ref: the collection list itself, shared with the graph ---------------

def _collection_ref_setup(c):
    tf = c.fw

    def step():
        g = tf.Graph()
        with g.as_default():
            a = tf.constant(1.0, name="a")
            b = tf.constant(2.0, name="b")
            tf.compat.v1.add_to_collection("losses", a)
            ref = c.fn("losses")
            ref.append(b)  # mutating the reference changes the graph's collection
            cleared = c.fn("summaries")
            cleared.append(a)
            del cleared[:]
            fresh = c.fn("new_collection")  # an empty list, now a collection of the graph
            return ([t.name for t in tf.compat.v1.get_collection("losses")], ref is c.fn("losses"),
                    tf.compat.v1.get_collection("summaries"), fresh, "new_collection" in g.get_all_collection_keys())

    return step


KERNELS = [
    Kernel("tf.function", "graph", _function_inputs, dtypes=FLOATS, setup=_function_setup, reference=_function_ref,
           note="a decorated function with a data-dependent if (autograph), called on both branches; one trace"),
    Kernel("tf.cond", "control", normal(*N, scale=10.0), dtypes=(*FLOATS, "int32", "int64"), setup=_cond_setup,
           reference=lambda x: [x * 2, x + 1, x * 2, x + 1], note="eager and traced, with a tensor predicate"),
    Kernel("tf.TensorSpec", "graph", normal(*N, scale=10.0), dtypes=(*FLOATS, "int32", "int64"), setup=_spec_setup,
           reference=_spec_ref, note="input_signature [None, n] of the case dtype: two batch sizes, one trace"),
    Kernel("tf.TensorShape", "utility", _odd_matrix, call=_tensor_shape_call, reference=_tensor_shape_ref,
           note="partial shapes: merge, compatibility, concatenation, unknown rank"),
    Kernel("tf.is_tensor", "utility", normal(8, 4), setup=_is_tensor_setup, out_dtype=None,
           reference=lambda x: [True] * 5 + [False] * 5 + [True, False],
           note="Tensor, Variable, SparseTensor, RaggedTensor, strings; NumPy, Python, lists, specs, shapes"),
    Kernel("tf.nest.assert_same_structure", "utility", normal(4), call=_same_structure_call,
           reference=lambda x: ["ok", "ValueError", "TypeError", "ok", "TypeError", "ValueError", "ValueError"]),
    Kernel("tf.tuple", "control", pair(*N), dtypes=(*FLOATS, "int32", "int64"), setup=_tuple_setup,
           reference=lambda x, y: ([x, y], 2 * y, x),
           note="eagerly; and in a Session, fetching one output of tf.tuple runs the other input's assign_add"),
    Kernel("tf.debugging.assert_equal", "utility", _ints, dtypes=(*FLOATS, "int32", "int64"),
           setup=_assert_equal_setup, reference=_assert_equal_ref,
           note="equal, one element changed (the message names its index) and inside a tf.function"),
    Kernel("tf.debugging.Assert", "utility", normal(VEC), dtypes=FLOATS, setup=_assert_op_setup,
           reference=lambda x: [np.sqrt(np.abs(x)), True, True, True],
           note="guards a sqrt in a tf.function; the failing message carries the data"),
    Kernel("tf.debugging.assert_greater", "utility", _ordered, dtypes=(*FLOATS, "int32", "int64"),
           setup=_assert_greater_setup, reference=lambda x, y: [False, True, False],
           note="raises on x > y (holds), x > y with one tie, empty > empty"),
    Kernel("tf.debugging.assert_non_negative", "utility", _ints, dtypes=(*FLOATS, "int32", "int64"),
           setup=_assert_non_negative_setup, reference=lambda x: [False, True, np.abs(x), True],
           note="|x| with zeros (holds), one negative element, both inside a tf.function"),
    Kernel("tf.get_logger", "utility", nothing(), setup=_logger_setup,
           reference=lambda: [True, "tensorflow", ["ERROR:user error", "ERROR:tf error", "INFO:tf info"]]),
    Kernel("tf.compat.v1.name_scope", "graph", nothing(), setup=_v1_name_scope_setup,
           reference=lambda: ["outer/", "outer/c:0", "outer/default_name/", "outer/default_name/Identity:0",
                              "outer_1/Identity:0", "outer/r:0"]),
    Kernel("tf.compat.v1.get_collection_ref", "graph", nothing(), setup=_collection_ref_setup,
           reference=lambda: (["a:0", "b:0"], True, [], [], True)),
]
