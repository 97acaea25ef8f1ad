"""Scopes, control flow, tracing and autodiff helpers drawn in the usage sample: tf.name_scope,
tf.control_dependencies, tf.switch_case, tf.recompute_grad, tf.autograph.to_graph, tf.nest.flatten,
tf.executing_eagerly and friends.

Context managers run a computation inside them and the check looks at their effect (the scope
a name carries, the op a read waits for, the device an op lands on). Functions a user traces once
(a tf.function around switch_case or converted code) are traced in ``setup``; the timed call
reuses the trace.
"""

import numpy as np

from portability.catalog import BIG_SIDE, Kernel, normal, pair

FLOATS = ("float32", "float64", "float16", "bfloat16")
N = (BIG_SIDE, BIG_SIDE)
#: A fixed small input where the API's effect does not depend on the size (scopes, flags).
FIXED = (64, 64)
#: Sums of 64..512 products in the recomputed block's gradients: linalg.py's matmul tolerances.
MATMUL_TOL = {"float16": (2e-2, 2e-3), "bfloat16": (5e-2, 1e-2)}


def _name_scope_setup(c, x):
    tf = c.fw

    def run():
        with c.fn("encoder"), c.fn("layer_1"):
            scope = tf.get_current_name_scope()
            y = tf.nn.relu(x) * 2.0
        graph = tf.Graph()
        with graph.as_default(), c.fn("encoder"):
            op = tf.identity(tf.constant(0.0), name="out")
        return y, scope, op.name

    return run


def _control_deps_setup(c, x, y):
    """TF1 graph: read the variable under a control dependency on assign_add. Without it the read
    would not run the update at all and return x."""
    tf = c.fw
    graph = tf.Graph()
    with graph.as_default(), tf.device(c.device):
        v = tf.compat.v1.Variable(x.numpy())
        reset = v.assign(x.numpy())
        update = v.assign_add(y.numpy())
        with c.fn([update]):
            read = tf.identity(v.read_value())
    # no soft placement: an op without a kernel on the case's device must fail, not move to the host
    sess = tf.compat.v1.Session(graph=graph, config=tf.compat.v1.ConfigProto(allow_soft_placement=False))
    sess.run(v.initializer)

    def run():
        sess.run(reset)
        return sess.run(read)

    return run


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


def _switch_case_setup(c, x):
    tf = c.fw

    @tf.function
    def pick(t, i):
        return c.fn(i, [lambda: t * 2, lambda: tf.square(t), lambda: -t])

    indices = [tf.constant(i) for i in (0, 1, 2, 7)]  # 7 is out of range: the last branch runs
    pick(x, indices[0])

    def run():
        return [pick(x, i) for i in indices] + [c.fn(indices[1], [lambda: x * 2, lambda: tf.square(x)])]

    return run


def _switch_case_ref(x):
    return [x * 2, x * x, -x, -x, x * x]


def _recompute_inputs(rng):
    m, n = rng.dims((64, 512), (64, 512))
    return {"x": rng.standard_normal((m, 256)), "w": rng.standard_normal((256, n)) / 16.0}


def _recompute_setup(c, x, w):
    tf = c.fw

    @c.fn
    def block(a, b):
        return tf.tanh(tf.matmul(a, b))

    def run():
        with tf.GradientTape() as tape:
            tape.watch([x, w])
            y = block(x, w)
            loss = tf.reduce_sum(y)
        gx, gw = tape.gradient(loss, [x, w])
        return y, gx, gw

    return run


def _recompute_ref(x, w):
    y = np.tanh(x @ w)
    d = 1 - y * y
    return y, d @ w.T, x.T @ d


def _halve_until_small(x, tf):
    """Python control flow on tensors, for autograph: a data-dependent while loop and an if."""
    n = tf.constant(0)
    while tf.reduce_max(tf.abs(x)) > 1.0:
        x = x / 2
        n += 1
    if tf.reduce_sum(x) > 0:  # noqa: SIM108 - an if statement, the form autograph turns into tf.cond
        y = x * 3
    else:
        y = -x
    return y, n


def _halve_ref(x):
    n = 0
    while np.max(np.abs(x)) > 1.0:
        x = x / 2
        n += 1
    return (x * 3 if np.sum(x) > 0 else -x), n


def _to_graph_setup(c, x):
    """Convert, then trace with autograph off: a plain ``while tensor`` would fail in the graph."""
    tf = c.fw
    converted = c.fn(_halve_until_small)

    @tf.function(autograph=False)
    def run_graph(t):
        y, n = converted(t, tf)
        return y, tf.cast(n, t.dtype)

    run_graph(x)
    return lambda: run_graph(x)


def _colocate_setup(c, x):
    tf = c.fw

    def run():
        # Eagerly, colocate_with(x) places ops on x's device, over the enclosing host scope.
        with tf.device("/CPU:0"), c.fn(x):
            y = x * 2.0 + 1.0
        graph = tf.Graph()
        with graph.as_default():
            anchor = tf.constant(1.0, name="anchor")
            with c.fn(anchor.op):
                follower = tf.identity(anchor)
        return y, follower.op.colocation_groups()

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


KERNELS = [
    Kernel("tf.name_scope", "graph", normal(*FIXED), setup=_name_scope_setup,
           reference=lambda x: (np.maximum(x, 0) * 2, "encoder/layer_1", "encoder/out:0"),
           note="nested scopes eagerly (get_current_name_scope) and an op name in a TF1 graph"),
    Kernel("tf.control_dependencies", "graph", pair(*N), setup=_control_deps_setup,
           reference=lambda x, y: x + y, note="a read that must wait for assign_add, run in a Session"),
    Kernel("tf.executing_eagerly", "utility", lambda rng: {}, setup=_eager_flag_setup, out_dtype=None,
           reference=lambda: (True, False, False)),
    Kernel("tf.compat.v1.executing_eagerly_outside_functions", "utility", lambda rng: {},
           setup=_eager_flag_setup, out_dtype=None, reference=lambda: (True, True, False),
           note="True inside a tf.function traced from eager code, unlike tf.executing_eagerly"),
    Kernel("tf.switch_case", "control", normal(*N, scale=10.0), dtypes=(*FLOATS, "int32"),
           setup=_switch_case_setup, reference=_switch_case_ref,
           note="a traced switch over 3 branches for indices 0, 1, 2 and out-of-range 7, then one eager call"),
    Kernel("tf.recompute_grad", "autodiff", _recompute_inputs, dtypes=FLOATS, setup=_recompute_setup,
           reference=_recompute_ref, tol=MATMUL_TOL,
           note="a tanh(x @ w) block under GradientTape: output and gradients of its sum"),
    Kernel("tf.autograph.to_graph", "graph", normal(*N, scale=100.0), dtypes=FLOATS, setup=_to_graph_setup,
           reference=_halve_ref, note="converted once; the graph runs a data-dependent while loop and if"),
    Kernel("tf.compat.v1.colocate_with", "graph", normal(*N), setup=_colocate_setup,
           reference=lambda x: (x * 2 + 1, [b"loc:@anchor"])),
    Kernel("tf.tools.docs.doc_controls.do_not_generate_docs", "utility", normal(*FIXED), setup=_docs_setup,
           reference=lambda x: (x * 3, True, "scale"), note="decorates a method, which is then called"),
    Kernel("tf.nest.flatten", "utility", _nest_inputs, call=lambda c, **t: c.fn(_nest_structure(**t)),
           reference=_nest_ref),
]
