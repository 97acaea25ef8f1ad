"""TensorFlow graphs: TF1 graph mode (graphs, sessions, placeholders, collections, scopes, session creators),
tf.function and TensorSpec tracing, autograph and TFLite conversion.

Graphs are built untimed in ``setup`` where the API is something run in a session, and timed where the API is
graph construction itself (``as_default``, scopes, collections). Computation is pinned to the case's device
with a graph device scope, and sessions keep TF1's strict placement (``strict_session``), so an op with no
kernel there fails instead of moving to the host. Session outputs are NumPy arrays. Functions a user traces
once are traced in ``setup``; the timed call reuses the trace.
"""

import os

import numpy as np

from portability.catalog import (
    BIG_SIDE,
    FLOATS,
    SIDE,
    Kernel,
    linear_layer,
    normal,
    nothing,
    pair,
    paper,
    raises,
    strict_graph,
    strict_session,
    tmpdir,
)

#: Session.run sums rows of 1024 products at both sizes; --size sets the number of rows.
ROWS = (4, 1024)
N = (BIG_SIDE, BIG_SIDE)
#: A fixed small input where the API's effect does not depend on the size (scopes, flags).
FIXED = (64, 64)


# -- Graph.as_default: build a small graph in a fresh tf.Graph and run it ------------------------

def _as_default_setup(c, x):
    tf = c.fw
    host = x.numpy()

    def step():
        g = tf.Graph()
        with c.fn(g), tf.device(c.device):
            y = tf.math.multiply(tf.constant(host), 2)
            inside = tf.compat.v1.get_default_graph() is g and y.graph is g
        outside = tf.compat.v1.get_default_graph() is not g
        with strict_session(c, g) as sess:
            return [inside, outside], sess.run(y)

    return step


# -- Tensor.eval with a feed_dict in a session ------------------------------------------------------

def _eval_setup(c, x):
    tf = c.fw
    host = x.numpy()
    g, sess = strict_graph(c)
    with g.as_default(), tf.device(c.device):
        p = tf.compat.v1.placeholder(x.dtype, shape=host.shape)
        y = tf.math.square(p) + 1
    return lambda: c.fn(y, feed_dict={p: host}, session=sess)


# -- Graph.get_collection: by key, filtered by scope --------------------------------------------

def _get_collection_setup(c):
    tf = c.fw
    g = tf.Graph()
    with g.as_default(), tf.device(c.device):
        for scope in ("encoder", "decoder"):
            with tf.name_scope(scope):
                for i in range(3):
                    v = tf.compat.v1.Variable(tf.zeros([4]), name=f"w{i}")
                    tf.compat.v1.add_to_collection("losses", tf.math.reduce_sum(v, name=f"loss{i}"))
        tf.compat.v1.add_to_collections(["extra", "losses"], tf.constant(1.0, name="shared"))
    keys = tf.compat.v1.GraphKeys

    def step():
        return [
            [t.name for t in c.fn(g, "losses")],
            [t.name for t in c.fn(g, "losses", scope="decoder")],
            [v.name for v in c.fn(g, keys.GLOBAL_VARIABLES, scope="encoder")],
            [t.name for t in c.fn(g, "extra")],
            c.fn(g, "no_such_collection"),
        ]

    return step


def _get_collection_ref():
    losses = [f"{s}/loss{i}:0" for s in ("encoder", "decoder") for i in range(3)]
    return [losses + ["shared:0"], losses[3:], [f"encoder/w{i}:0" for i in range(3)], ["shared:0"], []]


# -- train.get_global_step: None before one exists, then the variable, read in a session ----------

def _global_step_setup(c):
    tf = c.fw
    empty = tf.Graph()
    g, sess = strict_graph(c)
    with g.as_default(), tf.device(c.device):
        created = tf.compat.v1.train.create_global_step()
        init = tf.compat.v1.global_variables_initializer()
    sess.run(init)

    def step():
        found = c.fn(g)
        with g.as_default():
            default = c.fn()
        return [c.fn(empty) is None, found is created, default is created, found.op.name, sess.run(found)]

    return step


# -- is_variable_initialized: a TF1 ref variable before and after its initializer ---------------

def _is_initialized_setup(c, x):
    tf = c.fw
    g = tf.Graph()
    with g.as_default(), tf.device(c.device):
        v = tf.compat.v1.Variable(x.numpy(), use_resource=False)  # a ref variable, as in the upstream test
        flag = c.fn(v)

    def step():
        with strict_session(c, g) as sess:  # a fresh session: the variable starts uninitialised
            before = sess.run(flag)
            sess.run(v.initializer)
            return before, sess.run(flag)

    return step


# -- variable_scope: create under a scope, reuse, read back ------------------------------------

def _variable_scope_setup(c, x):
    tf = c.fw
    host = x.numpy()

    def step():
        g = tf.Graph()
        with g.as_default(), tf.device(c.device):
            with c.fn("layer", use_resource=False):
                w = tf.compat.v1.get_variable("w", initializer=tf.constant(host))
            with c.fn("layer", reuse=True):
                again = tf.compat.v1.get_variable("w", shape=host.shape, dtype=x.dtype)
            with c.fn("head"):
                b = tf.compat.v1.get_variable("b", shape=[3], dtype=x.dtype,
                                              initializer=tf.compat.v1.zeros_initializer())
            init = tf.compat.v1.global_variables_initializer()
        with strict_session(c, g) as sess:
            sess.run(init)
            return [w.name, b.name, again is w], sess.run(w), sess.run(b)

    return step


def _placeholder_setup(c, x):
    tf = c.fw
    host = x.numpy()
    g, sess = strict_graph(c)
    with g.as_default(), tf.device(c.device):
        p = c.fn(x.dtype, shape=[None, host.shape[1]])
        y = tf.math.square(p)
    return lambda: sess.run(y, feed_dict={p: host})


def _session_run_setup(c, x, y):
    tf = c.fw
    g, sess = strict_graph(c)
    with g.as_default(), tf.device(c.device):
        z = tf.math.reduce_sum(tf.constant(x.numpy()) * tf.constant(y.numpy()), axis=1)
    return lambda: c.fn(sess, z)


def _global_init_setup(c, x):
    tf = c.fw
    g, sess = strict_graph(c)
    with g.as_default(), tf.device(c.device):
        v = tf.compat.v1.Variable(x.numpy())
        init = c.fn()
        read = v.read_value() if hasattr(v, "read_value") else tf.identity(v)

    def step():
        sess.run(init)
        return sess.run(read)

    return step


def _accuracy_inputs(rng):
    n = rng.pick(4096, 1 << 20)
    labels = rng.integers(0, 5, n)
    preds = np.where(rng.uniform(size=n) < 0.7, labels, rng.integers(0, 5, n))
    return {"labels": labels.astype(np.float64), "predictions": preds.astype(np.float64)}


def _accuracy_setup(c, labels, predictions):
    tf = c.fw
    g, sess = strict_graph(c)
    with g.as_default(), tf.device(c.device):
        lab = tf.constant(labels.numpy())
        pred = tf.constant(predictions.numpy())
        acc, update = c.fn(lab, pred)
        init = tf.compat.v1.local_variables_initializer()

    def step():
        sess.run(init)  # reset the streaming counters
        sess.run(update)
        return sess.run(acc)

    return step


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


def _worker_session_setup(c, x):
    """A chief session initialises the variable on an in-process server; the worker's session on
    the same server must find it initialised and read it."""
    tf = c.fw
    server = tf.distribute.Server.create_local_server()
    graph = tf.Graph()
    with graph.as_default():
        with tf.device(c.device):
            v = tf.compat.v1.Variable(x.numpy())
            out = v.read_value() * 2.0 + 1.0
        chief = tf.compat.v1.train.ChiefSessionCreator(master=server.target).create_session()

    def run():
        with graph.as_default():
            sess = c.fn(master=server.target).create_session()
        try:
            return sess.run(out)
        finally:
            sess.close()

    run.keep = (server, chief)  # the server and the chief's session live as long as the case
    return run


#: One Dense layer: a batch, a Keras kernel (in, out) and a bias.
_dense_inputs = linear_layer(SIDE, SIDE, SIDE, layout="in_out", bias_scale=1.0)


def _tflite_setup(c, x, w, b):
    tf = c.fw
    module = tf.Module()
    module.w, module.b = tf.Variable(w), tf.Variable(b)

    @tf.function(input_signature=[tf.TensorSpec(x.shape, tf.float32)])
    def forward(t):
        return tf.nn.relu(tf.matmul(t, module.w) + module.b)

    concrete = forward.get_concrete_function()
    host = x.numpy()

    def run():
        model = c.fn([concrete], module).convert()
        interpreter = tf.lite.Interpreter(model_content=model)
        interpreter.allocate_tensors()
        interpreter.set_tensor(interpreter.get_input_details()[0]["index"], host)
        interpreter.invoke()
        return interpreter.get_tensor(interpreter.get_output_details()[0]["index"])

    return run


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
                 spec.shape.as_list()[0] is None, raises((TypeError, ValueError), lambda: affine(wrong))]
        return outs, facts

    return step


def _spec_ref(x):
    return [x * 3 - 1, x[: x.shape[0] // 2] * 3 - 1], [True, True, False, True, True, True]


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


# -- tf.compat.v1.train.ChiefSessionCreator: a session restored from the latest checkpoint ------------

def _chief_setup(c, x):
    tf = c.fw
    g = tf.Graph()
    with g.as_default():
        with tf.device(c.device):
            weights = tf.compat.v1.Variable(tf.zeros(x.shape, x.dtype), name="weights")
            doubled = weights * 2
        global_step = tf.compat.v1.train.get_or_create_global_step()
        saver = tf.compat.v1.train.Saver()
        init = tf.compat.v1.global_variables_initializer()
        assign = [weights.assign(x.numpy()), global_step.assign(7)]

    def step():
        with g.as_default():
            # A fresh session each call; the variables are restored, never initialised to zeros.
            sess = c.fn(checkpoint_dir=directory).create_session()
        try:
            return sess.run([doubled, global_step])
        finally:
            sess.close()

    directory = tmpdir(step, "tf_chief_session_")
    with tf.compat.v1.Session(graph=g) as sess:
        sess.run(init)
        sess.run(assign)
        saver.save(sess, os.path.join(directory, "model.ckpt"), global_step=7)
    return step


KERNELS = [
    Kernel("tf.Graph.as_default", "graph", normal(64, 64), dtypes=("float32",), setup=_as_default_setup,
           reference=lambda x: ([True, True], 2 * x), **paper(100, 814),
           note="build a graph under a fresh Graph's as_default and run it"),
    Kernel("tf.Tensor.eval", "graph", normal(BIG_SIDE, BIG_SIDE), dtypes=FLOATS, setup=_eval_setup,
           reference=lambda x: x * x + 1, **paper(100, 1563), note="eval square(p) + 1 with a feed_dict"),
    Kernel("tf.Graph.get_collection", "graph", nothing(), dtypes=("float32",), setup=_get_collection_setup,
           reference=_get_collection_ref, **paper(100, 344)),
    Kernel("tf.compat.v1.train.get_global_step", "graph", nothing(), dtypes=("int64",), setup=_global_step_setup,
           reference=lambda: [True, True, True, "global_step", np.int64(0)], out_dtype="int64", **paper(80, 43)),
    Kernel("tf.compat.v1.is_variable_initialized", "graph", normal(64, 64), dtypes=FLOATS,
           setup=_is_initialized_setup, reference=lambda x: (False, True), out_dtype="bool", **paper(40, 5)),
    Kernel("tf.compat.v1.variable_scope", "graph", normal(64, 256), dtypes=FLOATS, setup=_variable_scope_setup,
           reference=lambda x: (["layer/w:0", "head/b:0", True], x, np.zeros(3)), **paper(100, 1613)),
    Kernel("tf.compat.v1.placeholder", "graph", normal(BIG_SIDE, BIG_SIDE),
           dtypes=("float32", "float64", "float16", "bfloat16", "int32"), setup=_placeholder_setup,
           reference=np.square, **paper(100, 2567),
           note="feed a placeholder and run square(p)"),
    Kernel("tf.compat.v1.Session.run", "graph", pair(ROWS, 1024),
           dtypes=("float32", "float64", "float16", "bfloat16", "int32", "int64", "complex64"),
           setup=_session_run_setup, reference=lambda x, y: np.sum(x * y, axis=1),
           **paper(100, 4994), note="run reduce_sum(a * b, axis=1) on graph constants"),
    Kernel("tf.compat.v1.global_variables_initializer", "graph", normal(BIG_SIDE, BIG_SIDE, scale=10.0),
           dtypes=(*FLOATS, "int32", "bool"), setup=_global_init_setup, reference=lambda x: x,
           **paper(100, 669), note="run the initializer, then read the variable"),
    Kernel("tf.compat.v1.metrics.accuracy", "graph", _accuracy_inputs, dtypes=("int32", "int64", "float32"),
           setup=_accuracy_setup, reference=lambda labels, predictions: np.mean(labels == predictions),
           tol={"int32": (1e-6, 0.0), "int64": (1e-6, 0.0)}, **paper(80, 61),
           note="reset local variables, run the update op, read the float32 accuracy"),
    Kernel("tf.name_scope", "graph", normal(*FIXED), setup=_name_scope_setup,
           reference=lambda x: (np.maximum(x, 0) * 2, "encoder/layer_1", "encoder/out:0"),
           note="nested scopes eagerly (get_current_name_scope) and an op name in a TF1 graph"),
    Kernel("tf.control_dependencies", "graph", pair(*N), setup=_control_deps_setup,
           reference=lambda x, y: x + y, note="a read that must wait for assign_add, run in a Session"),
    Kernel("tf.autograph.to_graph", "graph", normal(*N, scale=100.0), dtypes=FLOATS, setup=_to_graph_setup,
           reference=_halve_ref, note="converted once; the graph runs a data-dependent while loop and if"),
    Kernel("tf.compat.v1.colocate_with", "graph", normal(*N), setup=_colocate_setup,
           reference=lambda x: (x * 2 + 1, [b"loc:@anchor"])),
    Kernel("tf.compat.v1.train.WorkerSessionCreator", "graph", normal(*N), setup=_worker_session_setup,
           reference=lambda x: x * 2 + 1,
           note="a worker session on a local in-process server, after the chief initialised the variable"),
    Kernel("tf.lite.TFLiteConverter.from_concrete_functions", "graph", _dense_inputs, setup=_tflite_setup,
           reference=lambda x, w, b: np.maximum(x @ w + b, 0),
           note="convert relu(x @ w + b) and run it in the TFLite interpreter (on the host)"),
    Kernel("tf.function", "graph", _function_inputs, dtypes=FLOATS, setup=_function_setup, reference=_function_ref,
           note="a decorated function with a data-dependent if (autograph), called on both branches; one trace"),
    Kernel("tf.TensorSpec", "graph", normal(*N, scale=10.0), dtypes=(*FLOATS, "int32", "int64"), setup=_spec_setup,
           reference=_spec_ref, note="input_signature [None, n] of the case dtype: two batch sizes, one trace"),
    Kernel("tf.compat.v1.name_scope", "graph", nothing(), setup=_v1_name_scope_setup,
           reference=lambda: ["outer/", "outer/c:0", "outer/default_name/", "outer/default_name/Identity:0",
                              "outer_1/Identity:0", "outer/r:0"]),
    Kernel("tf.compat.v1.get_collection_ref", "graph", nothing(), setup=_collection_ref_setup,
           reference=lambda: (["a:0", "b:0"], True, [], [], True)),
    Kernel("tf.compat.v1.train.ChiefSessionCreator", "graph", lambda rng: {"x": rng.standard_normal(rng.dims(*N))},
           dtypes=FLOATS, setup=_chief_setup, reference=lambda x: [2 * x, 7],
           note="create_session() restores weights and global step 7 from checkpoint_dir, then runs 2 * weights"),
]
