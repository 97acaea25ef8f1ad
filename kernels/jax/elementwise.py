"""jax.numpy / jax.lax elementwise ops: arithmetic, transcendental, comparison, bitwise, select."""

import numpy as np
from scipy import special as sps

from portability.catalog import Keep, Kernel, int_pair, normal, pair, paper, positive, same, uniform

FLOATS = ("float32", "float64", "float16", "bfloat16")
N = (64 * 1024, 1 << 20)  # elements in the big elementwise arrays


def _select_inputs(rng):
    (n,) = rng.dims(N)
    return {"pred": Keep(rng.random(n) < 0.5), "x": rng.standard_normal(n), "y": rng.standard_normal(n)}


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
    Kernel("jax.numpy.i0", "special", uniform(N, low=-5.0, high=5.0), dtypes=FLOATS, reference=np.i0,
           **paper(10, 1)),
    Kernel("jax.numpy.interp", "elementwise", _interp_inputs, dtypes=FLOATS, reference=np.interp),
    # lax: strict, no implicit promotion.
    Kernel("jax.lax.erf", "special", normal(N, scale=2.0), dtypes=FLOATS, reference=sps.erf, **paper(10, 1)),
    Kernel("jax.lax.integer_pow", "elementwise", uniform(N, low=-3.0, high=3.0),
           dtypes=(*FLOATS, "complex64", "int32"), call=lambda c, x: c.fn(x, 3), reference=_integer_pow_ref,
           out_dtype={**same(*FLOATS, "int32"), "complex64": "complex64"}, **paper(40, 4)),
    Kernel("jax.lax.ge", "elementwise", pair(N), dtypes=(*FLOATS, "int32"), reference=np.greater_equal,
           out_dtype="bool", **paper(10, 1)),
    Kernel("jax.lax.select", "indexing", _select_inputs, dtypes=(*FLOATS, "int32"),
           reference=np.where, out_dtype=same(*FLOATS, "int32"), **paper(90, 172)),
]
