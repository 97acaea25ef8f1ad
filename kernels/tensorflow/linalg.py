"""tf.linalg, matrix products, einsum and linear operators.

TensorFlow registers most decompositions/solvers for float, double, half and complex on the CPU in the op
definition, but only ships CPU kernels for float/double/complex: float16 then fails with "Could not find
device for node" and bfloat16 is refused by the op's type list.
"""

import numpy as np
import scipy.linalg

from portability.catalog import FLOATS, SIDE, Kernel, matmul, normal, paper, spd, well_conditioned

#: Tall matrices for SVD: 64x48, or 512x384 at medium.
TALL = ((64, 512), (48, 384))
#: Sums of 256 (matmul) or 512 (matvec) products: linalg.py's matmul tolerances for half precision.
MATMUL_TOL = {"float16": (2e-2, 2e-3), "bfloat16": (5e-2, 1e-2)}
COMPLEX = ("complex64", "complex128")
#: Rows of a fixed reduced length: --size sets the number of rows, so the tolerances keep their meaning.
ROWS = (4, 1024)


def _svd_canonical(out):
    """(singular values, U diag(s) V^T) from TF's [s, u, v]; the reference is already a tuple."""
    if isinstance(out, tuple):
        return out
    s, u, v = (np.asarray(o, dtype=np.float64) for o in out)
    return s, (u * s[..., None, :]) @ np.swapaxes(v, -1, -2)


def _eigh_canonical(out):
    """(eigenvalues, V diag(e) V^T) from TF's [e, v]; the reference is already a tuple."""
    if isinstance(out, tuple):
        return out
    e, v = (np.asarray(o, dtype=np.float64) for o in out)
    return e, (v * e[..., None, :]) @ np.swapaxes(v, -1, -2)


def _qr_canonical(out):
    """(Q R, |diag R|): the factorisation is unique up to the signs of R's diagonal."""
    if isinstance(out, tuple):
        return out
    q, r = (np.asarray(o, dtype=np.float64) for o in out)
    return q @ r, np.abs(np.diagonal(r, axis1=-2, axis2=-1))


def _qr_reference(a):
    r = np.linalg.qr(a, mode="reduced")[1]
    return a, np.abs(np.diagonal(r, axis1=-2, axis2=-1))


def _real_spectrum(side):
    """S diag(1..n) S^-1 with a well-conditioned S: a general matrix with real, distinct eigenvalues."""

    def build(rng):
        (n,) = rng.dims(side)
        s = rng.standard_normal((n, n)) + 2 * np.sqrt(n) * np.eye(n)
        return {"a": s @ np.diag(np.arange(1.0, n + 1)) @ np.linalg.inv(s)}

    return build


def _eig_canonical(out):
    w = out[0] if isinstance(out, list) else out
    return np.sort(np.real(np.asarray(w)))


def _lower_triangular(side, k):
    def build(rng):
        n, k_ = rng.dims(side, k)
        return {"a": np.tril(rng.standard_normal((n, n))) + n * np.eye(n), "b": rng.standard_normal((n, k_))}

    return build


def _set_diag_inputs(rng):
    batch, n = rng.dims((1, 64), (64, 128))
    return {"x": rng.integers(-3, 4, (batch, n, n)).astype(np.float64),
            "diag": rng.integers(-3, 4, (batch, n)).astype(np.float64)}


def _set_diag_ref(x, diag):
    out = np.array(x, copy=True)
    i = np.arange(x.shape[-1])
    out[..., i, i] = diag
    return out


def _solve_inputs(rng):
    n = rng.pick(64, 512)
    return {"a": rng.standard_normal((n, n)) + n * np.eye(n), "b": rng.standard_normal((n, 16))}


def _expm_inputs(rng):
    """Entries of sd 0.8/sqrt(n) (0.1 at n=64): the spectral norm, hence the scaling-and-squaring
    work and the conditioning, stays about 1.6 at every size."""
    n = rng.pick(32, 512)
    return {"a": rng.standard_normal((n, n)) * 0.8 / np.sqrt(n)}


def _batched_matmul(rng):
    """a @ b^T as attention scores: (B, M, 256) x (B, M, 256); 256 products per output at both sizes."""
    b, m = rng.dims((1, 8), (64, 512))
    return {"a": rng.standard_normal((b, m, 256)), "b": rng.standard_normal((b, m, 256))}


def _matvec_inputs(rng):
    """An (rows, 512) operator times a 512-vector: 512 products per output at both sizes."""
    (rows,) = rng.dims((8, 2048))
    return {"a": rng.standard_normal((rows, 512)), "x": rng.standard_normal(512)}


def _matvec_setup(c, a, x):
    op = c.fw.linalg.LinearOperatorFullMatrix(a)
    return lambda: c.fn(op, x)


def _attention(rng):
    """Scores of attention heads, q @ k^T over a head dimension of 64: 64K or 1M outputs."""
    b, h, t = rng.dims((2, 8), (4, 8), (32, 128))
    return {"q": rng.standard_normal((b, h, t, 64)), "k": rng.standard_normal((b, h, t, 64))}


def _normalize_ref(x):
    norm = np.sqrt(np.sum(x * x, axis=-1, keepdims=True))
    return x / norm, norm


def _kron_inputs(rng):
    """Two square factors whose Kronecker product is 64x64 or 1024x1024."""
    a, b = rng.dims((8, 32), (8, 32))
    return {"a": rng.standard_normal((a, a)), "b": rng.standard_normal((b, b))}


def _kron_setup(c, a, b):
    linalg = c.fw.linalg
    op = linalg.LinearOperatorKronecker([linalg.LinearOperatorFullMatrix(a), linalg.LinearOperatorFullMatrix(b)])
    return lambda: c.fn(op)


KERNELS = [
    Kernel("tf.linalg.matmul", "linalg", matmul(SIDE, SIDE, SIDE), dtypes=FLOATS, reference=np.matmul,
           tol={"float16": (2e-2, 2e-3), "bfloat16": (5e-2, 1e-2)}),
    Kernel("tf.linalg.inv", "linalg", well_conditioned(SIDE), dtypes=FLOATS, reference=np.linalg.inv),
    Kernel("tf.linalg.svd", "linalg", lambda rng: {"a": rng.standard_normal(rng.dims(*TALL))}, dtypes=FLOATS,
           reference=lambda a: (np.linalg.svd(a, compute_uv=False), a), canonical=_svd_canonical,
           **paper(70, 22),
           note="checked as (singular values, U diag(s) V^T): singular vectors are unique only up to sign"),
    Kernel("tf.linalg.cholesky", "linalg", spd(SIDE), dtypes=FLOATS, reference=np.linalg.cholesky),
    Kernel("tf.linalg.solve", "linalg", _solve_inputs, dtypes=FLOATS, reference=np.linalg.solve),
    Kernel("tf.linalg.triangular_solve", "linalg", _lower_triangular(SIDE, (16, 512)), dtypes=FLOATS,
           reference=lambda a, b: scipy.linalg.solve_triangular(a, b, lower=True)),
    Kernel("tf.linalg.eigh", "linalg", spd(SIDE), dtypes=FLOATS,
           reference=lambda a: (np.linalg.eigvalsh(a), a), canonical=_eigh_canonical,
           note="checked as (eigenvalues, V diag(e) V^T): eigenvectors are unique only up to sign"),
    Kernel("tf.linalg.eig", "linalg", _real_spectrum((32, 256)), dtypes=FLOATS,
           out_dtype={"float32": "complex64", "float64": "complex128", "float16": "complex64", "bfloat16": "complex64"},
           reference=np.linalg.eigvals, canonical=_eig_canonical,
           note="complex eigenvalues of a matrix with real spectrum 1..n, compared sorted by real part"),
    # A batch of 128x96 matrices: the float16 tolerance below is set for 96 reflections, so medium
    # takes more matrices (64), not larger ones.
    Kernel("tf.linalg.qr", "linalg", lambda rng: {"a": rng.standard_normal(rng.dims((1, 64), 128, 96))}, dtypes=FLOATS,
           reference=_qr_reference, canonical=_qr_canonical, tol={"float16": (2e-2, 5e-3)},
           note="checked as (Q R, |diag R|): R's diagonal signs are not unique; float16 Householder QR's "
                "backward error grows with n*eps*|A| (96 reflections), hence the matmul-like float16 tolerance"),
    # det(n I + noise) grows like n^n (past float32's range from n = 27): medium takes more 16x16
    # matrices, not larger ones.
    Kernel("tf.linalg.det", "linalg", well_conditioned(16, batch=((1, 4096),)), dtypes=FLOATS, reference=np.linalg.det),
    Kernel("tf.linalg.expm", "linalg", _expm_inputs, dtypes=FLOATS,
           reference=scipy.linalg.expm),
    Kernel("tf.linalg.set_diag", "linalg", _set_diag_inputs,
           dtypes=("float32", "float64", "float16", "bfloat16", "int32", "int64", "bool"),
           reference=_set_diag_ref, **paper(20, 2)),
    Kernel("tf.matmul", "linalg", _batched_matmul, dtypes=FLOATS,
           call=lambda c, a, b: c.fn(a, b, transpose_b=True),
           reference=lambda a, b: a @ np.swapaxes(b, -1, -2), tol=MATMUL_TOL),
    # The operator's constructor refuses bfloat16 matrices in Python (its dtype list stops at float16).
    Kernel("tf.linalg.LinearOperatorFullMatrix.matvec", "linalg", _matvec_inputs, dtypes=FLOATS,
           setup=_matvec_setup, reference=lambda a, x: a @ x, tol=MATMUL_TOL,
           note="operator built untimed from the matrix; matvec timed"),
    Kernel("tf.einsum", "linalg", _attention, dtypes=(*FLOATS, "complex64"),
           call=lambda c, q, k: c.fn("bhqd,bhkd->bhqk", q, k),
           reference=lambda q, k: np.einsum("bhqd,bhkd->bhqk", q, k), tol=MATMUL_TOL,
           note="attention scores: batch x heads x queries x keys over a head dimension of 64"),
    Kernel("tf.linalg.normalize", "linalg", normal(ROWS, 1024), dtypes=FLOATS, call=lambda c, x: c.fn(x, axis=-1),
           reference=_normalize_ref, note="rows of 1024 to unit Euclidean norm; returns the norms too"),
    Kernel("tf.linalg.LinearOperatorKronecker.to_dense", "linalg", _kron_inputs, dtypes=(*FLOATS, *COMPLEX),
           setup=_kron_setup, reference=np.kron, note="operator of two full matrices built untimed; to_dense timed"),
]
