"""Reductions, scans and sorts."""

import numpy as np

from portability.catalog import Kernel

FLOATS = ("float32", "float64", "float16", "bfloat16")
#: Rows of 512 at every size (only their number grows), so row-wise accumulations keep their length.
ROWS = ((8, 2048), 512)
#: A reduction (of 64 to 1M terms) rounds its float32/float16 result once but accumulates in a wider
#: type on the CPU; these bounds leave room for the accumulation order, not for wrong sums.
SUM_TOL = {"float32": (1e-4, 1e-5), "float16": (1e-2, 4e-3), "bfloat16": (4e-2, 1.5e-2)}


def _rows(rng):
    return {"x": rng.standard_normal(rng.dims(*ROWS))}


def _ints(dim):
    """Small integer entries (exact in every dtype, and a full sum that fits in float16: about
    +-6000 for 1M entries); ``dim`` None sums everything."""
    return lambda rng: {"x": rng.integers(-10, 11, rng.dims((64, 1024), (64, 1024))).astype(np.float64), "dim": dim}


def _sum(c, x, dim):
    return c.fn(x) if dim is None else c.fn(x, dim=dim)


def _sort_keys(rng):
    """Keys on a coarse grid: duplicates are common, so only a stable sort is well defined."""
    return {"x": np.round(rng.standard_normal(rng.dims((4, 1024), 1024)) * 20)}


def _odd(rng):
    return {"x": rng.standard_normal(rng.pick(4095, (1 << 20) - 1))}


KERNELS = [
    Kernel("torch.sum", "reduction", {"all": _ints(None), "dim": _ints(1)},
           dtypes=("int64", "float32", "float64", "float16", "bfloat16", "bool"),
           call=_sum, reference=lambda x, dim: np.sum(x, axis=dim), out_dtype={"int64": "int64", "bool": "int64",
                                                   "float32": "float32", "float64": "float64",
                                                   "float16": "float16", "bfloat16": "bfloat16"},
           tol=SUM_TOL, tags=("paper",), decile=100, frequency=2636,
           note="integer and bool sums promote to int64"),
    Kernel("torch.argsort", "reduction", _sort_keys, dtypes=(*FLOATS, "int64"),
           call=lambda c, x: c.fn(x, dim=-1, stable=True), reference=lambda x: np.argsort(x, axis=-1, kind="stable"),
           out_dtype="int64", tags=("paper",), decile=90, frequency=111),
    Kernel("torch.cumsum", "reduction", _rows, dtypes=FLOATS, call=lambda c, x: c.fn(x, dim=1),
           reference=lambda x: np.cumsum(x, axis=1), tol=SUM_TOL),
    Kernel("torch.logsumexp", "reduction", _rows, dtypes=FLOATS, call=lambda c, x: c.fn(x, dim=1),
           reference=lambda x: np.log(np.sum(np.exp(x), axis=1))),
    Kernel("torch.median", "reduction", _odd, dtypes=(*FLOATS, "int64"), reference=np.median,
           note="an odd count: the median is one of the elements"),
    Kernel("torch.quantile", "reduction", _rows, dtypes=FLOATS, call=lambda c, x: c.fn(x, 0.9, dim=1),
           reference=lambda x: np.quantile(x, 0.9, axis=1)),
]
