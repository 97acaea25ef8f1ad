"""JAX automatic differentiation: grad, vjp, remat, stop_gradient and custom JVP rules.

Functions that users define once are defined once here too (in ``setup``), so a timed call reuses JAX's trace
and compilation caches as a user's repeated call would.
"""

import numpy as np

from portability.catalog import BIG_SIDE, FLOATS, Kernel, normal, paper

SHAPE = ((64, 1024), 1024)  # 64x1024 at small, 1M elements at medium
#: Rows of 1024 at every size (only their number grows): row-wise work keeps its length.
ROWS = ((64, 1024), 1024)


def _f(np_or_jnp, x):
    return np_or_jnp.sin(x) * x + 1.0


def _df(x):
    return np.cos(x) * x + np.sin(x)


def _vjp(c, x):
    y, pullback = c.fn(lambda v: _f(c.fw.numpy, v), x)
    return y, pullback(c.fw.numpy.full_like(y, 2.0))


def _grad(c, x):
    return c.fn(lambda v: c.fw.numpy.sum(_f(c.fw.numpy, v)))(x)


def _remat_setup(c, x):
    jnp = c.fw.numpy
    # As in haiku's tests: the gradient of a rematerialised function (its activations recomputed
    # in the backward pass, not stored).
    g = c.fw.jit(c.fw.grad(c.fn(lambda v: jnp.sum(jnp.tanh(jnp.sin(v) * v)))))
    return lambda: g(x)


def _remat_ref(x):
    return (1 - np.tanh(np.sin(x) * x) ** 2) * (np.cos(x) * x + np.sin(x))


def _stop_gradient(c, x):
    # d/dv sum(v * sg(v)**2) = sg(v)**2 = x**2 (3 x**2 if the gradient leaked through)
    return c.fw.grad(lambda v: c.fw.numpy.sum(v * c.fn(v) ** 2))(x)


def _defjvp_setup(c, x, y):
    jnp = c.fw.numpy
    @c.fw.custom_jvp
    def quantize(v):
        return jnp.round(v)

    def straight_through(primals, tangents):
        # The corpus's use: a straight-through estimator. Rounding's own derivative is 0 almost everywhere.
        (v,), (dv,) = primals, tangents
        return jnp.round(v), dv

    c.fn(quantize, straight_through)  # quantize.defjvp(straight_through)
    jvp = c.fw.jit(lambda v, dv: c.fw.jvp(quantize, (v,), (dv,)))
    grad = c.fw.jit(c.fw.grad(lambda v, g: jnp.sum(quantize(v) * g)))

    def run():
        primal, tangent = jvp(x, y)
        return primal, tangent, grad(x, y)

    return run


def _scaled_pair(rng):
    dims = rng.dims(BIG_SIDE, BIG_SIDE)
    return {"x": rng.standard_normal(dims) * 10.0, "y": rng.standard_normal(dims)}


KERNELS = [
    Kernel("jax.vjp", "autodiff", normal(*SHAPE), dtypes=FLOATS, call=_vjp,
           reference=lambda x: (_f(np, x), (2.0 * _df(x),)), **paper(60, 9)),
    Kernel("jax.grad", "autodiff", normal(*SHAPE), dtypes=FLOATS, call=_grad, reference=_df),
    Kernel("jax.remat", "autodiff", normal(BIG_SIDE, BIG_SIDE), dtypes=FLOATS, setup=_remat_setup,
           reference=_remat_ref),
    Kernel("jax.lax.stop_gradient", "autodiff", normal(*ROWS), dtypes=FLOATS, call=_stop_gradient,
           reference=np.square, **paper(80, 65)),
    Kernel("jax.custom_jvp.defjvp", "autodiff", _scaled_pair, dtypes=FLOATS, setup=_defjvp_setup,
           reference=lambda x, y: (np.round(x), y, y)),
]
