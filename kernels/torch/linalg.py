"""torch.linalg and matrix products.

On the CPU, torch's LAPACK-backed routines (factorisations, solves, determinants) have no
float16/bfloat16 kernels: those cases show the refusals users meet when they port half-precision
code, either as an explicit dtype refusal or as a missing ``*_cpu`` kernel.
"""

import numpy as np
import scipy.linalg

from portability.catalog import SIDE, Kernel, matmul, spd, well_conditioned

FLOATS = ("float32", "float64", "float16", "bfloat16")
#: Iterative eigen/singular-value solvers and pivoted factorisations lose a few digits in float32.
ITER_TOL = {"float32": (1e-3, 1e-4), "float64": (1e-7, 1e-9)}


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
    # From the paper's sample.
    Kernel("torch.addr", "linalg", _small_entries,
           dtypes=("float32", "float64", "float16", "bfloat16", "int64", "bool"),
           reference=_addr_ref, tags=("paper",), decile=10, frequency=1),
    Kernel("torch.logdet", "linalg", spd(SIDE), dtypes=FLOATS,
           reference=lambda a: np.linalg.slogdet(a)[1], tags=("paper",), decile=10, frequency=1),
    Kernel("torch.linalg.matrix_rank", "linalg", _duplicated_rows, dtypes=FLOATS,
           reference=np.linalg.matrix_rank, out_dtype="int64", tags=("paper",), decile=10, frequency=1),
    Kernel("torch.ormqr", "linalg", _qr_inputs, dtypes=FLOATS, setup=_ormqr_setup,
           reference=lambda a, b: np.linalg.qr(a, mode="complete")[0] @ b,
           tol={"float16": (3e-2, 5e-3), "bfloat16": (8e-2, 2e-2)},
           tags=("paper",), decile=40, frequency=4),
    Kernel("torch.triangular_solve", "linalg", _triangular, dtypes=(*FLOATS, "complex64"),
           reference=lambda b, a: (scipy.linalg.solve_triangular(a, b), np.triu(a)),
           tags=("paper",), decile=50, frequency=7, note="deprecated in favour of torch.linalg.solve_triangular"),
    Kernel("torch.saddmm", "linalg", _sparse_operands, dtypes=FLOATS, setup=_saddmm_setup,
           reference=lambda x, m1, m2: x + m1 @ m2, tags=("paper",), decile=20, frequency=2,
           note="sparse COO input and mat1, dense mat2; the output is sparse"),
    Kernel("torch.diag", "linalg", {"vector": _diag_vector, "matrix": _diag_matrix},
           dtypes=("float32", "float64", "float16", "bool"),
           reference=np.diag, tags=("paper",), decile=90, frequency=145),
]
