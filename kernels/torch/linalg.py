"""torch.linalg and matrix products.

On the CPU, torch's LAPACK-backed routines (factorisations, solves, determinants) have no float16/bfloat16
kernels: those cases show the refusals users meet when they port half-precision code, either as an explicit
dtype refusal or as a missing ``*_cpu`` kernel.
"""

import numpy as np
import scipy.linalg

from portability.catalog import FLOATS, SIDE, Kernel, matmul, paper, spd, well_conditioned

#: Iterative eigen/singular-value solvers and pivoted factorisations lose a few digits in float32.
ITER_TOL = {"float32": (1e-3, 1e-4), "float64": (1e-7, 1e-9)}
#: Dot products of a few hundred terms: half-precision outputs round once, accumulation is wider.
DOT_TOL = {"float16": (2e-2, 3e-3), "bfloat16": (5e-2, 1.5e-2)}


def _small_entries(rng):
    """Matrix and two vectors with a few exact zeros (so int/bool casts stay interesting)."""
    n = rng.pick(64, 1024)
    return {
        "m": np.round(rng.standard_normal((n, n)) * 2, 1),
        "a": np.round(rng.standard_normal(n) * 2, 1),
        "b": np.round(rng.standard_normal(n) * 2, 1),
    }


def _addr_ref(m, a, b):
    if m.dtype == np.bool_:
        return m | np.outer(a, b)
    return m + np.outer(a, b)


def _duplicated_rows(rng):
    """nxn matrix of rank n/2: every row appears twice, which survives rounding to any dtype."""
    n = rng.pick(*SIDE)
    half = rng.standard_normal((n // 2, n))
    return {"a": np.concatenate([half, half], axis=0)[rng.permutation(n)]}


def _qr_inputs(rng):
    n, k = rng.dims(SIDE, (16, 64))
    return {"a": rng.standard_normal((n, n)) + 4 * np.eye(n), "b": rng.standard_normal((n, k))}


def _ormqr_setup(c, a, b):
    # The Householder factors come from geqrf in float64 and are rounded to the case dtype, so
    # the case times (and judges) ormqr itself, not geqrf.
    qr, tau = c.fw.geqrf(a.double())
    qr, tau = qr.to(a.dtype), tau.to(a.dtype)
    return lambda: c.fn(qr, tau, b)


def _triangular(rng):
    n, k = rng.dims(SIDE, (16, 64))
    # A diagonal of sqrt(n) keeps the back substitution from growing with n (as 8 did at n = 64).
    a = np.triu(rng.standard_normal((n, n))) + np.sqrt(n) * np.eye(n)
    return {"b": rng.standard_normal((n, k)), "a": a}


def _sparse_operands(rng):
    def sparse(shape, density):
        return rng.standard_normal(shape) * (rng.uniform(size=shape) < density)

    n, k = rng.dims((64, 512), (64, 512))
    return {"x": sparse((n, k), 0.1), "m1": sparse((n, n), 0.1), "m2": rng.standard_normal((n, k))}


def _saddmm_setup(c, x, m1, m2):
    xs, m1s = x.to_sparse(), m1.to_sparse()
    return lambda: c.fn(xs, m1s, m2)


def _diag_vector(rng):
    return {"x": np.round(rng.standard_normal(rng.pick(64, 1024)) * 4, 1)}


def _diag_matrix(rng):
    n = rng.pick(64, 1024)
    return {"x": np.round(rng.standard_normal((n, n)) * 4, 1)}


def _solve_inputs(rng):
    n, k = rng.dims(SIDE, (8, 64))
    return {"a": rng.standard_normal((n, n)) + n * np.eye(n), "b": rng.standard_normal((n, k))}


def _spectrum(ev):
    """Eigenvalues as order-free sorted multisets (modulus, real and imaginary parts)."""
    ev = np.asarray(ev)
    return np.sort(np.abs(ev)), np.sort(ev.real), np.sort(ev.imag)


def _nonsymmetric(rng):
    return {"a": rng.standard_normal(rng.dims((64, 256), (64, 256)))}


# -- einsum ----------------------------------------------------------------------------------------

def _einsum_inputs(rng):
    b, h, s, d = rng.dims((1, 2), (2, 8), (32, 256), 64)
    return {"q": rng.standard_normal((b, h, s, d)), "k": rng.standard_normal((b, h, s, d)),
            "p": rng.uniform(0, 2.0 / s, (b, h, s, s)),  # attention-probability-like weights
            "t": np.arange(s, dtype=np.float64), "inv_freq": 1.0 / 10000 ** (np.arange(0, d, 2) / d)}


def _einsum_call(c, q, k, p, t, inv_freq):
    return (c.fn("bhqd,bhkd->bhqk", q, k), c.fn("bhqk,bhkd->bhqd", p, k),
            c.fn("i,j->ij", t, inv_freq))  # rotary frequencies: an outer product


def _einsum_ref(q, k, p, t, inv_freq):
    return np.einsum("bhqd,bhkd->bhqk", q, k), np.einsum("bhqk,bhkd->bhqd", p, k), np.outer(t, inv_freq)


# -- inverse ---------------------------------------------------------------------------------------

def _inverse_inputs(rng):
    n, b = rng.dims(SIDE, (64, 4096))
    a = rng.standard_normal((n, n)) + n * np.eye(n)  # well conditioned: low precision judged fairly
    rot, _ = np.linalg.qr(rng.standard_normal((b, 3, 3)))
    poses = np.zeros((b, 4, 4))  # camera-to-world poses: rotation, translation, [0 0 0 1]
    poses[:, :3, :3], poses[:, :3, 3], poses[:, 3, 3] = rot, rng.standard_normal((b, 3)), 1.0
    return {"a": a, "poses": poses}


# -- bmm -------------------------------------------------------------------------------------------

def _bmm_inputs(rng):
    b, n, k, m = rng.dims((4, 16), (32, 256), (32, 256), (32, 256))
    return {"a": rng.standard_normal((b, n, k)), "b": rng.standard_normal((b, k, m))}


# -- linalg.lstsq ----------------------------------------------------------------------------------

def _lstsq_inputs(rng):
    m, n, k = rng.dims((128, 1024), (64, 512), (8, 64))
    return {"a": rng.standard_normal((m, n)) / np.sqrt(m), "b": rng.standard_normal((m, k))}


KERNELS = [
    Kernel("torch.matmul", "linalg", matmul(SIDE, SIDE, SIDE), dtypes=FLOATS, reference=np.matmul,
           tol={"float16": (2e-2, 2e-3), "bfloat16": (5e-2, 1e-2)}),
    Kernel("torch.linalg.inv", "linalg", well_conditioned(SIDE), dtypes=FLOATS, reference=np.linalg.inv),
    Kernel("torch.linalg.cholesky", "linalg", spd(SIDE), dtypes=FLOATS, reference=np.linalg.cholesky),
    # Not in the paper's torch sample (the CSV has no svd row for torch), so not tagged paper.
    Kernel("torch.linalg.svd", "linalg", well_conditioned(SIDE), dtypes=FLOATS,
           call=lambda c, a: c.fn(a, full_matrices=False),
           reference=lambda a: np.linalg.svd(a, full_matrices=False),
           canonical=lambda out: out[1]),
    Kernel("torch.linalg.qr", "linalg", well_conditioned(SIDE), dtypes=FLOATS,
           reference=np.linalg.qr,
           # |R| does not depend on the sign convention of the Householder reflections.
           canonical=lambda out: np.abs(out[1]), tol=ITER_TOL),
    Kernel("torch.linalg.eigh", "linalg", spd(SIDE), dtypes=FLOATS, reference=np.linalg.eigh,
           canonical=lambda out: out[0], tol=ITER_TOL),
    Kernel("torch.linalg.eig", "linalg", _nonsymmetric, dtypes=FLOATS, reference=np.linalg.eig,
           canonical=lambda out: _spectrum(out[0]),
           out_dtype={"float32": "complex64", "float64": "complex128"}, tol=ITER_TOL,
           note="complex eigenpairs of a real matrix: the output dtype is complex by design"),
    Kernel("torch.linalg.solve", "linalg", _solve_inputs, dtypes=FLOATS, reference=np.linalg.solve),
    Kernel("torch.addr", "linalg", _small_entries,
           dtypes=("float32", "float64", "float16", "bfloat16", "int64", "bool"),
           reference=_addr_ref, **paper(10, 1)),
    Kernel("torch.logdet", "linalg", spd(SIDE), dtypes=FLOATS,
           reference=lambda a: np.linalg.slogdet(a)[1], **paper(10, 1)),
    Kernel("torch.linalg.matrix_rank", "linalg", _duplicated_rows, dtypes=FLOATS,
           reference=np.linalg.matrix_rank, out_dtype="int64", **paper(10, 1)),
    Kernel("torch.ormqr", "linalg", _qr_inputs, dtypes=FLOATS, setup=_ormqr_setup,
           reference=lambda a, b: np.linalg.qr(a, mode="complete")[0] @ b,
           tol={"float16": (3e-2, 5e-3), "bfloat16": (8e-2, 2e-2)},
           **paper(40, 4)),
    Kernel("torch.triangular_solve", "linalg", _triangular, dtypes=(*FLOATS, "complex64"),
           reference=lambda b, a: (scipy.linalg.solve_triangular(a, b), np.triu(a)),
           **paper(50, 7), note="deprecated in favour of torch.linalg.solve_triangular"),
    Kernel("torch.saddmm", "linalg", _sparse_operands, dtypes=FLOATS, setup=_saddmm_setup,
           reference=lambda x, m1, m2: x + m1 @ m2, **paper(20, 2),
           note="sparse COO input and mat1, dense mat2; the output is sparse"),
    Kernel("torch.diag", "linalg", {"vector": _diag_vector, "matrix": _diag_matrix},
           dtypes=("float32", "float64", "float16", "bool"),
           reference=np.diag, **paper(90, 145)),
    Kernel("torch.einsum", "linalg", _einsum_inputs, dtypes=FLOATS, call=_einsum_call, reference=_einsum_ref,
           tol=DOT_TOL, note="attention scores, probabilities times values, the rotary outer product"),
    Kernel("torch.inverse", "linalg", _inverse_inputs, dtypes=FLOATS, call=lambda c, a, poses: (c.fn(a), c.fn(poses)),
           reference=lambda a, poses: (np.linalg.inv(a), np.linalg.inv(poses)),
           note="a well-conditioned matrix and a batch of 4x4 camera poses"),
    Kernel("torch.bmm", "linalg", _bmm_inputs, dtypes=(*FLOATS, "complex64"), reference=np.matmul, tol=DOT_TOL),
    Kernel("torch.linalg.lstsq", "linalg", _lstsq_inputs, dtypes=FLOATS,
           call=lambda c, a, b: c.fn(a, b).solution,
           reference=lambda a, b: np.linalg.lstsq(a, b, rcond=None)[0],
           note="a tall system (m = 2n), the solution only: residuals depend on the driver"),
]
