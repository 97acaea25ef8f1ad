"""TF1 graph-mode APIs, exercised as TF1 users did: build a graph, then time ``Session.run``.

Graph building and variable initialisation run untimed in ``setup``; the ops are pinned to the
case's device with a graph device scope. Also the stateful TF2 classes tf.Variable and
tf.train.ExponentialMovingAverage. Session outputs are NumPy arrays.
"""

import numpy as np

from portability.catalog import BIG_SIDE, Kernel, normal, pair

FLOATS = ("float32", "float64", "float16", "bfloat16")
#: Session.run sums rows of 1024 products at both sizes; --size sets the number of rows.
ROWS = (4, 1024)


def _graph(c):
    # No soft placement: TF2's default session config would move an op with no kernel on the
    # case's device to the host unseen (session outputs are NumPy arrays, with no device to check).
    g = c.fw.Graph()
    return g, c.fw.compat.v1.Session(graph=g, config=c.fw.compat.v1.ConfigProto(allow_soft_placement=False))


def _placeholder_setup(c, x):
    tf = c.fw
    host = x.numpy()
    g, sess = _graph(c)
    with g.as_default(), tf.device(c.device):
        p = c.fn(x.dtype, shape=[None, host.shape[1]])
        y = tf.math.square(p)
    return lambda: sess.run(y, feed_dict={p: host})


def _session_run_setup(c, x, y):
    tf = c.fw
    g, sess = _graph(c)
    with g.as_default(), tf.device(c.device):
        z = tf.math.reduce_sum(tf.constant(x.numpy()) * tf.constant(y.numpy()), axis=1)
    return lambda: c.fn(sess, z)


def _global_init_setup(c, x):
    tf = c.fw
    g, sess = _graph(c)
    with g.as_default(), tf.device(c.device):
        v = tf.compat.v1.Variable(x.numpy())
        init = c.fn()
        read = v.read_value() if hasattr(v, "read_value") else tf.identity(v)

    def step():
        sess.run(init)
        return sess.run(read)

    return step


def _adadelta_inputs(rng):
    shape = rng.dims(BIG_SIDE, BIG_SIDE)
    return {"x": rng.standard_normal(shape), "grad": rng.standard_normal(shape)}


def _adadelta_setup(c, x, grad):
    tf = c.fw
    g, sess = _graph(c)
    with g.as_default(), tf.device(c.device):
        v = tf.compat.v1.Variable(x.numpy())
        opt = c.fn(learning_rate=1.0, rho=0.95, epsilon=1e-2)
        train = opt.apply_gradients([(tf.constant(grad.numpy()), v)])
        init = tf.compat.v1.global_variables_initializer()
        with tf.control_dependencies([train]):
            read = tf.identity(v.read_value())

    def step():
        sess.run(init)  # fresh variable and accumulators: every round is the first step
        return sess.run(read)

    return step


def _adadelta_ref(x, grad, lr=1.0, rho=0.95, eps=1e-2):
    accum = (1 - rho) * grad * grad
    update = np.sqrt(eps) / np.sqrt(accum + eps) * grad
    return x - lr * update


def _accuracy_inputs(rng):
    n = rng.pick(4096, 1 << 20)
    labels = rng.integers(0, 5, n)
    preds = np.where(rng.uniform(size=n) < 0.7, labels, rng.integers(0, 5, n))
    return {"labels": labels.astype(np.float64), "predictions": preds.astype(np.float64)}


def _accuracy_setup(c, labels, predictions):
    tf = c.fw
    g, sess = _graph(c)
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


def _ema_setup(c, x, y):
    tf = c.fw
    v = tf.Variable(x)
    ema = c.fn(decay=0.9)
    ema.apply([v])  # shadow variable starts at x
    v.assign(y)
    shadow = ema.average(v)

    def step():
        shadow.assign(x)
        ema.apply([v])
        return shadow

    return step


KERNELS = [
    Kernel("tf.compat.v1.placeholder", "graph", normal(BIG_SIDE, BIG_SIDE),
           dtypes=("float32", "float64", "float16", "bfloat16", "int32"), setup=_placeholder_setup,
           reference=np.square, tags=("paper",), decile=100, frequency=2567,
           note="feed a placeholder and run square(p)"),
    Kernel("tf.compat.v1.Session.run", "graph", pair(ROWS, 1024),
           dtypes=("float32", "float64", "float16", "bfloat16", "int32", "int64", "complex64"),
           setup=_session_run_setup, reference=lambda x, y: np.sum(x * y, axis=1),
           tags=("paper",), decile=100, frequency=4994, note="run reduce_sum(a * b, axis=1) on graph constants"),
    Kernel("tf.compat.v1.global_variables_initializer", "graph", normal(BIG_SIDE, BIG_SIDE, scale=10.0),
           dtypes=(*FLOATS, "int32", "bool"), setup=_global_init_setup, reference=lambda x: x,
           tags=("paper",), decile=100, frequency=669, note="run the initializer, then read the variable"),
    Kernel("tf.compat.v1.train.AdadeltaOptimizer", "optimizer", _adadelta_inputs, dtypes=FLOATS,
           setup=_adadelta_setup, reference=_adadelta_ref, tags=("paper",), decile=50, frequency=8,
           note="one apply_gradients step from freshly initialised slots (lr=1, rho=0.95, epsilon=1e-2)"),
    Kernel("tf.compat.v1.metrics.accuracy", "graph", _accuracy_inputs, dtypes=("int32", "int64", "float32"),
           setup=_accuracy_setup, reference=lambda labels, predictions: np.mean(labels == predictions),
           tol={"int32": (1e-6, 0.0), "int64": (1e-6, 0.0)}, tags=("paper",), decile=80, frequency=61,
           note="reset local variables, run the update op, read the float32 accuracy"),
    Kernel("tf.Variable", "creation", normal(BIG_SIDE, BIG_SIDE, scale=10.0), dtypes=(*FLOATS, "int32", "bool"),
           setup=lambda c, x: lambda: c.fn(x), reference=lambda x: x, tags=("paper",), decile=100, frequency=1875),
    Kernel("tf.train.ExponentialMovingAverage", "optimizer", pair(BIG_SIDE, BIG_SIDE), dtypes=FLOATS,
           setup=_ema_setup, reference=lambda x, y: 0.9 * x + 0.1 * y, tags=("paper",), decile=80, frequency=52,
           note="one apply() of decay 0.9 with the shadow reset to x and the variable at y"),
]
