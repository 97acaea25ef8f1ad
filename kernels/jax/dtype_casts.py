"""Dtype conversions and queries from the usage sample: jnp.astype, lax.convert_element_type, lax.dtype."""

import numpy as np

from portability.catalog import BIG_SIDE, Keep, Kernel, same

FLOATS = ("float32", "float64", "float16", "bfloat16")
CASTS = (*FLOATS, "complex64", "int32", "int8", "bool")
#: Conversions are exactly specified (round to nearest even; truncation toward zero for integers):
#: any difference from NumPy's cast of the same value is an error.
EXACT = {d: (0.0, 0.0) for d in CASTS}


def _master_weights(rng):
    """float32 'master' values (some exactly zero) and the same values as the case's input.

    The values are float32-exact, so the harness's cast of ``x`` to the case dtype rounds them
    once, as a correct float32 -> dtype conversion of ``w`` must.
    """
    dims = rng.dims(BIG_SIDE, BIG_SIDE)
    values = rng.uniform(-100.0, 100.0, dims).astype(np.float32)
    values[rng.random(dims) < 0.05] = 0.0
    return {"x": values.astype(np.float64), "w": Keep(values)}


def _astype(c, x, w):
    # The corpus's use: float32 parameters cast to the compute dtype (mixed precision).
    return c.fn(w, c.fw.numpy.dtype(c.dtype))


def _activations(rng):
    # float32-exact values: a float64 case that JAX narrows to float32 (without x64) truncates alike.
    return {"x": _master_weights(rng)["x"]}


def _convert(c, x):
    jnp = c.fw.numpy
    return c.fn(x, jnp.float32), c.fn(x, jnp.int32), c.fn(x, jnp.bool_)


def _check_convert(out, x):
    wide, ints, flags = (np.asarray(o) for o in out)
    got = (wide.dtype.name, ints.dtype.name, flags.dtype.name)
    assert got == ("float32", "int32", "bool"), f"output dtypes {got}, expected (float32, int32, bool)"
    x = np.asarray(x, dtype=np.float64)
    # every value of the swept dtypes (within +-100) is exact in float32
    assert np.array_equal(wide, x.astype(np.float32)), f"{int(np.sum(wide != x))} values changed on the way to float32"
    bad = int(np.sum(ints != np.trunc(x)))
    assert bad == 0, f"{bad} of {x.size} values not truncated toward zero in the int32 conversion"
    bad = int(np.sum(flags != (x != 0)))
    assert bad == 0, f"{bad} of {x.size} values give the wrong truth value in the bool conversion"


def _int_values(rng):
    return {"x": rng.integers(-100, 100, (64, 64)).astype(np.float64)}


def _full_like_dtype(c, x):
    # The corpus's use: make a constant in an array's own dtype.
    return c.fw.numpy.full(x.shape, 1.5, dtype=c.fn(x))


KERNELS = [
    Kernel("jax.numpy.astype", "utility", _master_weights, dtypes=CASTS, call=_astype, reference=lambda x, w: x,
           out_dtype=same(*CASTS), tol=EXACT),
    Kernel("jax.lax.convert_element_type", "utility", _activations, dtypes=(*FLOATS, "int32", "int8", "bool"),
           call=_convert, check=_check_convert, out_dtype=None),
    # A dtype query: one small size.
    Kernel("jax.lax.dtype", "utility", _int_values, dtypes=(*FLOATS, "int32", "bool"), call=_full_like_dtype,
           reference=lambda x: np.full_like(x, 1.5), out_dtype=same(*FLOATS, "int32", "bool")),
]
