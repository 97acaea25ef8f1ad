"""Linear algebra from the usage sample: vdot, trace, slogdet, pinv, triangular solves."""

import numpy as np
import scipy.linalg

from portability.catalog import BIG_SIDE, SIDE, VEC, Kernel, normal, pair, same

FLOATS = ("float32", "float64", "float16", "bfloat16")


def _signed_dets(rng):
    """Two matrices n*I + noise, the first two rows of the second swapped: determinants of both
    signs, far from singular (the log of |det| is about n*log(n))."""
    (n,) = rng.dims(SIDE)
    a = rng.standard_normal((2, n, n)) + n * np.eye(n)
    a[1::2, [0, 1]] = a[1::2, [1, 0]]
    return {"a": a}


def _tall(rng):
    rows, cols = rng.dims((48, 384), (32, 192))
    return {"a": rng.standard_normal((rows, cols))}


def _triangular(rng):
    """A full matrix whose lower triangle is well conditioned (diagonal about n): the solve must
    read the lower triangle only, as lower=True says."""
    n, k = rng.dims(SIDE, (16, 256))
    return {"a": rng.standard_normal((n, n)) + n * np.eye(n), "b": rng.standard_normal((n, k))}


KERNELS = [
    Kernel("jax.numpy.vdot", "linalg", pair(VEC, names=("a", "b")), dtypes=(*FLOATS, "complex64"),
           reference=np.vdot),
    Kernel("jax.numpy.trace", "linalg", normal(BIG_SIDE, BIG_SIDE), dtypes=(*FLOATS, "complex64", "int32"),
           reference=np.trace, out_dtype={**same(*FLOATS, "int32"), "complex64": "complex64"}),
    Kernel("jax.numpy.linalg.slogdet", "linalg", _signed_dets, dtypes=(*FLOATS, "complex64"),
           # (sign, log|det|): the sign of complex input is complex, its log|det| real
           reference=np.linalg.slogdet, out_dtype=same(*FLOATS)),
    Kernel("jax.numpy.linalg.pinv", "linalg", _tall, dtypes=(*FLOATS, "complex64"), reference=np.linalg.pinv),
    Kernel("jax.scipy.linalg.solve_triangular", "linalg", _triangular, dtypes=(*FLOATS, "complex64"),
           call=lambda c, a, b: c.fn(a, b, lower=True),
           reference=lambda a, b: scipy.linalg.solve_triangular(a, b, lower=True)),
]
