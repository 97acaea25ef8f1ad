"""jax.numpy / jax.lax / jax.Array reductions, scans, sorts and selections, BCOO's reduce_sum and the pmax
collective.
"""

import numpy as np

from portability.catalog import (
    BIG_SIDE,
    FLOATS,
    Keep,
    Kernel,
    int_pair,
    integers,
    normal,
    paper,
    same,
    sparse_matrix,
    uniform,
)

#: Only the number of independent reductions grows with --size, never their length: a sum
#: accumulates the same rounding error at both sizes, so the tolerances keep their meaning.
ROWS = (256, 1024)
KTH = 100
DTYPES = (*FLOATS, "int32")
#: about one entry in ten nonzero, small integers: exact in every dtype
_SPARSE = sparse_matrix(BIG_SIDE, BIG_SIDE)
SORT_DTYPES = (*FLOATS, "int32", "int8")
N = (64 * 1024, 1 << 20)  # elements in the big elementwise arrays
NUMERIC = (*FLOATS, "int32")
#: Rows of 1024 at every size (only their number grows): row-wise work keeps its length.
LONG_ROWS = ((4, 1024), 1024)
SHAPE_DTYPES = (*FLOATS, "int32")
#: A sum of integers is taken in JAX's default integer type, as NumPy's is: int64 with 64-bit types on
#: (int32 without: fail:downcast)
INT_SUM = {"int32": "int64", "int64": "int64"}


def _average_inputs(rng):
    return {"x": rng.standard_normal((rng.pick(256, 2048), 512)), "w": rng.uniform(0.1, 1.0, 512)}


def _all_inputs(rng):
    # Rows mostly True, some with a single False: all() along the last axis is a real mix.
    n, falses = rng.pick(512, 4096), rng.pick(200, 1600)
    m = np.ones((n, 256), dtype=bool)
    rows = rng.choice(n, falses, replace=False)
    m[rows, rng.integers(0, 256, falses)] = False
    return {"x": Keep(m)}


def _partitioned(out):
    """What partition guarantees: the kth element, and the sets (not orders) on either side of it."""
    out = np.asarray(out)
    return [out[:, KTH], np.sort(out[:, :KTH], axis=1), np.sort(out[:, KTH + 1:], axis=1)]


def _reduce_sum_setup(c, x):
    mat = c.fw.experimental.sparse.BCOO.fromdense(x)  # the sparse operand is built once, untimed
    return lambda: c.fn(mat, axes=(1,)).todense()


def _distinct_rows(rng):
    """Rows that are permutations of -128..127: exact and tie-free in every swept dtype."""
    return {"x": rng.permuted(np.tile(np.arange(-128.0, 128.0), (rng.pick(32, 4096), 1)), axis=1)}


def _top_k_ref(x):
    idx = np.argsort(-x.astype(np.float64), axis=-1, kind="stable")[:, :8]  # -x overflows in int8
    return np.take_along_axis(x, idx, axis=-1), idx


def _pmax(c, x):
    return c.fw.vmap(lambda v: c.fn(v, "i"), axis_name="i")(x)


def _mask(rng):
    """Mostly zeros with a few nonzeros: some rows hold none, so any() is False there."""
    dims = rng.dims((64, 4096), 256)
    return {"x": np.where(rng.random(dims) < 1 / 512, rng.integers(1, 100, dims).astype(np.float64), 0.0)}


def _segments(rng):
    (n,) = rng.dims(N)
    starts = np.sort(rng.choice(np.arange(1, n), rng.pick(63, 1023), replace=False))
    return {"x": rng.integers(-1000, 1000, n).astype(np.float64),
            "idx": Keep(np.concatenate([[0], starts]).astype(np.int32))}


def _histogram_ref(x):
    return np.histogram(x, bins=32, range=(-4.0, 4.0))


def _mostly_true(rng):
    """Rows of ones, about a third of them with a single zero: all() along rows is a real mix."""
    rows, cols = rng.dims(*LONG_ROWS)
    x = np.ones((rows, cols))
    hit = rng.choice(rows, rows // 3, replace=False)
    x[hit, rng.integers(0, cols, hit.size)] = 0.0
    return {"x": x}


def _sum_of_squares(jnp):
    return lambda v: jnp.sum(v * v)


def _apply_setup(c, x):
    func = _sum_of_squares(c.fw.numpy)  # defined once, as a user's row function is
    return lambda: c.fn(func, 1, x)


def _argsort_rows(rng):
    """Rows that are permutations of -128..127: exact and tie-free in every swept dtype."""
    return {"x": rng.permuted(np.tile(np.arange(-128.0, 128.0), (rng.pick(16, 4096), 1)), axis=1)}


KERNELS = [
    Kernel("jax.numpy.sum", "reduction", integers(ROWS, 1024, low=-8, high=8),
           dtypes=(*FLOATS, "complex64", "int32", "int64"),
           call=lambda c, x: c.fn(x, axis=-1), reference=lambda x: np.sum(x, axis=-1),
           out_dtype={**same(*FLOATS), **INT_SUM, "complex64": "complex64"}, **paper(100, 1110)),
    Kernel("jax.numpy.mean", "reduction", normal(256, (1024, 4096)), dtypes=(*FLOATS, "complex64"),
           call=lambda c, x: c.fn(x, axis=0), reference=lambda x: np.mean(x, axis=0), **paper(100, 529)),
    Kernel("jax.numpy.max", "reduction", normal(ROWS, 1024), dtypes=(*FLOATS, "int32", "uint8"),
           call=lambda c, x: c.fn(x, axis=1, keepdims=True), reference=lambda x: np.max(x, axis=1, keepdims=True),
           out_dtype=same(*FLOATS, "int32", "uint8"), **paper(100, 578)),
    Kernel("jax.numpy.prod", "reduction", uniform((1024, 1 << 16), 16, low=0.5, high=1.5),
           dtypes=(*FLOATS, "complex64"),
           call=lambda c, x: c.fn(x, axis=1), reference=lambda x: np.prod(x, axis=1), **paper(90, 115)),
    Kernel("jax.numpy.var", "reduction", normal(ROWS, 1024, scale=3.0), dtypes=(*FLOATS, "complex64"),
           call=lambda c, x: c.fn(x, axis=-1), reference=lambda x: np.var(x, axis=-1),
           # the variance of complex data is real
           out_dtype={**same(*FLOATS), "complex64": "float32"}, **paper(80, 36)),
    Kernel("jax.numpy.average", "reduction", _average_inputs, dtypes=(*FLOATS, "complex64"),
           call=lambda c, x, w: c.fn(x, axis=1, weights=w),
           reference=lambda x, w: np.average(x, axis=1, weights=w), **paper(40, 4)),
    Kernel("jax.numpy.all", "reduction", _all_inputs, dtypes=("bool",),
           call=lambda c, x: c.fn(x, axis=-1), reference=lambda x: np.all(x, axis=-1), out_dtype="bool",
           **paper(100, 2197)),
    Kernel("jax.numpy.argmax", "reduction", normal((256, 4096), 256), dtypes=(*FLOATS, "int32"),
           call=lambda c, x: c.fn(x, axis=1), reference=lambda x: np.argmax(x, axis=1)),
    Kernel("jax.numpy.partition", "reduction", normal((32, 2048), 512), dtypes=(*FLOATS, "int32", "complex64"),
           call=lambda c, x: c.fn(x, KTH, axis=1), reference=lambda x: np.partition(x, KTH, axis=1),
           canonical=_partitioned, out_dtype={**same(*FLOATS, "int32"), "complex64": "complex64"}),
    Kernel("jax.numpy.cumsum", "reduction", normal((64, 1024), 1024), dtypes=(*FLOATS, "int32"),
           call=lambda c, x: c.fn(x, axis=-1), reference=lambda x: np.cumsum(x, axis=-1),
           out_dtype=same(*FLOATS, "int32")),
    Kernel("jax.experimental.sparse.bcoo_reduce_sum", "reduction", _SPARSE, dtypes=DTYPES, setup=_reduce_sum_setup,
           reference=lambda x: x.sum(axis=1), out_dtype={**same(*FLOATS), **INT_SUM}),
    Kernel("jax.lax.top_k", "reduction", _distinct_rows, dtypes=SORT_DTYPES, call=lambda c, x: c.fn(x, 8),
           reference=_top_k_ref, **paper(70, 23)),
    Kernel("jax.lax.sort", "reduction", normal((16, 1024), 1024), dtypes=(*FLOATS, "int32"), reference=np.sort,
           out_dtype=same(*FLOATS, "int32")),
    Kernel("jax.lax.pmax", "reduction", normal(16, (4096, 1 << 16)), dtypes=(*FLOATS, "int32"), call=_pmax,
           reference=lambda x: np.broadcast_to(x.max(axis=0), x.shape), out_dtype=same(*FLOATS, "int32"),
           **paper(10, 1)),
    Kernel("jax.numpy.any", "reduction", _mask, dtypes=("bool", *NUMERIC), call=lambda c, x: (c.fn(x, axis=1), c.fn(x)),
           reference=lambda x: (np.any(x, axis=1), np.any(x)), out_dtype="bool"),
    Kernel("jax.numpy.amin", "reduction", int_pair((64, 1024), (64, 1024)), dtypes=NUMERIC,
           call=lambda c, x, y: (c.fn(x), c.fn(y, axis=1)), reference=lambda x, y: (np.amin(x), np.amin(y, axis=1)),
           out_dtype=same(*NUMERIC)),
    # Bin edges at multiples of 0.25: exact in every swept dtype, so no sample changes bin by rounding.
    # JAX counts in the input's dtype: float16 counts stop at 2048 and bfloat16 ones at 256 (x + 1 == x).
    Kernel("jax.numpy.histogram", "reduction", normal(N, scale=1.5), dtypes=FLOATS,
           call=lambda c, x: c.fn(x, bins=32, range=(-4.0, 4.0)), reference=_histogram_ref),
    Kernel("jax.numpy.maximum.reduceat", "reduction", _segments, dtypes=NUMERIC,
           call=lambda c, x, idx: c.fn(x, idx), reference=np.maximum.reduceat, out_dtype=same(*NUMERIC)),
    Kernel("jax.numpy.min", "reduction", normal(*LONG_ROWS), dtypes=(*FLOATS, "int32", "uint8"),
           call=lambda c, x: c.fn(x, axis=-1), reference=lambda x: np.min(x, axis=-1),
           out_dtype=same(*FLOATS, "int32", "uint8")),
    Kernel("jax.numpy.std", "reduction", normal(*LONG_ROWS, scale=3.0), dtypes=(*FLOATS, "complex64"),
           call=lambda c, x: c.fn(x, axis=-1), reference=lambda x: np.std(x, axis=-1),
           # the standard deviation of complex data is real
           out_dtype={**same(*FLOATS), "complex64": "float32"}),
    Kernel("jax.numpy.sort", "reduction", normal(*LONG_ROWS), dtypes=(*FLOATS, "int32"),
           call=lambda c, x: c.fn(x, axis=-1), reference=lambda x: np.sort(x, axis=-1),
           out_dtype=same(*FLOATS, "int32")),
    Kernel("jax.Array.cumsum", "reduction", normal(*LONG_ROWS), dtypes=(*FLOATS, "int32"),
           call=lambda c, x: x.cumsum(axis=-1), reference=lambda x: np.cumsum(x, axis=-1),
           out_dtype=same(*FLOATS, "int32")),
    Kernel("jax.Array.all", "reduction", _mostly_true, dtypes=(*FLOATS, "int32", "bool"),
           call=lambda c, x: x.all(axis=-1), reference=lambda x: np.all(x, axis=-1), out_dtype="bool"),
    Kernel("jax.numpy.apply_along_axis", "reduction", normal(*LONG_ROWS), dtypes=FLOATS, setup=_apply_setup,
           reference=lambda x: np.apply_along_axis(lambda v: np.sum(v * v), 1, x)),
    Kernel("jax.Array.argsort", "reduction", _argsort_rows, dtypes=(*SHAPE_DTYPES, "int8"),
           # indices in JAX's default integer type: int64 with 64-bit types on
           call=lambda c, x: x.argsort(axis=-1), reference=lambda x: np.argsort(x, axis=-1), out_dtype="int64"),
]
