"""TensorFlow optimizers: TF1 and Keras optimizers, the Keras momentum update on sparse gradients, moving
averages and TPU's CrossShardOptimizer.
"""

import numpy as np

from portability.catalog import BIG_SIDE, FLOATS, Keep, Kernel, pair, paper, strict_graph

N = (BIG_SIDE, BIG_SIDE)


def _adadelta_inputs(rng):
    shape = rng.dims(BIG_SIDE, BIG_SIDE)
    return {"x": rng.standard_normal(shape), "grad": rng.standard_normal(shape)}


def _adadelta_setup(c, x, grad):
    tf = c.fw
    g, sess = strict_graph(c)
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


def _sgd_inputs(rng):
    shape = rng.dims(*N)
    return {"x": rng.standard_normal(shape), "grad": rng.standard_normal(shape)}


def _cross_shard_setup(c, x, grad):
    tf = c.fw
    graph = tf.Graph()
    with graph.as_default(), tf.device(c.device):
        v = tf.compat.v1.Variable(x.numpy())
        loss = tf.reduce_sum(v * tf.constant(grad.numpy()))  # d loss / d v = grad
        train = c.fn(tf.compat.v1.train.GradientDescentOptimizer(0.1)).minimize(loss)
        with tf.control_dependencies([train]):
            read = tf.identity(v.read_value())
    # no soft placement: an op without a kernel on the case's device must fail, not move to the host
    sess = tf.compat.v1.Session(graph=graph, config=tf.compat.v1.ConfigProto(allow_soft_placement=False))

    def run():
        sess.run(v.initializer)  # every round is the first step from x
        return sess.run(read)

    return run


def _adam_inputs(rng):
    shape = rng.dims(BIG_SIDE, BIG_SIDE)
    return {"x": rng.standard_normal(shape), "grad": rng.standard_normal(shape)}


def _adam_setup(c, x, grad):
    tf = c.fw
    var = tf.Variable(x)
    opt = c.fn(learning_rate=0.01)
    opt.build([var])
    initial = [v.numpy() for v in opt.variables]

    def step():
        var.assign(x)
        for v, value in zip(opt.variables, initial, strict=True):  # iteration 0, zero moments: every round is step 1
            v.assign(value)
        opt.apply_gradients([(grad, var)])
        return var

    return step


def _adam_ref(x, grad, lr=0.01, b1=0.9, b2=0.999, eps=1e-7):
    m = (1 - b1) * grad
    v = (1 - b2) * grad * grad
    alpha = lr * np.sqrt(1 - b2) / (1 - b1)
    return x - alpha * m / (np.sqrt(v) + eps)


# -- tf.raw_ops.ResourceSparseApplyKerasMomentum ---------------------------------------------------

def _momentum_inputs(nesterov):
    def build(rng):
        rows = rng.pick(64, 16384)
        idx = rng.permutation(rows)[: rows // 4]  # unique rows, unordered: Keras dedups sparse gradients
        return {"var": rng.standard_normal((rows, 64)), "accum": rng.standard_normal((rows, 64)) / 10,
                "grad": rng.standard_normal((idx.size, 64)), "indices": Keep(idx.astype(np.int64)),
                "nesterov": nesterov}

    return build


def _momentum_setup(c, var, accum, grad, indices, nesterov):
    tf = c.fw
    v, a = tf.Variable(var), tf.Variable(accum)
    lr, momentum = tf.constant(0.1, var.dtype), tf.constant(0.9, var.dtype)

    def step():
        v.assign(var)  # every round is the same first step
        a.assign(accum)
        c.fn(var=v.handle, accum=a.handle, lr=lr, grad=grad, indices=indices, momentum=momentum,
             use_nesterov=nesterov)
        return v.read_value(), a.read_value()

    return step


def _momentum_ref(var, accum, grad, indices, nesterov, lr=0.1, momentum=0.9):
    var, accum = var.copy(), accum.copy()
    accum[indices] = accum[indices] * momentum - lr * grad
    var[indices] += accum[indices] * momentum - lr * grad if nesterov else accum[indices]
    return var, accum


KERNELS = [
    Kernel("tf.compat.v1.train.AdadeltaOptimizer", "optimizer", _adadelta_inputs, dtypes=FLOATS,
           setup=_adadelta_setup, reference=_adadelta_ref, **paper(50, 8),
           note="one apply_gradients step from freshly initialised slots (lr=1, rho=0.95, epsilon=1e-2)"),
    Kernel("tf.train.ExponentialMovingAverage", "optimizer", pair(BIG_SIDE, BIG_SIDE), dtypes=FLOATS,
           setup=_ema_setup, reference=lambda x, y: 0.9 * x + 0.1 * y, **paper(80, 52),
           note="one apply() of decay 0.9 with the shadow reset to x and the variable at y"),
    # CrossReplicaSum has kernels only inside a TPU computation (TPUEstimator, tpu.rewrite): there
    # is no single-device form on the CPU or a GPU, so these cases fail, honestly, with no kernel.
    Kernel("tf.compat.v1.tpu.CrossShardOptimizer", "optimizer", _sgd_inputs, setup=_cross_shard_setup,
           reference=lambda x, grad: x - 0.1 * grad, device_only="tpu",
           note="wraps GradientDescentOptimizer(0.1); one minimize step in a TF1 session"),
    Kernel("tf.keras.optimizers.Adam", "optimizer", _adam_inputs, dtypes=FLOATS, setup=_adam_setup,
           reference=_adam_ref, note="one apply_gradients step (Keras defaults, learning_rate=0.01)"),
    Kernel("tf.raw_ops.ResourceSparseApplyKerasMomentum", "optimizer",
           {"momentum": _momentum_inputs(False), "nesterov": _momentum_inputs(True)}, dtypes=FLOATS,
           setup=_momentum_setup, reference=_momentum_ref,
           note="lr 0.1, momentum 0.9 on a quarter of the rows of a (rows, 64) variable; returns var and accum"),
]
