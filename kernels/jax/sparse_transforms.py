"""jax.experimental.sparse: the sparsify transform and BCOO squeeze, from the usage sample."""


from portability.catalog import BIG_SIDE, Kernel, same, sparse_matrix

FLOATS = ("float32", "float64", "float16", "bfloat16")
DTYPES = (*FLOATS, "int32")
#: about one entry in ten nonzero, small integers: exact in every dtype
_SPARSE = sparse_matrix(BIG_SIDE, BIG_SIDE)


def _sparse_and_vectors(rng):
    out = _SPARSE(rng)
    out["v"] = rng.standard_normal((out["x"].shape[1], 8))
    return out


def _sparsify_setup(c, x, v):
    mat = c.fw.experimental.sparse.BCOO.fromdense(x)  # the sparse operand is built once, untimed
    # The corpus's use: dense code (here a matmul) run unchanged on a sparse operand.
    apply = c.fn(lambda m, u: m @ u)
    return lambda: apply(mat, v)


def _squeeze_setup(c, x):
    mat = c.fw.experimental.sparse.BCOO.fromdense(x[None])  # a leading batch axis of one
    return lambda: c.fn(mat, dimensions=(0,)).todense()


KERNELS = [
    # ~100 products per output at medium, summed in the case dtype (as for the catalog's matmul).
    Kernel("jax.experimental.sparse.sparsify", "linalg", _sparse_and_vectors, dtypes=FLOATS, setup=_sparsify_setup,
           reference=lambda x, v: x @ v, tol={"float16": (2e-2, 2e-3), "bfloat16": (5e-2, 1e-2)}),
    Kernel("jax.experimental.sparse.bcoo_squeeze", "shape", _SPARSE, dtypes=DTYPES, setup=_squeeze_setup,
           reference=lambda x: x, out_dtype=same(*DTYPES)),
]
