"""Control flow and tracing from the usage sample: lax.cond, lax.while_loop, jax.remat, PartialVal.

Functions users define once are defined (and jitted) once here too, in ``setup``.
"""

import numpy as np

from portability.catalog import BIG_SIDE, Kernel, normal, positive

FLOATS = ("float32", "float64", "float16", "bfloat16")


def _shifted(shift):
    """Normal values around ``shift``: the sign of their mean is certain in every dtype."""
    return lambda rng: {"x": rng.standard_normal(rng.dims(BIG_SIDE, BIG_SIDE)) + shift}


def _cond_setup(c, x):
    jnp = c.fw.numpy
    # The predicate is traced: both branches are compiled, one runs.
    f = c.fw.jit(lambda v: c.fn(jnp.mean(v) > 0, lambda u: jnp.sin(u) * u, lambda u: jnp.cos(u) - u, v))
    return lambda: f(x)


def _cond_ref(x):
    return np.sin(x) * x if x.mean() > 0 else np.cos(x) - x


def _while_setup(c, a):
    jnp = c.fw.numpy

    def cond(state):
        i, _, step = state
        return (i < 20) & (step > 0)  # until Newton's iterate stops moving (20 steps at most)

    def sqrt(s):  # Newton's iteration for sqrt(s), from s
        def body(state):
            i, v, _ = state
            new = 0.5 * (v + s / v)
            return i + 1, new, jnp.max(jnp.abs(new - v))

        return c.fn(cond, body, (0, s, jnp.array(1.0, s.dtype)))[1]

    f = c.fw.jit(sqrt)
    return lambda: f(a)


def _remat_setup(c, x):
    jnp = c.fw.numpy
    # As in haiku's tests: the gradient of a rematerialised function (its activations recomputed
    # in the backward pass, not stored).
    g = c.fw.jit(c.fw.grad(c.fn(lambda v: jnp.sum(jnp.tanh(jnp.sin(v) * v)))))
    return lambda: g(x)


def _remat_ref(x):
    return (1 - np.tanh(np.sin(x) * x) ** 2) * (np.cos(x) * x + np.sin(x))


def _partial_val_known(c, x):
    # As in flax's lazy_init: a concrete input becomes a known partial value.
    pv = c.fn(x)
    aval = pv.get_aval()
    return pv.is_known(), pv.get_known(), c.fw.numpy.zeros(aval.shape, aval.dtype)


KERNELS = [
    Kernel("jax.lax.cond", "control", {"true": _shifted(1.0), "false": _shifted(-1.0)}, dtypes=FLOATS,
           setup=_cond_setup, reference=_cond_ref),
    Kernel("jax.lax.while_loop", "control", positive(BIG_SIDE, BIG_SIDE, low=0.5, high=4.0, name="a"),
           dtypes=FLOATS, setup=_while_setup, reference=np.sqrt),
    Kernel("jax.remat", "autodiff", normal(BIG_SIDE, BIG_SIDE), dtypes=FLOATS, setup=_remat_setup,
           reference=_remat_ref),
    Kernel("jax.interpreters.partial_eval.PartialVal.known", "graph", normal(16, 8), dtypes=("float32", "float16"),
           call=_partial_val_known, reference=lambda x: (True, x, np.zeros_like(x))),
]
