"""jax.numpy / jax.lax elementwise ops: arithmetic, transcendental, comparison, bitwise, clipping and
interpolation.
"""

import numpy as np

from portability.catalog import BIG_SIDE, FLOATS, VEC, Kernel, int_pair, normal, pair, paper, positive, same, uniform

N = (64 * 1024, 1 << 20)  # elements in the big elementwise arrays
NUMERIC = (*FLOATS, "int32")
BITS = ("int32", "int64", "int8", "uint8", "bool")
#: Rows of 1024 at every size (only their number grows): row-wise work keeps its length.
ROWS = ((4, 1024), 1024)


def _interp_inputs(rng):
    xp = np.linspace(0.0, 10.0, 64)
    return {"x": rng.uniform(0.0, 10.0, rng.dims(N)), "xp": xp, "fp": np.sin(xp)}


def _power_inputs(rng):
    (n,) = rng.dims(N)
    return {"x": rng.uniform(0.5, 4.0, n), "y": rng.integers(-3, 5, n).astype(np.float64)}


def _sqrt_ref(x):
    # NumPy's sqrt of uint8 is float16; JAX's is float32: judge JAX against float64.
    return np.sqrt(x.astype(np.float64) if x.dtype.kind in "iu" else x)


def _integer_pow_ref(x):
    return x ** 3


def _complex(rng):
    (n,) = rng.dims(N)
    return {"x": rng.standard_normal(n) + 1j * rng.standard_normal(n)}


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


def _with_infinities(rng):
    (n,) = rng.dims(VEC)
    x = rng.standard_normal(n) * 100.0
    spots = rng.choice(n, n // 8, replace=False)
    x[spots[0::3]] = np.inf
    x[spots[1::3]] = -np.inf
    x[spots[2::3]] = np.nan
    return {"x": x}


KERNELS = [
    Kernel("jax.numpy.add", "elementwise", int_pair((256, 1024), (256, 1024)),
           dtypes=(*FLOATS, "complex64", "int32", "int64", "uint8"),
           out_dtype={**same(*FLOATS, "int32", "int64", "uint8"), "complex64": "complex64"},
           reference=np.add, **paper(100, 2212)),
    Kernel("jax.numpy.cos", "elementwise", normal(N, scale=3.0), dtypes=(*FLOATS, "complex64", "int32"),
           reference=np.cos, **paper(90, 119)),
    Kernel("jax.numpy.exp", "elementwise", normal(N, scale=2.0), dtypes=(*FLOATS, "complex64", "int32"),
           reference=np.exp, **paper(100, 296)),
    Kernel("jax.numpy.sqrt", "elementwise", positive(N, low=0.0, high=100.0),
           dtypes=(*FLOATS, "complex64", "int32", "uint8"), reference=_sqrt_ref,
           **paper(100, 393)),
    Kernel("jax.numpy.log", "elementwise", positive(N, low=1e-3, high=1e3), dtypes=(*FLOATS, "int32"),
           reference=np.log, **paper(100, 620)),
    Kernel("jax.numpy.power", "elementwise", _power_inputs, dtypes=(*FLOATS, "complex64"), reference=np.power,
           **paper(80, 34)),
    Kernel("jax.numpy.bitwise_and", "elementwise", int_pair(N, low=0, high=127),
           dtypes=("int32", "int64", "int8", "uint8", "bool"),
           out_dtype=same("int32", "int64", "int8", "uint8", "bool"),
           reference=np.bitwise_and, **paper(10, 1)),
    Kernel("jax.numpy.interp", "elementwise", _interp_inputs, dtypes=FLOATS, reference=np.interp),
    Kernel("jax.lax.integer_pow", "elementwise", uniform(N, low=-3.0, high=3.0),
           dtypes=(*FLOATS, "complex64", "int32"), call=lambda c, x: c.fn(x, 3), reference=_integer_pow_ref,
           out_dtype={**same(*FLOATS, "int32"), "complex64": "complex64"}, **paper(40, 4)),
    Kernel("jax.lax.ge", "elementwise", pair(N), dtypes=(*FLOATS, "int32"), reference=np.greater_equal,
           out_dtype="bool", **paper(10, 1)),
    Kernel("jax.numpy.maximum", "elementwise", int_pair(N), dtypes=NUMERIC, reference=np.maximum,
           out_dtype=same(*NUMERIC)),
    Kernel("jax.numpy.abs", "elementwise", _signed, dtypes=(*NUMERIC, "complex64", "int8"),
           reference=np.abs, out_dtype={**same(*NUMERIC, "int8"), "complex64": "float32"}),
    Kernel("jax.numpy.square", "elementwise", normal(N, scale=10.0), dtypes=(*NUMERIC, "complex64"),
           reference=np.square, out_dtype=same(*NUMERIC, "complex64")),
    Kernel("jax.numpy.clip", "elementwise", int_pair(N, low=-100, high=100), dtypes=NUMERIC,
           call=lambda c, x, y: c.fn(x, -20, 20), reference=lambda x, y: np.clip(x, -20, 20),
           out_dtype=same(*NUMERIC)),
    Kernel("jax.numpy.multiply", "elementwise", int_pair(N), dtypes=(*NUMERIC, "complex64"), reference=np.multiply,
           out_dtype=same(*NUMERIC, "complex64")),
    Kernel("jax.numpy.greater", "elementwise", int_pair(N), dtypes=NUMERIC, reference=np.greater, out_dtype="bool"),
    Kernel("jax.numpy.isclose", "elementwise", _close_pairs, dtypes=FLOATS, reference=np.isclose, out_dtype="bool"),
    Kernel("jax.numpy.logical_xor", "elementwise", _bits, dtypes=("bool", *NUMERIC), reference=np.logical_xor,
           out_dtype="bool"),
    Kernel("jax.lax.square", "elementwise", normal(N, scale=10.0), dtypes=(*NUMERIC, "complex64"), reference=np.square,
           out_dtype=same(*NUMERIC, "complex64")),
    # lax is strict: imag takes complex operands only.
    Kernel("jax.lax.imag", "elementwise", _complex, dtypes=("complex64", "complex128"), reference=np.imag,
           out_dtype={"complex64": "float32", "complex128": "float64"}),
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
    Kernel("jax.numpy.diff", "elementwise", normal(*ROWS), dtypes=(*FLOATS, "int32"),
           call=lambda c, x: c.fn(x, axis=-1), reference=lambda x: np.diff(x, axis=-1),
           out_dtype=same(*FLOATS, "int32")),
]
