"""jax.numpy / jax.lax array creation: ones, zeros, arange, array, full, identity, iota, the *_like functions,
asarray and BCOO's fromdense.
"""

import numpy as np

from portability.catalog import BIG_SIDE, FLOATS, Kernel, integers, paper, same, sparse_matrix

ALL = (*FLOATS, "complex64", "int32", "int64", "bool")
SQUARE = ((256, 1024), (256, 1024))
NUMERIC = (*FLOATS, "complex64", "int32", "int64")
DTYPES = (*FLOATS, "int32")
#: about one entry in ten nonzero, small integers: exact in every dtype
_SPARSE = sparse_matrix(BIG_SIDE, BIG_SIDE)
ALL_NO_INT64 = (*FLOATS, "complex64", "int32", "bool")


def _shape(rng):
    return {"shape": rng.dims(*SQUARE)}


def _arange_length(rng):
    # float16 holds no integer above 65504: a longer arange would only measure overflow to inf.
    return {"n": rng.pick(4096, 65504)}


def _python_list(rng):
    # Converting a Python list is host work (~0.5 s per 1M ints): 512x512 at medium.
    return {"x": rng.integers(-100, 100, rng.dims((32, 512), (32, 512))).tolist()}


def ints(*shape):
    """Small integer values: exact in every swept dtype (bfloat16 holds integers up to 256)."""
    return integers(*shape, low=-100, high=100)


def _big_square_shape(rng):
    return {"shape": rng.dims(BIG_SIDE, BIG_SIDE)}


def _iota_length(rng):
    # float16 holds no integer above 65504: a longer iota would only measure overflow to inf.
    return {"n": rng.pick(4096, 65504)}


def _side(rng):
    return {"n": rng.pick(64, 1024)}


def _fromdense(c, x):
    mat = c.fn(x)
    return mat.data, mat.indices


def _stored(out):
    """The stored (value, row, column) triples in row-major order: BCOO fixes no order of its own."""
    data, indices = (np.asarray(p) for p in out)
    order = np.lexsort(indices.T[::-1])
    return [data[order], indices[order]]


def _asarray_setup(c, x):
    host = np.asarray(c.fw.device_get(x))  # the corpus converts host (NumPy) data to device arrays

    def run():
        out = c.fn(host)
        return isinstance(out, c.fw.Array), out

    return run


KERNELS = [
    Kernel("jax.numpy.ones", "creation", _shape, dtypes=ALL, call=lambda c, shape: c.fn(shape, dtype=c.dtype),
           reference=np.ones, out_dtype=same(*ALL), **paper(100, 919)),
    Kernel("jax.numpy.zeros", "creation", _shape, dtypes=ALL, call=lambda c, shape: c.fn(shape, dtype=c.dtype),
           reference=np.zeros, out_dtype=same(*ALL), **paper(100, 1060)),
    Kernel("jax.numpy.arange", "creation", _arange_length, dtypes=(*FLOATS, "int32", "int64"),
           call=lambda c, n: c.fn(n, dtype=c.dtype), reference=lambda n: np.arange(float(n)),
           out_dtype=same(*FLOATS, "int32", "int64"), **paper(100, 525)),
    Kernel("jax.numpy.array", "creation", _python_list, dtypes=(*FLOATS, "int32", "int64"),
           call=lambda c, x: c.fn(x, dtype=c.dtype), reference=lambda x: np.array(x, dtype=np.float64),
           out_dtype=same(*FLOATS, "int32", "int64"), **paper(100, 2437)),
    # Integer-valued fill: exact in every dtype, so the float64 reference holds for integer cases too.
    Kernel("jax.numpy.full", "creation", _big_square_shape, dtypes=NUMERIC,
           call=lambda c, shape: c.fn(shape, -3.0, dtype=c.dtype), reference=lambda shape: np.full(shape, -3.0),
           out_dtype=same(*NUMERIC)),
    Kernel("jax.numpy.zeros_like", "creation", ints(BIG_SIDE, BIG_SIDE), dtypes=ALL, reference=np.zeros_like,
           out_dtype=same(*ALL)),
    Kernel("jax.numpy.full_like", "creation", ints(BIG_SIDE, BIG_SIDE), dtypes=ALL,
           call=lambda c, x: c.fn(x, 2.0), reference=lambda x: np.full_like(x, 2.0), out_dtype=same(*ALL)),
    Kernel("jax.numpy.identity", "creation", _side, dtypes=(*FLOATS, "complex64", "int32", "bool"),
           call=lambda c, n: c.fn(n, dtype=c.dtype), reference=np.identity,
           out_dtype=same(*FLOATS, "complex64", "int32", "bool")),
    Kernel("jax.lax.iota", "creation", _iota_length, dtypes=(*FLOATS, "int32"),
           call=lambda c, n: c.fn(c.dtype, n), reference=lambda n: np.arange(float(n)),
           out_dtype=same(*FLOATS, "int32")),
    # Stores exactly the nonzeros (nse is their count when the input is concrete).
    Kernel("jax.experimental.sparse.bcoo_fromdense", "creation", _SPARSE, dtypes=DTYPES, call=_fromdense,
           reference=lambda x: (x[x != 0], np.argwhere(x != 0)), canonical=_stored),
    Kernel("jax.numpy.asarray", "creation", ints(BIG_SIDE, BIG_SIDE), dtypes=ALL_NO_INT64, setup=_asarray_setup,
           reference=lambda x: (True, x), out_dtype=same(*ALL_NO_INT64)),
    Kernel("jax.numpy.ones_like", "creation", ints(BIG_SIDE, BIG_SIDE), dtypes=ALL_NO_INT64, reference=np.ones_like,
           out_dtype=same(*ALL_NO_INT64)),
]
