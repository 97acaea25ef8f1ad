"""jax.numpy / jax.lax / jax.Array elementwise ops, reductions and sorting from the usage sample."""

import numpy as np

from portability.catalog import BIG_SIDE, VEC, Kernel, int_pair, normal, pair, positive, same

FLOATS = ("float32", "float64", "float16", "bfloat16")
BITS = ("int32", "int64", "int8", "uint8", "bool")
#: Rows of 1024 at every size (only their number grows): row-wise work keeps its length.
ROWS = ((4, 1024), 1024)


def _with_infinities(rng):
    (n,) = rng.dims(VEC)
    x = rng.standard_normal(n) * 100.0
    spots = rng.choice(n, n // 8, replace=False)
    x[spots[0::3]] = np.inf
    x[spots[1::3]] = -np.inf
    x[spots[2::3]] = np.nan
    return {"x": x}


def _mostly_true(rng):
    """Rows of ones, about a third of them with a single zero: all() along rows is a real mix."""
    rows, cols = rng.dims(*ROWS)
    x = np.ones((rows, cols))
    hit = rng.choice(rows, rows // 3, replace=False)
    x[hit, rng.integers(0, cols, hit.size)] = 0.0
    return {"x": x}


def _sum_of_squares(jnp):
    return lambda v: jnp.sum(v * v)


def _apply_setup(c, x):
    func = _sum_of_squares(c.fw.numpy)  # defined once, as a user's row function is
    return lambda: c.fn(func, 1, x)


KERNELS = [
    Kernel("jax.numpy.minimum", "elementwise", pair(BIG_SIDE, BIG_SIDE), dtypes=(*FLOATS, "int32"),
           reference=np.minimum, out_dtype=same(*FLOATS, "int32")),
    # Values in -3..3: about one pair in seven is equal.
    Kernel("jax.numpy.equal", "elementwise", int_pair(BIG_SIDE, BIG_SIDE, low=-3, high=4),
           dtypes=(*FLOATS, "complex64", "int32", "bool"), reference=np.equal, out_dtype="bool"),
    Kernel("jax.numpy.isinf", "elementwise", _with_infinities, dtypes=(*FLOATS, "complex64"), reference=np.isinf,
           out_dtype="bool"),
    Kernel("jax.numpy.absolute", "elementwise", normal(VEC, scale=10.0), dtypes=(*FLOATS, "complex64", "int32"),
           reference=np.absolute, out_dtype={**same(*FLOATS, "int32"), "complex64": "float32"}),
    Kernel("jax.numpy.bitwise_xor", "elementwise", int_pair(VEC, low=0, high=127), dtypes=BITS,
           reference=np.bitwise_xor, out_dtype=same(*BITS)),
    Kernel("jax.lax.rsqrt", "elementwise", positive(VEC, low=1e-2, high=1e2), dtypes=(*FLOATS, "complex64"),
           reference=lambda x: 1.0 / np.sqrt(x)),
    Kernel("jax.numpy.min", "reduction", normal(*ROWS), dtypes=(*FLOATS, "int32", "uint8"),
           call=lambda c, x: c.fn(x, axis=-1), reference=lambda x: np.min(x, axis=-1),
           out_dtype=same(*FLOATS, "int32", "uint8")),
    Kernel("jax.numpy.std", "reduction", normal(*ROWS, scale=3.0), dtypes=(*FLOATS, "complex64"),
           call=lambda c, x: c.fn(x, axis=-1), reference=lambda x: np.std(x, axis=-1),
           # the standard deviation of complex data is real
           out_dtype={**same(*FLOATS), "complex64": "float32"}),
    Kernel("jax.numpy.sort", "reduction", normal(*ROWS), dtypes=(*FLOATS, "int32"),
           call=lambda c, x: c.fn(x, axis=-1), reference=lambda x: np.sort(x, axis=-1),
           out_dtype=same(*FLOATS, "int32")),
    Kernel("jax.numpy.diff", "elementwise", normal(*ROWS), dtypes=(*FLOATS, "int32"),
           call=lambda c, x: c.fn(x, axis=-1), reference=lambda x: np.diff(x, axis=-1),
           out_dtype=same(*FLOATS, "int32")),
    Kernel("jax.Array.cumsum", "reduction", normal(*ROWS), dtypes=(*FLOATS, "int32"),
           call=lambda c, x: x.cumsum(axis=-1), reference=lambda x: np.cumsum(x, axis=-1),
           out_dtype=same(*FLOATS, "int32")),
    Kernel("jax.Array.all", "reduction", _mostly_true, dtypes=(*FLOATS, "int32", "bool"),
           call=lambda c, x: x.all(axis=-1), reference=lambda x: np.all(x, axis=-1), out_dtype="bool"),
    Kernel("jax.numpy.apply_along_axis", "reduction", normal(*ROWS), dtypes=FLOATS, setup=_apply_setup,
           reference=lambda x: np.apply_along_axis(lambda v: np.sum(v * v), 1, x)),
]
