"""jax.numpy / jax.lax elementwise math, comparisons and reductions from the usage sample."""

import numpy as np

from portability.catalog import Keep, Kernel, int_pair, normal, same

FLOATS = ("float32", "float64", "float16", "bfloat16")
N = (64 * 1024, 1 << 20)  # elements in the big elementwise arrays
NUMERIC = (*FLOATS, "int32")


def _complex(rng):
    (n,) = rng.dims(N)
    return {"x": rng.standard_normal(n) + 1j * rng.standard_normal(n)}


def _mask(rng):
    """Mostly zeros with a few nonzeros: some rows hold none, so any() is False there."""
    dims = rng.dims((64, 4096), 256)
    return {"x": np.where(rng.random(dims) < 1 / 512, rng.integers(1, 100, dims).astype(np.float64), 0.0)}


def _close_pairs(rng):
    """y = x (1 + d) with d far inside or far outside isclose's default rtol of 1e-5, so rounding to
    the case dtype cannot move a pair across the line; a few NaNs (never close to anything)."""
    (n,) = rng.dims(N)
    # |x| >= 0.01: far from where isclose's atol of 1e-8 (0 in float16) would decide
    x = rng.choice([-1.0, 1.0], n) * rng.uniform(0.01, 4.0, n)
    d = rng.choice([0.0, 1e-7, 1e-3, 0.1], n)
    y = x * (1 + d)
    x[rng.random(n) < 0.01] = np.nan
    return {"x": x, "y": y}


def _signed(rng):
    """Values within +-120: in range for int8 (abs(-128) would overflow by definition)."""
    return {"x": np.clip(rng.standard_normal(rng.dims(N)) * 40.0, -120.0, 120.0)}


def _bits(rng):
    dims = rng.dims((64, 1024), (64, 1024))
    return {"x": rng.integers(0, 3, dims).astype(np.float64), "y": rng.integers(0, 3, dims).astype(np.float64)}


def _segments(rng):
    (n,) = rng.dims(N)
    starts = np.sort(rng.choice(np.arange(1, n), rng.pick(63, 1023), replace=False))
    return {"x": rng.integers(-1000, 1000, n).astype(np.float64),
            "idx": Keep(np.concatenate([[0], starts]).astype(np.int32))}


def _vectorize_setup(c, a, b):
    # The corpus's use: a function of single vectors, mapped over the leading batch axes.
    dot = c.fn(lambda u, v: c.fw.numpy.sum(u * v), signature="(n),(n)->()")
    return lambda: dot(a, b)


def _batch_of_vectors(rng):
    dims = rng.dims((64, 16384), 64)
    return {"a": rng.standard_normal(dims), "b": rng.standard_normal(dims)}


def _histogram_ref(x):
    return np.histogram(x, bins=32, range=(-4.0, 4.0))


KERNELS = [
    Kernel("jax.numpy.maximum", "elementwise", int_pair(N), dtypes=NUMERIC, reference=np.maximum,
           out_dtype=same(*NUMERIC)),
    Kernel("jax.numpy.abs", "elementwise", _signed, dtypes=(*NUMERIC, "complex64", "int8"),
           reference=np.abs, out_dtype={**same(*NUMERIC, "int8"), "complex64": "float32"}),
    Kernel("jax.numpy.square", "elementwise", normal(N, scale=10.0), dtypes=(*NUMERIC, "complex64"),
           reference=np.square, out_dtype=same(*NUMERIC, "complex64")),
    Kernel("jax.numpy.clip", "elementwise", int_pair(N, low=-100, high=100), dtypes=NUMERIC,
           call=lambda c, x, y: c.fn(x, -20, 20), reference=lambda x, y: np.clip(x, -20, 20),
           out_dtype=same(*NUMERIC)),
    Kernel("jax.numpy.any", "reduction", _mask, dtypes=("bool", *NUMERIC), call=lambda c, x: (c.fn(x, axis=1), c.fn(x)),
           reference=lambda x: (np.any(x, axis=1), np.any(x)), out_dtype="bool"),
    Kernel("jax.numpy.multiply", "elementwise", int_pair(N), dtypes=(*NUMERIC, "complex64"), reference=np.multiply,
           out_dtype=same(*NUMERIC, "complex64")),
    Kernel("jax.numpy.greater", "elementwise", int_pair(N), dtypes=NUMERIC, reference=np.greater, out_dtype="bool"),
    Kernel("jax.numpy.isclose", "elementwise", _close_pairs, dtypes=FLOATS, reference=np.isclose, out_dtype="bool"),
    Kernel("jax.numpy.logical_xor", "elementwise", _bits, dtypes=("bool", *NUMERIC), reference=np.logical_xor,
           out_dtype="bool"),
    Kernel("jax.numpy.amin", "reduction", int_pair((64, 1024), (64, 1024)), dtypes=NUMERIC,
           call=lambda c, x, y: (c.fn(x), c.fn(y, axis=1)), reference=lambda x, y: (np.amin(x), np.amin(y, axis=1)),
           out_dtype=same(*NUMERIC)),
    # Bin edges at multiples of 0.25: exact in every swept dtype, so no sample changes bin by rounding.
    # JAX counts in the input's dtype: float16 counts stop at 2048 and bfloat16 ones at 256 (x + 1 == x).
    Kernel("jax.numpy.histogram", "reduction", normal(N, scale=1.5), dtypes=FLOATS,
           call=lambda c, x: c.fn(x, bins=32, range=(-4.0, 4.0)), reference=_histogram_ref, out_dtype=None),
    Kernel("jax.numpy.maximum.reduceat", "reduction", _segments, dtypes=NUMERIC,
           call=lambda c, x, idx: c.fn(x, idx), reference=np.maximum.reduceat, out_dtype=same(*NUMERIC)),
    Kernel("jax.numpy.vectorize", "graph", _batch_of_vectors, dtypes=FLOATS, setup=_vectorize_setup,
           reference=lambda a, b: np.sum(a * b, axis=-1)),
    Kernel("jax.lax.square", "elementwise", normal(N, scale=10.0), dtypes=(*NUMERIC, "complex64"), reference=np.square,
           out_dtype=same(*NUMERIC, "complex64")),
    # lax is strict: imag takes complex operands only.
    Kernel("jax.lax.imag", "elementwise", _complex, dtypes=("complex64", "complex128"), reference=np.imag,
           out_dtype={"complex64": "float32", "complex128": "float64"}),
]
