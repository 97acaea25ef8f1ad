"""Elementwise math, comparisons and bitwise ops, over floats and the integer types users feed them."""

import numpy as np

from portability.catalog import BIG_SIDE, Keep, Kernel, normal, uniform

FLOATS = ("float32", "float64", "float16", "bfloat16")
N = (BIG_SIDE, BIG_SIDE)  # 64x64 at small, 1024x1024 at medium


def _counts(rng):
    """Non-negative values: valid for log1p and exact when cast to uint8/int64."""
    return {"x": rng.uniform(0.0, 200.0, rng.dims(*N))}


def _bits(rng):
    return {"x": rng.integers(0, 128, rng.dims(*N)).astype(np.float64)}


def _where_inputs(rng):
    shape = rng.dims(*N)
    return {
        "cond": Keep(rng.uniform(size=shape) < 0.5),
        "x": rng.standard_normal(shape) * 10,
        "y": rng.standard_normal(shape) * 10,
    }


def _tenths(rng):
    """Pairs on a 0.1 grid: ties between x and y occur, and survive rounding to any dtype."""
    shape = rng.dims(*N)
    return {"x": np.round(rng.standard_normal(shape) * 3, 1), "y": np.round(rng.standard_normal(shape) * 3, 1)}


#: log1p of integer tensors promotes to the default float dtype (float32).
_PROMOTE = {**{d: d for d in FLOATS}, "int64": "float32", "uint8": "float32"}
_INT_TOL = {"int64": (1e-6, 1e-7), "uint8": (1e-6, 1e-7)}

KERNELS = [
    Kernel("torch.Tensor.log1p", "elementwise", _counts, dtypes=(*FLOATS, "int64", "uint8"),
           # NumPy computes log1p of uint8 in float16: widen first.
           reference=lambda x: np.log1p(x.astype(np.float64)), out_dtype=_PROMOTE, tol=_INT_TOL,
           tags=("paper",), decile=70, frequency=22),
    Kernel("torch.Tensor.round", "elementwise", normal(*N, scale=100.0), dtypes=(*FLOATS, "int64"),
           reference=np.round, tags=("paper",), decile=90, frequency=228,
           note="half-to-even, like NumPy"),
    Kernel("torch.lt", "elementwise", _tenths, dtypes=(*FLOATS, "int64"), reference=np.less,
           out_dtype="bool", tags=("paper",), decile=60, frequency=16),
    Kernel("torch.bitwise_not", "elementwise", _bits, dtypes=("int8", "uint8", "int16", "int32", "int64", "bool"),
           reference=np.invert, out_dtype={d: d for d in ("int8", "uint8", "int16", "int32", "int64", "bool")},
           tags=("paper",), decile=10, frequency=1),
    Kernel("torch.exp", "elementwise", uniform(*N, low=-10.0, high=10.0), dtypes=FLOATS, reference=np.exp),
    Kernel("torch.where", "elementwise", _where_inputs, dtypes=(*FLOATS, "int64"), reference=np.where),
]
