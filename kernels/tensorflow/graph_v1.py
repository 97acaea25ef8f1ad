"""TF1 graph mode from the paper's sample: graphs, Tensor.eval, collections, global step, variable
scopes, queue runners, readers, session hooks, gradient checking and raw_rnn.

Graphs are built untimed in ``setup`` where the API is something run in a session, and timed where
the API is graph construction itself (``as_default``, ``variable_scope``). Computation is pinned
to the case's device with a graph device scope, and sessions keep TF1's strict placement (not TF2's
soft default), so an op with no kernel there fails instead of moving to the host. Queues and readers
are host resources in TF1 (they have no accelerator kernels) and are placed on the host, as TF1
input pipelines placed them. Session outputs are NumPy arrays.
"""

import os
import shutil
import tempfile
import weakref

import numpy as np

from portability.catalog import BIG_SIDE, Keep, Kernel, normal, nothing, paper

FLOATS = ("float32", "float64", "float16", "bfloat16")
HOST = "/CPU:0"


def _session(c, g):
    """A session with TF1's strict placement. TF2's default session config allows soft placement,
    which would move an op with no kernel on the case's device to the host unseen (session outputs
    are NumPy arrays, with no device to check); the paper also ran with soft placement off."""
    return c.fw.compat.v1.Session(graph=g, config=_strict(c.fw))


def _strict(tf):
    return tf.compat.v1.ConfigProto(allow_soft_placement=False)


def _graph(c):
    g = c.fw.Graph()
    return g, _session(c, g)


def _tmpdir(owner, prefix):
    """A fresh directory, removed when ``owner`` (the timed callable) is collected."""
    path = tempfile.mkdtemp(prefix=prefix)
    weakref.finalize(owner, shutil.rmtree, path, ignore_errors=True)
    return path


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
        with _session(c, g) as sess:
            return [inside, outside], sess.run(y)

    return step


# -- Tensor.eval with a feed_dict in a session ------------------------------------------------------

def _eval_setup(c, x):
    tf = c.fw
    host = x.numpy()
    g, sess = _graph(c)
    with g.as_default(), tf.device(c.device):
        p = tf.compat.v1.placeholder(x.dtype, shape=host.shape)
        y = tf.math.square(p) + 1
    return lambda: c.fn(y, feed_dict={p: host}, session=sess)


# -- Tensor.get_shape on static, partial, unknown, scalar and set_shape tensors ------------------

def _get_shape_setup(c, x):
    tf = c.fw
    g = tf.Graph()
    with g.as_default(), tf.device(c.device):
        full = tf.constant(x.numpy())
        partial = tf.compat.v1.placeholder(x.dtype, shape=[None, x.shape[1]])
        unknown = tf.compat.v1.placeholder(x.dtype)
        scalar = tf.math.reduce_sum(full)
        narrowed = tf.compat.v1.placeholder(x.dtype, shape=[None, None])
        narrowed.set_shape(x.shape)
    tensors = (full, partial, unknown, scalar, narrowed, x)  # the last one eager
    return lambda: [str(c.fn(t)) for t in tensors]


def _get_shape_ref(x):
    rows, cols = x.shape
    full = f"({rows}, {cols})"
    return [full, f"(None, {cols})", "<unknown>", "()", full, full]


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
    g, sess = _graph(c)
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
        with _session(c, g) as sess:  # a fresh session: the variable starts uninitialised
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
        with _session(c, g) as sess:
            sess.run(init)
            return [w.name, b.name, again is w], sess.run(w), sess.run(b)

    return step


# -- train.QueueRunner: a thread fills a FIFOQueue, the session dequeues a batch ------------------

def _queue_runner_setup(c, x):
    tf = c.fw
    host = x.numpy()
    rows = host.shape[0]
    g = tf.Graph()
    with g.as_default():
        with tf.device(c.device):
            data = tf.identity(tf.constant(host))
        with tf.device(HOST):
            queue = tf.queue.FIFOQueue(capacity=rows, dtypes=[x.dtype], shapes=[host.shape[1:]])
            enqueue = queue.enqueue_many([data])
            batch = queue.dequeue_many(rows)
        with tf.device(c.device):
            out = tf.identity(batch)
        runner = c.fn(queue, [enqueue])

    def step():
        with _session(c, g) as sess:  # the runner closes the queue when stopped
            coord = tf.compat.v1.train.Coordinator()
            threads = runner.create_threads(sess, coord=coord, start=True)
            got = sess.run(out)
            coord.request_stop()
            coord.join(threads)
        return got

    return step


# -- ReaderBase.restore_state: IdentityReader state round trip, as the upstream test ------------

def _restore_state_setup(c):
    tf = c.fw
    g, sess = _graph(c)
    with g.as_default(), tf.device(HOST):
        reader = tf.compat.v1.IdentityReader()
        queue = tf.queue.FIFOQueue(8, [tf.string], shapes=[()])
        first = queue.enqueue_many([[b"X", b"Y", b"Z"]])
        again = queue.enqueue_many([[b"Y", b"Z"]])
        key, value = reader.read(queue)
        produced = reader.num_records_produced()
        state = reader.serialize_state()
        saved = tf.compat.v1.placeholder(tf.string, shape=[])
        restore = c.fn(reader, saved)
        reset = reader.reset()

    def step():
        sess.run(reset)
        sess.run(first)
        out = [sess.run([key, value]), sess.run(produced)]
        snapshot = sess.run(state)
        out += [sess.run(key), sess.run(key), sess.run(produced)]
        sess.run(again)
        sess.run(restore, {saved: snapshot})
        out += [sess.run(produced), sess.run(key), sess.run(key), sess.run(produced)]
        return out

    return step


# -- train.LoggingTensorHook in a MonitoredSession ------------------------------------------------

def _logging_hook_setup(c, x):
    tf = c.fw
    host = x.numpy()
    g = tf.Graph()
    with g.as_default(), tf.device(c.device):
        global_step = tf.compat.v1.train.create_global_step()
        y = tf.math.multiply(tf.constant(host), 2)
        train = tf.compat.v1.assign_add(global_step, 1)
    logged = []

    def formatter(values):
        logged.append(values["y"])
        return f"logged y, record {len(logged)}"

    def step():
        logged.clear()
        with g.as_default():
            hook = c.fn({"y": y}, every_n_iter=2, formatter=formatter)
            creator = tf.compat.v1.train.ChiefSessionCreator(config=_strict(tf))
            with tf.compat.v1.train.MonitoredSession(creator, hooks=[hook]) as sess:
                for _ in range(5):
                    sess.run(train)
        return len(logged), np.stack(logged)

    return step


# -- train.CheckpointSaverHook: save_steps=2 over 5 steps, with a listener ----------------------

def _checkpoint_hook_setup(c, x):
    tf = c.fw
    host = x.numpy()
    g = tf.Graph()
    with g.as_default(), tf.device(c.device):
        global_step = tf.compat.v1.train.create_global_step()
        # Fed at initialisation, not a graph constant: the hook writes the graph to disk as text.
        initial = tf.compat.v1.placeholder(x.dtype, shape=host.shape)
        tf.compat.v1.Variable(initial, name="v")
        train = tf.compat.v1.assign_add(global_step, 1)
    saved = []

    class Listener(tf.compat.v1.train.CheckpointSaverListener):
        def after_save(self, session, global_step_value):
            saved.append(int(global_step_value))

    def step():
        saved.clear()
        with g.as_default():
            hook = c.fn(directory, save_steps=2, listeners=[Listener()])
            scaffold = tf.compat.v1.train.Scaffold(init_feed_dict={initial: host})
            creator = tf.compat.v1.train.ChiefSessionCreator(scaffold=scaffold, config=_strict(tf))
            with tf.compat.v1.train.MonitoredSession(creator, hooks=[hook]) as sess:  # initialises: step 0
                for _ in range(5):
                    sess.run(train)
        return [directory, *saved]

    directory = _tmpdir(step, "tf_checkpoint_hook_")
    return step


def _check_checkpoint_hook(out, x):
    import tensorflow as tf

    directory, *saved = out
    assert saved == [0, 2, 4, 5], f"listener saw saves at steps {saved}, expected [0, 2, 4, 5]"
    state = tf.train.get_checkpoint_state(directory)
    assert state is not None, f"no checkpoint state in {directory}: {os.listdir(directory)}"
    steps = [int(p.rsplit("-", 1)[1]) for p in state.all_model_checkpoint_paths]
    assert steps == [0, 2, 4, 5], f"checkpoints kept for steps {steps}"
    latest = state.model_checkpoint_path
    assert tf.train.load_variable(latest, "global_step") == 5, "latest checkpoint's global_step is not 5"
    restored = np.asarray(tf.train.load_variable(latest, "v"))
    assert restored.shape == x.shape, f"restored v has shape {restored.shape}, saved {x.shape}"
    bad = int(np.sum(restored.astype(np.float64) != x))
    assert bad == 0, f"{bad} of {x.size} restored values differ from the saved ones"


# -- test.compute_gradient_error of nn.moments' variance, as the upstream test -------------------

#: Finite-difference step per dtype: the default 1e-3 for float32/float64; in half precision 1e-3 is
#: about one ulp of x, so the perturbation would be mostly rounding: the step is 1/8 (exact in both
#: formats; the variance is quadratic, so a central difference has no truncation error at any step).
_DELTA = {"float64": 1e-3, "float32": 1e-3, "float16": 0.125, "bfloat16": 0.125}
#: The Jacobian entries are 2 (x - mean) / rows, of order 0.2 to 0.5; the bounds allow the rounding
#: of a central difference, about unit roundoff * |var| / delta: 1e-13, 3e-5, 4e-3 and 3e-2.
_GRAD_BOUND = {"float64": 1e-8, "float32": 1e-3, "float16": 2e-2, "bfloat16": 1e-1}


def _gradient_error_setup(c, x):
    tf = c.fw
    host = x.numpy()

    def step():
        g, sess = _graph(c)
        with g.as_default(), tf.device(c.device):
            p = tf.constant(host)
            _, variance = tf.nn.moments(p, axes=[0])
        with g.as_default(), sess.as_default():
            err = c.fn(p, list(host.shape), variance, [host.shape[1]], x_init_value=host, delta=_DELTA[c.dtype])
        sess.close()
        return float(err), c.dtype

    return step


def _check_gradient_error(out, x):
    err, dtype = out
    assert np.isfinite(err), f"gradient error is {err}"
    assert err <= _GRAD_BOUND[dtype], f"max |numeric - symbolic| Jacobian entry {err:.3g} > {_GRAD_BOUND[dtype]:g}"


# -- nn.raw_rnn: a tanh cell over variable-length sequences ----------------------------------------

def _rnn_inputs(rng):
    t, b, d, h = rng.dims((8, 16), (4, 64), (16, 256), (16, 256))
    return {
        "inputs": rng.standard_normal((t, b, d)),
        "w": rng.standard_normal((d, h)) / np.sqrt(d),
        "u": rng.standard_normal((h, h)) / np.sqrt(h),
        "lengths": Keep(rng.integers(1, t + 1, b).astype(np.int32)),
    }


def _raw_rnn_setup(c, inputs, w, u, lengths):
    tf = c.fw
    steps, batch, _ = inputs.shape
    hidden = w.shape[1]
    dtype = inputs.dtype

    # tf.compat.v1.nn.rnn_cell.LSTMCell (the upstream test's cell) is not available with Keras 3,
    # so the cell is a minimal object with the RNNCell interface raw_rnn asserts.
    class TanhCell:
        output_size = hidden
        state_size = hidden

        def zero_state(self, n, dt):
            return tf.zeros([n, hidden], dt)

        def __call__(self, x_t, h):
            h = tf.math.tanh(tf.linalg.matmul(x_t, w_t) + tf.linalg.matmul(h, u_t))
            return h, h

    g, sess = _graph(c)
    with g.as_default(), tf.device(c.device):
        x_all = tf.constant(inputs.numpy())
        w_t, u_t = tf.constant(w.numpy()), tf.constant(u.numpy())
        seq_len = tf.constant(lengths.numpy())
        inputs_ta = tf.TensorArray(dtype, size=steps).unstack(x_all)
        cell = TanhCell()

        def loop_fn(time, cell_output, cell_state, loop_state):
            emit = cell_output  # None at time 0: raw_rnn then takes the emit structure from output_size
            state = cell.zero_state(batch, dtype) if cell_output is None else cell_state
            finished = time >= seq_len
            next_input = tf.cond(tf.math.reduce_all(finished), lambda: tf.zeros([batch, inputs.shape[2]], dtype),
                                 lambda: inputs_ta.read(time))
            return finished, next_input, state, emit, None

        outputs_ta, final_state, _ = c.fn(cell, loop_fn)
        outputs = outputs_ta.stack()
    return lambda: sess.run([outputs, final_state])


def _raw_rnn_ref(inputs, w, u, lengths):
    steps, batch, _ = inputs.shape
    h = np.zeros((batch, w.shape[1]))
    outs = np.zeros((steps, batch, w.shape[1]))
    for t in range(steps):
        live = (t < lengths)[:, None]
        new = np.tanh(inputs[t] @ w + h @ u)
        outs[t] = np.where(live, new, 0.0)  # finished sequences emit zeros and keep their state
        h = np.where(live, new, h)
    return [outs[: lengths.max()], h]


KERNELS = [
    Kernel("tf.Graph.as_default", "graph", normal(64, 64), dtypes=("float32",), setup=_as_default_setup,
           reference=lambda x: ([True, True], 2 * x), **paper(100, 814),
           note="build a graph under a fresh Graph's as_default and run it"),
    Kernel("tf.Tensor.eval", "graph", normal(BIG_SIDE, BIG_SIDE), dtypes=FLOATS, setup=_eval_setup,
           reference=lambda x: x * x + 1, **paper(100, 1563), note="eval square(p) + 1 with a feed_dict"),
    Kernel("tf.Tensor.get_shape", "shape", normal(BIG_SIDE, 64), dtypes=("float32",), setup=_get_shape_setup,
           reference=_get_shape_ref, **paper(100, 1750)),
    Kernel("tf.Graph.get_collection", "graph", nothing(), dtypes=("float32",), setup=_get_collection_setup,
           reference=_get_collection_ref, **paper(100, 344)),
    Kernel("tf.compat.v1.train.get_global_step", "graph", nothing(), dtypes=("int64",), setup=_global_step_setup,
           reference=lambda: [True, True, True, "global_step", np.int64(0)], out_dtype="int64", **paper(80, 43)),
    Kernel("tf.compat.v1.is_variable_initialized", "graph", normal(64, 64), dtypes=FLOATS,
           setup=_is_initialized_setup, reference=lambda x: (False, True), out_dtype="bool", **paper(40, 5)),
    Kernel("tf.compat.v1.variable_scope", "graph", normal(64, 256), dtypes=FLOATS, setup=_variable_scope_setup,
           reference=lambda x: (["layer/w:0", "head/b:0", True], x, np.zeros(3)), **paper(100, 1613)),
    Kernel("tf.compat.v1.train.QueueRunner", "io", normal((64, 4096), 256), dtypes=(*FLOATS, "int32"),
           setup=_queue_runner_setup, reference=lambda x: x, **paper(70, 21),
           note="one enqueue thread refills the queue; one dequeue_many of every row, in order"),
    Kernel("tf.compat.v1.ReaderBase.restore_state", "io", nothing(), dtypes=("int64",),
           setup=_restore_state_setup, out_dtype=None,
           reference=lambda: [[b"X", b"X"], 1, b"Y", b"Z", 3, 1, b"Y", b"Z", 3], **paper(60, 17)),
    Kernel("tf.compat.v1.train.LoggingTensorHook", "utility", normal(BIG_SIDE, BIG_SIDE),
           dtypes=(*FLOATS, "int32"), setup=_logging_hook_setup,
           reference=lambda x: (3, np.stack([2 * x] * 3)), **paper(50, 8),
           note="every_n_iter=2 over 5 steps logs at iterations 0, 2 and 4"),
    Kernel("tf.compat.v1.train.CheckpointSaverHook", "io", normal(BIG_SIDE, BIG_SIDE), dtypes=FLOATS,
           setup=_checkpoint_hook_setup, check=_check_checkpoint_hook, out_dtype=None, **paper(30, 4),
           note="save_steps=2 over 5 steps saves at 0, 2, 4 and (at the end) 5; the last checkpoint restores v"),
    # bfloat16 fails in TF itself: _compute_numeric_jacobian casts a bfloat16 x to float32 and feeds
    # the cast, which lies downstream of x, so y never moves and the numeric Jacobian is all zeros
    # (the error reported is then the largest symbolic entry; a TODO in gradient_checker.py says so).
    Kernel("tf.compat.v1.test.compute_gradient_error", "autodiff", normal((4, 10), (4, 10)), dtypes=FLOATS,
           setup=_gradient_error_setup, check=_check_gradient_error, out_dtype=None, **paper(80, 63)),
    Kernel("tf.compat.v1.nn.raw_rnn", "nn", _rnn_inputs, dtypes=FLOATS, setup=_raw_rnn_setup,
           reference=_raw_rnn_ref, **paper(20, 2)),
]
