"""jax.experimental.sparse BCOO functions from the usage sample (keras's JAX backend uses them)."""

import numpy as np

from portability.catalog import BIG_SIDE, Kernel, same, sparse_matrix

FLOATS = ("float32", "float64", "float16", "bfloat16")
DTYPES = (*FLOATS, "int32")
#: about one entry in ten nonzero, small integers: exact in every dtype
_SPARSE = sparse_matrix(BIG_SIDE, BIG_SIDE)


def _reduce_sum_setup(c, x):
    mat = c.fw.experimental.sparse.BCOO.fromdense(x)  # the sparse operand is built once, untimed
    return lambda: c.fn(mat, axes=(1,)).todense()


def _fromdense(c, x):
    mat = c.fn(x)
    return mat.data, mat.indices


def _stored(out):
    """The stored (value, row, column) triples in row-major order: BCOO fixes no order of its own."""
    data, indices = (np.asarray(p) for p in out)
    order = np.lexsort(indices.T[::-1])
    return [data[order], indices[order]]


KERNELS = [
    Kernel("jax.experimental.sparse.bcoo_reduce_sum", "reduction", _SPARSE, dtypes=DTYPES, setup=_reduce_sum_setup,
           reference=lambda x: x.sum(axis=1), out_dtype=same(*DTYPES)),
    # Stores exactly the nonzeros (nse is their count when the input is concrete).
    Kernel("jax.experimental.sparse.bcoo_fromdense", "creation", _SPARSE, dtypes=DTYPES, call=_fromdense,
           reference=lambda x: (x[x != 0], np.argwhere(x != 0)), canonical=_stored, out_dtype=None),
]
