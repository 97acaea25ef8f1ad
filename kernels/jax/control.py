"""jax.lax control flow: cond, while_loop, scan and fori_loop.

Functions users define once are defined (and jitted) once here too, in ``setup``.
"""

import numpy as np

from portability.catalog import BIG_SIDE, FLOATS, Kernel, normal, positive, same

#: Rows of 1024 at every size (only their number grows): row-wise work keeps its length.
ROWS = ((64, 1024), 1024)


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


def _scan_setup(c, x):
    def step(carry, v):  # the running sum; defined once, so repeated calls reuse the compiled loop
        return carry + v, carry + v

    init = c.fw.numpy.zeros_like(x[0])
    return lambda: c.fn(step, init, x)


def _fori_setup(c, x):
    tanh = c.fw.numpy.tanh

    def body(i, v):
        return 0.9 * v + 0.1 * tanh(v)

    return lambda: c.fn(0, 10, body, x)


def _fori_ref(x):
    for _ in range(10):
        x = 0.9 * x + 0.1 * np.tanh(x)
    return x


KERNELS = [
    Kernel("jax.lax.cond", "control", {"true": _shifted(1.0), "false": _shifted(-1.0)}, dtypes=FLOATS,
           setup=_cond_setup, reference=_cond_ref),
    Kernel("jax.lax.while_loop", "control", positive(BIG_SIDE, BIG_SIDE, low=0.5, high=4.0, name="a"),
           dtypes=FLOATS, setup=_while_setup, reference=np.sqrt),
    # 64 steps at every size (a longer running sum would round more in half precision): the carry widens.
    Kernel("jax.lax.scan", "control", normal(64, (1024, 1 << 14)), dtypes=(*FLOATS, "int32"), setup=_scan_setup,
           reference=lambda x: (x.sum(axis=0), np.cumsum(x, axis=0)), out_dtype=same(*FLOATS, "int32")),
    Kernel("jax.lax.fori_loop", "control", normal(*ROWS), dtypes=FLOATS, setup=_fori_setup, reference=_fori_ref),
]
