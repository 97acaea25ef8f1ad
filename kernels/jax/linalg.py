"""jax.numpy.linalg, jax.scipy.linalg, jax.lax.linalg, matrix products, einsum, correlations and convolutions,
and the sparsify transform.
"""

import numpy as np
import scipy.linalg
import scipy.signal

from portability.catalog import (
    BIG_SIDE,
    FLOATS,
    SIDE,
    VEC,
    Keep,
    Kernel,
    matmul,
    normal,
    pair,
    paper,
    same,
    sparse_matrix,
    spd,
    well_conditioned,
)

#: complex outputs of real inputs: what the eigen-decomposition of each input dtype should give
COMPLEX_OF = {"float32": "complex64", "float64": "complex128", "float16": "complex64", "bfloat16": "complex64"}
TALL = ((128, 512), (64, 256))  # for SVD and QR: 128x64 at small, 512x256 at medium
#: Sums of a few hundred products rounded in half precision (as for the catalog's matmul and convolve).
HALF_SUMS = {"float16": (2e-2, 2e-3), "bfloat16": (5e-2, 1e-2)}
#: about one entry in ten nonzero, small integers: exact in every dtype
_SPARSE = sparse_matrix(BIG_SIDE, BIG_SIDE)


def _distinct_eigs(n):
    """Q diag(1..n) Q^-1 with Q near the identity: nonsymmetric, real, well-separated eigenvalues."""

    def build(rng):
        (side,) = rng.dims(n)
        q = np.eye(side) + 0.1 * rng.standard_normal((side, side)) / np.sqrt(side)
        return {"a": q @ np.diag(np.arange(1.0, side + 1)) @ np.linalg.inv(q)}

    return build


def _eigenvalues(out):
    """Eigenvalues only (eigenvectors are defined up to scale), sorted: real and distinct here."""
    return np.sort_complex(np.asarray(out[0]))


def _reconstructed(out):
    """A decomposition (T, Z) as Z T Z^H: Schur and Hessenberg factors are unique only up to signs
    and, for complex eigenvalue pairs, 2x2 blocks; their product is the input."""
    t, z = (np.asarray(p, dtype=np.complex128) for p in out)
    return z @ t @ z.conj().T


def _svd_canonical(out):
    """Singular values and the reconstruction U diag(S) Vh (U, Vh are unique only up to signs)."""
    u, s, vh = (np.asarray(p, dtype=np.float64) for p in out)
    return [s, (u * s) @ vh]


def _qr_canonical(out):
    """|diag R| and the product QR (Q and R are unique only up to column signs)."""
    q, r = (np.asarray(p, dtype=np.float64) for p in out)
    return [np.abs(np.diag(r)), q @ r]


def _eigh_canonical(out):
    return out[0]  # ascending eigenvalues in both JAX and NumPy


def _near_identity(n, batch):
    """A batch of I + small noise: determinants of order one, representable in every dtype."""
    def build(rng):
        side, count = rng.dims(n, batch)
        return {"a": np.eye(side) + 0.3 * rng.standard_normal((count, side, side)) / np.sqrt(side)}

    return build


def _contractions(path_and_report):
    """The contraction order of an einsum_path result, as text (NumPy prefixes it with 'einsum_path')."""
    return str([tuple(p) for p in path_and_report[0] if p != "einsum_path"])


def _conv_inputs(rng):
    return {"x": rng.standard_normal(rng.pick(4096, 1 << 20)), "k": rng.standard_normal(63)}


def _conv2d_inputs(rng):
    return {"x": rng.standard_normal(rng.dims((64, 1024), (64, 1024))), "k": rng.standard_normal((7, 7))}


def _solve_inputs(rng):
    n, k = rng.dims((64, 512), (16, 64))
    return {"a": rng.standard_normal((n, n)) + n * np.eye(n), "b": rng.standard_normal((n, k))}


def _einsum_inputs(rng):
    b, i, j, k = rng.dims((8, 16), (64, 256), (32, 128), (48, 256))
    return {"a": rng.standard_normal((b, i, j)), "b": rng.standard_normal((b, j, k))}


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


def _correlate_inputs(mode):
    def build(rng):
        return {"a": rng.standard_normal(rng.pick(4096, 1 << 20)), "v": rng.standard_normal(64), "mode": mode}

    return build


def _pivots(rng):
    """LAPACK-style row swaps: at step i, row i is swapped with a row p >= i."""
    batch, n = rng.dims((16, 2048), (64, 512))
    steps = np.arange(n)
    return {"pivots": Keep((steps + rng.integers(0, n - steps, (batch, n))).astype(np.int32))}


def _permutation_ref(pivots):
    batch, n = pivots.shape
    perm = np.tile(np.arange(n, dtype=np.int32), (batch, 1))
    rows = np.arange(batch)
    for i in range(n):
        p = pivots[:, i]
        perm[rows, i], perm[rows, p] = perm[rows, p], perm[rows, i].copy()
    return perm


def _sparse_and_vectors(rng):
    out = _SPARSE(rng)
    out["v"] = rng.standard_normal((out["x"].shape[1], 8))
    return out


def _sparsify_setup(c, x, v):
    mat = c.fw.experimental.sparse.BCOO.fromdense(x)  # the sparse operand is built once, untimed
    # The corpus's use: dense code (here a matmul) run unchanged on a sparse operand.
    apply = c.fn(lambda m, u: m @ u)
    return lambda: apply(mat, v)


KERNELS = [
    Kernel("jax.numpy.matmul", "linalg", matmul((256, 512), (256, 512), (256, 512)), dtypes=FLOATS, reference=np.matmul,
           tol={"float16": (2e-2, 2e-3), "bfloat16": (5e-2, 1e-2)}),
    Kernel("jax.numpy.linalg.inv", "linalg", well_conditioned((64, 512)), dtypes=FLOATS, reference=np.linalg.inv),
    Kernel("jax.numpy.linalg.svd", "linalg", normal(*TALL, name="a"), dtypes=FLOATS,
           call=lambda c, a: c.fn(a, full_matrices=False), reference=lambda a: np.linalg.svd(a, full_matrices=False),
           canonical=_svd_canonical, tol={"float32": (1e-4, 1e-4)}, **paper(50, 6)),
    Kernel("jax.lax.linalg.eig", "linalg", _distinct_eigs((64, 256)), dtypes=FLOATS,
           reference=lambda a: scipy.linalg.eig(a, left=True, right=True), canonical=_eigenvalues,
           out_dtype=COMPLEX_OF, **paper(30, 3)),
    # eig, Schur and Hessenberg have no TPU lowering in jax 0.10.2 (jax/_src/lax/linalg.py registers
    # eig_p, schur_p and hessenberg_p for the CPU, eig_p also for CUDA/ROCm): tests/tpu_facts.py
    Kernel("jax.numpy.linalg.eig", "linalg", _distinct_eigs((64, 256)), dtypes=FLOATS, reference=np.linalg.eig,
           canonical=_eigenvalues, out_dtype=COMPLEX_OF),
    Kernel("jax.scipy.linalg.schur", "linalg", normal((64, 256), (64, 256), name="a"), dtypes=FLOATS,
           reference=scipy.linalg.schur, canonical=_reconstructed),
    Kernel("jax.scipy.linalg.hessenberg", "linalg", normal((64, 256), (64, 256), name="a"), dtypes=FLOATS,
           call=lambda c, a: c.fn(a, calc_q=True), reference=lambda a: scipy.linalg.hessenberg(a, calc_q=True),
           canonical=_reconstructed),
    Kernel("jax.scipy.linalg.lu", "linalg", normal((128, 512), (128, 512), name="a"), dtypes=FLOATS,
           reference=scipy.linalg.lu, tol={"float32": (1e-4, 1e-4)}, **paper(10, 1)),
    Kernel("jax.numpy.linalg.cholesky", "linalg", spd((128, 512)), dtypes=FLOATS, reference=np.linalg.cholesky),
    Kernel("jax.numpy.linalg.solve", "linalg", _solve_inputs, dtypes=FLOATS, reference=np.linalg.solve),
    Kernel("jax.numpy.linalg.det", "linalg", _near_identity((32, 64), batch=(16, 256)), dtypes=FLOATS,
           reference=np.linalg.det),
    Kernel("jax.numpy.linalg.eigh", "linalg", spd((64, 512)), dtypes=FLOATS, reference=np.linalg.eigh,
           canonical=_eigh_canonical),
    Kernel("jax.numpy.linalg.qr", "linalg", normal(*TALL, name="a"), dtypes=FLOATS, reference=np.linalg.qr,
           canonical=_qr_canonical),
    # At medium the float16 sum of squares (~1M) overflows 65504 and JAX returns inf, though the
    # norm (~1024) is representable: a finding of the large size, not a builder artefact.
    Kernel("jax.numpy.linalg.norm", "linalg", normal((128, 1024), (128, 1024), name="a"), dtypes=FLOATS,
           reference=np.linalg.norm),
    Kernel("jax.numpy.einsum", "linalg", _einsum_inputs, dtypes=FLOATS, call=lambda c, a, b: c.fn("bij,bjk->bik", a, b),
           reference=lambda a, b: np.einsum("bij,bjk->bik", a, b),
           tol={"float16": (2e-2, 2e-3), "bfloat16": (5e-2, 1e-2)}),
    # einsum_path works on shapes only, on the host: the contraction order must match NumPy's.
    # One size: the array contents are never read.
    Kernel("jax.numpy.einsum_path", "linalg",
           lambda rng: {"a": rng.standard_normal((64, 8)), "b": rng.standard_normal((8, 256)),
                        "d": rng.standard_normal((256, 4))},
           dtypes=("float32",),
           call=lambda c, a, b, d: _contractions(c.fn("ij,jk,kl->il", a, b, d, optimize="optimal")),
           reference=lambda a, b, d: _contractions(np.einsum_path("ij,jk,kl->il", a, b, d, optimize="optimal")),
           **paper(40, 4)),
    Kernel("jax.numpy.convolve", "linalg", _conv_inputs, dtypes=FLOATS, call=lambda c, x, k: c.fn(x, k, mode="same"),
           reference=lambda x, k: np.convolve(x, k, mode="same"),
           tol={"float16": (2e-2, 2e-3), "bfloat16": (5e-2, 1e-2)}, **paper(30, 3)),
    Kernel("jax.scipy.signal.convolve2d", "linalg", _conv2d_inputs, dtypes=FLOATS,
           call=lambda c, x, k: c.fn(x, k, mode="full"),
           reference=lambda x, k: scipy.signal.convolve2d(x, k, mode="full"),
           tol={"float16": (2e-2, 2e-3), "bfloat16": (5e-2, 1e-2)}, **paper(50, 7)),
    Kernel("jax.lax.dot_general", "linalg", matmul((256, 512), (256, 512), (256, 512)), dtypes=FLOATS,
           call=lambda c, a, b: c.fn(a, b, (((1,), (0,)), ((), ()))), reference=np.matmul,
           tol={"float16": (2e-2, 2e-3), "bfloat16": (5e-2, 1e-2)}),
    Kernel("jax.numpy.vdot", "linalg", pair(VEC, names=("a", "b")), dtypes=(*FLOATS, "complex64"),
           reference=np.vdot),
    Kernel("jax.numpy.trace", "linalg", normal(BIG_SIDE, BIG_SIDE), dtypes=(*FLOATS, "complex64", "int32"),
           # an int32 trace sums in the default integer type, as NumPy's does: int64 with 64-bit types on
           reference=np.trace, out_dtype={**same(*FLOATS), "int32": "int64", "complex64": "complex64"}),
    Kernel("jax.numpy.linalg.slogdet", "linalg", _signed_dets, dtypes=(*FLOATS, "complex64"),
           # (sign, log|det|): the sign of complex input is complex, its log|det| real
           reference=np.linalg.slogdet, out_dtype=same(*FLOATS)),
    Kernel("jax.numpy.linalg.pinv", "linalg", _tall, dtypes=(*FLOATS, "complex64"), reference=np.linalg.pinv),
    Kernel("jax.scipy.linalg.solve_triangular", "linalg", _triangular, dtypes=(*FLOATS, "complex64"),
           call=lambda c, a, b: c.fn(a, b, lower=True),
           reference=lambda a, b: scipy.linalg.solve_triangular(a, b, lower=True)),
    Kernel("jax.numpy.correlate", "linalg", {"valid": _correlate_inputs("valid"), "full": _correlate_inputs("full")},
           dtypes=(*FLOATS, "complex64"), reference=np.correlate, tol=HALF_SUMS),
    Kernel("jax.numpy.linalg.eigvalsh", "linalg", spd((64, 512)), dtypes=FLOATS, reference=np.linalg.eigvalsh),
    Kernel("jax.lax.linalg.lu_pivots_to_permutation", "linalg", _pivots, dtypes=("int32",),
           call=lambda c, pivots: c.fn(pivots, pivots.shape[-1]), reference=_permutation_ref, out_dtype="int32"),
    # ~100 products per output at medium, summed in the case dtype (as for the catalog's matmul).
    Kernel("jax.experimental.sparse.sparsify", "linalg", _sparse_and_vectors, dtypes=FLOATS, setup=_sparsify_setup,
           reference=lambda x, v: x @ v, tol={"float16": (2e-2, 2e-3), "bfloat16": (5e-2, 1e-2)}),
]
