"""Tensor creation, shape manipulation and indexing, over every dtype users store in tensors."""

import numpy as np

from portability.catalog import BIG_SIDE, Keep, Kernel, nothing

FLOATS = ("float32", "float64", "float16", "bfloat16")
ALL = (*FLOATS, "complex64", "int64", "bool")


def _same(dtypes):
    return {d: d for d in dtypes}


def _dtype(c):
    return getattr(c.fw, c.dtype)


def _grid(*shape):
    """Values on a coarse grid with zeros: exact in every dtype, interesting for ints and bools."""
    return lambda rng: {"x": np.round(rng.standard_normal(rng.dims(*shape)) * 4)}


def _three(rng):
    cols = rng.pick(64, 1024)
    return {"a": np.round(rng.standard_normal((rng.pick(32, 512), cols)) * 4),
            "b": np.round(rng.standard_normal((rng.pick(16, 256), cols)) * 4),
            "d": np.round(rng.standard_normal((rng.pick(8, 128), cols)) * 4)}


def _broadcastable(rng):
    m, n, k = rng.dims((16, 64), (16, 128), (16, 128))
    return {"a": rng.standard_normal((m, 1, k)), "b": rng.standard_normal((1, n, 1)),
            "d": rng.standard_normal((k,))}


def _as_list(rng):
    """A nested Python list, as torch.tensor is mostly called; integer-valued so every dtype holds it."""
    return {"x": rng.integers(-100, 100, rng.dims(BIG_SIDE, BIG_SIDE)).astype(np.float64).tolist()}


def _side(rng):
    return {"n": rng.pick(64, 1024)}


def _gather_inputs(rng):
    rows, cols, k = rng.dims((64, 1024), (128, 2048), (64, 1024))
    return {"x": rng.standard_normal((rows, cols)), "idx": Keep(rng.integers(0, cols, (rows, k)))}


ZEROS_DTYPES = ("float32", "float64", "float16", "bfloat16", "int64", "uint8", "bool")
RANGE_DTYPES = ("float32", "float64", "float16", "bfloat16", "int64")

KERNELS = [
    # From the paper's sample.
    Kernel("torch.cat", "shape", _three, dtypes=ALL, call=lambda c, a, b, d: c.fn([a, b, d], dim=0),
           reference=lambda a, b, d: np.concatenate([a, b, d], axis=0), out_dtype=_same(ALL),
           tags=("paper",), decile=100, frequency=1622),
    Kernel("torch.zeros", "creation", _side, dtypes=ZEROS_DTYPES,
           call=lambda c, n: c.fn(n, n, dtype=_dtype(c), device=c.device),
           reference=lambda n: np.zeros((n, n)), out_dtype=_same(ZEROS_DTYPES),
           tags=("paper",), decile=100, frequency=1845),
    # One size: float16 holds the integers only up to 2048 (and overflows at 65504), and an int64
    # range cannot take a fractional step, so a longer range would test the dtypes, not torch.range.
    Kernel("torch.range", "creation", nothing(), dtypes=RANGE_DTYPES,
           call=lambda c: c.fn(0, 999, dtype=_dtype(c), device=c.device),
           reference=lambda: np.arange(0.0, 1000.0), out_dtype=_same(RANGE_DTYPES),
           tags=("paper",), decile=100, frequency=4495,
           note="deprecated (end-inclusive); 0..999 is exact in float16, rounded in bfloat16"),
    Kernel("torch.tensor", "creation", _as_list, dtypes=("float32", "float64", "float16", "bfloat16", "int64"),
           call=lambda c, x: c.fn(x, dtype=_dtype(c), device=c.device), reference=np.asarray,
           out_dtype=_same(("float32", "float64", "float16", "bfloat16", "int64")),
           tags=("paper",), decile=100, frequency=1597),
    Kernel("torch.fliplr", "shape", _grid(BIG_SIDE, BIG_SIDE),
           dtypes=("float32", "float64", "float16", "complex128", "int64"), reference=np.fliplr,
           tags=("paper",), decile=60, frequency=10),
    Kernel("torch.moveaxis", "shape", _grid((2, 8), (8, 16), 16, (16, 512)),
           dtypes=("float32", "float64", "complex128", "int64"),
           call=lambda c, x: c.fn(x, 0, -1), reference=lambda x: np.moveaxis(x, 0, -1),
           tags=("paper",), decile=70, frequency=25),
    Kernel("torch.unsqueeze", "shape", _grid(BIG_SIDE, BIG_SIDE), dtypes=("float32", "float64", "float16", "int64"),
           call=lambda c, x: c.fn(x, 1), reference=lambda x: np.expand_dims(x, 1),
           tags=("paper",), decile=100, frequency=1367),
    Kernel("torch.broadcast_tensors", "shape", _broadcastable, dtypes=(*FLOATS, "int64"),
           reference=lambda a, b, d: np.broadcast_arrays(a, b, d), tags=("paper",), decile=50, frequency=7),
    Kernel("torch.Tensor.unbind", "shape", _grid(8, (32, 512), (16, 256)), dtypes=(*FLOATS, "int64"),
           reference=lambda x: tuple(x), tags=("paper",), decile=80, frequency=38),
    # One size: a shape query does the same work whatever the tensor holds.
    Kernel("torch.Tensor.size", "utility", _grid(8, 16, 32), dtypes=("float32", "int64"),
           reference=lambda x: x.shape, tags=("paper",), decile=100, frequency=4571,
           note="returns torch.Size, a tuple of Python ints"),
    # Common creation and indexing ops.
    Kernel("torch.gather", "indexing", _gather_inputs, dtypes=("float32", "float64", "bfloat16", "int64"),
           call=lambda c, x, idx: c.fn(x, 1, idx), reference=lambda x, idx: np.take_along_axis(x, idx, axis=1)),
    Kernel("torch.nn.functional.one_hot", "indexing",
           lambda rng: {"t": Keep(rng.integers(0, 100, rng.pick(256, 10240)))}, dtypes=("int64",),
           call=lambda c, t: c.fn(t, 100), reference=lambda t: np.eye(100, dtype=np.int64)[t], out_dtype="int64"),
]
