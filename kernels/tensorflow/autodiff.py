"""TensorFlow autodiff helpers: tf.recompute_grad and TF1's compute_gradient_error."""

import numpy as np

from portability.catalog import FLOATS, Kernel, normal, paper, strict_graph

#: Sums of 64..512 products in the recomputed block's gradients: linalg.py's matmul tolerances.
MATMUL_TOL = {"float16": (2e-2, 2e-3), "bfloat16": (5e-2, 1e-2)}
#: The Jacobian entries are 2 (x - mean) / rows, of order 0.2 to 0.5; the bounds allow the rounding
#: of a central difference, about unit roundoff * |var| / delta: 1e-13, 3e-5, 4e-3 and 3e-2.
_GRAD_BOUND = {"float64": 1e-8, "float32": 1e-3, "float16": 2e-2, "bfloat16": 1e-1}


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


# -- test.compute_gradient_error of nn.moments' variance, as the upstream test -------------------

#: Finite-difference step per dtype: the default 1e-3 for float32/float64; in half precision 1e-3 is
#: about one ulp of x, so the perturbation would be mostly rounding: the step is 1/8 (exact in both
#: formats; the variance is quadratic, so a central difference has no truncation error at any step).
_DELTA = {"float64": 1e-3, "float32": 1e-3, "float16": 0.125, "bfloat16": 0.125}


def _gradient_error_setup(c, x):
    tf = c.fw
    host = x.numpy()

    def step():
        g, sess = strict_graph(c)
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


KERNELS = [
    Kernel("tf.recompute_grad", "autodiff", _recompute_inputs, dtypes=FLOATS, setup=_recompute_setup,
           reference=_recompute_ref, tol=MATMUL_TOL,
           note="a tanh(x @ w) block under GradientTape: output and gradients of its sum"),
    # bfloat16 fails in TF itself: _compute_numeric_jacobian casts a bfloat16 x to float32 and feeds
    # the cast, which lies downstream of x, so y never moves and the numeric Jacobian is all zeros
    # (the error reported is then the largest symbolic entry; a TODO in gradient_checker.py says so).
    Kernel("tf.compat.v1.test.compute_gradient_error", "autodiff", normal((4, 10), (4, 10)), dtypes=FLOATS,
           setup=_gradient_error_setup, check=_check_gradient_error, **paper(80, 63)),
]
