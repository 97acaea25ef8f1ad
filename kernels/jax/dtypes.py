"""Dtype objects and queries from the usage sample: casts, finfo, issubdtype, iscomplexobj."""

import numpy as np

from portability.catalog import BIG_SIDE, Kernel, normal, uniform

FLOATS = ("float32", "float64", "float16", "bfloat16")
QUERY = (*FLOATS, "complex64", "int32", "bool")

#: (mantissa bits, largest exponent, smallest normal exponent, total bits) of the IEEE-style
#: formats: eps = 2**-m, max = (2 - eps) * 2**emax, tiny = 2**emin.
FORMATS = {"float16": (10, 15, -14, 16), "bfloat16": (7, 127, -126, 16),
           "float32": (23, 127, -126, 32), "float64": (52, 1023, -1022, 64)}


def _finfo(c, x):
    # The corpus's use: the most negative value of an activation's dtype fills masked positions.
    info = c.fn(x.dtype)
    filled = c.fw.numpy.where(x > 0, x, info.min)
    return (c.dtype, str(info.dtype), float(info.eps), float(info.max), float(info.min), float(info.tiny),
            int(info.bits), filled)


def _check_finfo(out, x):
    case, name, eps, big, small, tiny, bits, filled = out
    m, emax, emin, nbits = FORMATS[case]
    assert name == case, f"finfo of a {case} array describes {name}"
    want = {"eps": 2.0**-m, "max": (2 - 2.0**-m) * 2.0**emax, "min": -(2 - 2.0**-m) * 2.0**emax,
            "tiny": 2.0**emin, "bits": nbits}
    got = {"eps": eps, "max": big, "min": small, "tiny": tiny, "bits": bits}
    wrong = {k: (got[k], want[k]) for k in want if got[k] != want[k]}
    assert not wrong, f"finfo({case}) (got, expected): {wrong}"
    filled = np.asarray(filled, dtype=np.float64)
    assert np.all(np.isfinite(filled)), "finfo.min is not finite in its own dtype"
    assert np.array_equal(filled == small, ~(x > 0)), "masked positions do not hold finfo.min"


def _issubdtype_table(c, x):
    jnp = c.fw.numpy
    kinds = [jnp.bfloat16, jnp.float16, jnp.float32, jnp.int8, jnp.int32, jnp.uint8, jnp.uint32, jnp.complex64,
             jnp.bool_, x.dtype]
    categories = [jnp.floating, jnp.inexact, jnp.number, jnp.integer, jnp.signedinteger, jnp.unsignedinteger,
                  jnp.complexfloating, jnp.bool_]
    return [[c.fn(k, cat) for cat in categories] for k in kinds]


def _issubdtype_ref(x):
    # NumPy does not know bfloat16 as a float (ml_dtypes registers it outside np.floating): its
    # row must read like float16's.
    kinds = [np.float16, np.float16, np.float32, np.int8, np.int32, np.uint8, np.uint32, np.complex64, np.bool_,
             np.float32]
    categories = [np.floating, np.inexact, np.number, np.integer, np.signedinteger, np.unsignedinteger,
                  np.complexfloating, np.bool_]
    return [[bool(np.issubdtype(k, cat)) for cat in categories] for k in kinds]


KERNELS = [
    # The corpus's use: upcast an activation to float32 before a numerically sensitive op.
    Kernel("jax.Array.astype", "utility", uniform(BIG_SIDE, BIG_SIDE, low=-100.0, high=100.0),
           dtypes=(*FLOATS, "int32", "int8", "bool"), call=lambda c, x: x.astype(c.fw.numpy.float32),
           reference=lambda x: x, out_dtype="float32"),
    Kernel("jax.numpy.issubdtype", "utility", normal(16, 16), dtypes=("float32",), call=_issubdtype_table,
           reference=_issubdtype_ref, out_dtype=None),
    Kernel("jax.numpy.finfo", "utility", normal(64, 64), dtypes=FLOATS, call=_finfo, check=_check_finfo),
    # Truncates toward zero, as NumPy's cast does. Without jax_enable_x64 (JAX's default) the
    # result is int32, with a warning: the dtype check reports it, as for every float64 case.
    Kernel("jax.numpy.int64", "utility", uniform(BIG_SIDE, BIG_SIDE, low=-100.0, high=100.0),
           dtypes=(*FLOATS, "int32", "int8"), reference=lambda x: x.astype(np.int64), out_dtype="int64",
           cpu_failure="without x64 (JAX's default) jnp.int64 casts to int32 with only a warning"),
    Kernel("jax.numpy.iscomplexobj", "utility", normal(16, 16), dtypes=QUERY,
           call=lambda c, x: (c.fn(x), c.fn(x[0])), reference=lambda x: (np.iscomplexobj(x), np.iscomplexobj(x[0])),
           out_dtype=None),
    Kernel("jax.numpy.isrealobj", "utility", normal(16, 16), dtypes=QUERY,
           call=lambda c, x: (c.fn(x), c.fn(x[0])), reference=lambda x: (np.isrealobj(x), np.isrealobj(x[0])),
           out_dtype=None),
]
