"""Tensor methods from the usage sample: views, casts, clamps, minima, lerp and sizes, on device tensors.

View methods (transpose, permute, unfold) return strided views; models follow them with a copy
(``.contiguous()``) or a kernel that reads the strides, so both the view and its materialised copy
are checked, along with whether the view really aliases its base.
"""

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from portability.catalog import Kernel, normal, uniform

FLOATS = ("float32", "float64", "float16", "bfloat16")
ALL = (*FLOATS, "complex64", "int64", "bool")
M = ((64, 1024), (64, 1024))  # 64x64 at small, 1024x1024 at medium


def _grid(*shape):
    """Values on a coarse grid with zeros: exact in every dtype, interesting for ints and bools."""
    return lambda rng: {"x": np.round(rng.standard_normal(rng.dims(*shape)) * 4)}


def _view_and_copy(c, x, view):
    return view, view.contiguous(), view.data_ptr() == x.data_ptr()


#: (batch, seq, heads, head_dim): 2x16x4x32 at small, 8x256x8x64 at medium.
HEADS = ((2, 8), (16, 256), (4, 8), (32, 64))


# -- reshape ---------------------------------------------------------------------------------------

def _reshape_inputs(rng):
    b, s, h, d = rng.dims(*HEADS)
    return {"x": np.round(rng.standard_normal((b, s, h * d)) * 4), "heads": h}


def _reshape_call(c, x, heads):
    b, s, e = x.shape
    split = c.fn(x, b, s, heads, -1)  # contiguous: a view
    merged = c.fn(x.transpose(0, 1), -1, e)  # not viewable: a copy
    return split, merged, split.data_ptr() == x.data_ptr(), merged.data_ptr() != x.data_ptr()


def _reshape_ref(x, heads):
    b, s, e = x.shape
    return x.reshape(b, s, heads, -1), np.swapaxes(x, 0, 1).reshape(-1, e), True, True


# -- unfold ----------------------------------------------------------------------------------------

def _unfold_inputs(rng):
    b, length = rng.dims((4, 64), (256, 4096))
    n, ch, side = rng.dims((2, 8), (3, 16), (16, 64))
    return {"ids": np.round(rng.uniform(0, 100, (b, length))),
            "image": np.round(rng.standard_normal((n, ch, side, side)) * 4)}


def _unfold_call(c, ids, image):
    ngrams = c.fn(ids, 1, 4, 2)  # transformers' n-gram windows: unfold(dimension=1, size=4, step=2)
    patches = c.fn(c.fn(image, 2, 8, 8), 3, 8, 8)  # non-overlapping 8x8 patches
    return ngrams, patches.contiguous(), ngrams.data_ptr() == ids.data_ptr()


def _unfold_ref(ids, image):
    n, ch, h, w = image.shape
    patches = image.reshape(n, ch, h // 8, 8, w // 8, 8).transpose(0, 1, 2, 4, 3, 5)
    return sliding_window_view(ids, 4, axis=1)[:, ::2], patches, True


# -- casts -----------------------------------------------------------------------------------------

CAST_FROM = ("float32", "float64", "float16", "bfloat16", "int64", "int32", "bool")


def _magnitudes(rng):
    """Fractions of every size, a few beyond float16's range (65504) and a few below its normals."""
    x = rng.standard_normal(rng.dims(*M)) * 300
    flat = x.reshape(-1)
    flat[::97] = rng.choice([-1.0, 1.0], flat[::97].shape) * 1e5
    flat[1::97] *= 1e-8
    return {"x": x}


def _nonnegative(rng):
    """Non-negative values (exact in uint8) that are not on float32's grid."""
    return {"x": rng.uniform(0, 250, rng.dims(*M))}


def _half_ref(x):
    with np.errstate(over="ignore"):
        return x.astype(np.float16)


def _long_ref(x):
    return x.astype(np.int64) if x.dtype.kind in "biu" else np.trunc(x).astype(np.int64)


# -- min / argmin over rows of distinct values -----------------------------------------------------

def _distinct_rows(rng):
    """Rows that are permutations of -128..127 (exact in every dtype, so no ties), plus one -200
    and one 200 placed at random: the whole tensor has a unique minimum and maximum."""
    rows = rng.pick(16, 4096)
    x = np.stack([rng.permutation(256) - 128.0 for _ in range(rows)])
    flat = x.reshape(-1)
    lo, hi = rng.choice(flat.size, 2, replace=False)
    flat[lo], flat[hi] = -200.0, 200.0
    return {"x": x}


def _min_call(c, x):
    values, indices = c.fn(x, dim=1)
    kept = c.fn(x, dim=1, keepdim=True)
    return c.fn(x), values, indices, kept.values


def _min_ref(x):
    return x.min(), x.min(axis=1), x.argmin(axis=1), x.min(axis=1, keepdims=True)


# -- lerp ------------------------------------------------------------------------------------------

def _lerp_inputs(rng):
    shape = rng.dims(*M)
    return {"start": rng.standard_normal(shape), "end": rng.standard_normal(shape), "w": rng.uniform(0, 1, shape)}


def _lerp_call(c, start, end, w):
    # diffusers: log-sigma midpoints (0.5) and classifier-free guidance (weight 4, extrapolating).
    return c.fn(start, end, 0.5), c.fn(start, end, 4.0), c.fn(start, end, w)


def _lerp_ref(start, end, w):
    return tuple(start + t * (end - start) for t in (0.5, 4.0, w))


# -- LongTensor.size -------------------------------------------------------------------------------

ROWS = [[101, 7592, 2088, 102], [101, 2023, 102, 0], [101, 102, 0, 0]]


def _long_tensor_size_call(c):
    torch = c.fw
    ids = torch.LongTensor(ROWS).to(c.device)  # the legacy constructor builds on the host
    empty = torch.LongTensor(3, 0)
    return ids, [c.fn(ids), c.fn(ids, 0), c.fn(ids, -1), c.fn(empty), c.fn(ids[:, None]), c.fn(ids) == ids.shape]


def _long_tensor_size_ref():
    ids = np.array(ROWS)
    return ids, [(3, 4), 3, 4, (3, 0), (3, 1, 4), True]


KERNELS = [
    Kernel("torch.Tensor.transpose", "shape", lambda rng: {"x": np.round(rng.standard_normal(rng.dims(*HEADS)) * 4)},
           dtypes=ALL, call=lambda c, x: _view_and_copy(c, x, c.fn(x, 1, 2)),
           reference=lambda x: (np.swapaxes(x, 1, 2), np.swapaxes(x, 1, 2), True),
           note="(batch, seq, heads, dim) -> (batch, heads, seq, dim): the view and its contiguous copy"),
    Kernel("torch.Tensor.reshape", "shape", _reshape_inputs, dtypes=ALL, call=_reshape_call,
           reference=_reshape_ref, note="a view of a contiguous tensor, a copy of a transposed one"),
    Kernel("torch.Tensor.permute", "shape", _grid((2, 8), (3, 32), (16, 64), (16, 64)), dtypes=ALL,
           call=lambda c, x: _view_and_copy(c, x, c.fn(x, 0, 2, 3, 1)),
           reference=lambda x: (np.transpose(x, (0, 2, 3, 1)),) * 2 + (True,), note="NCHW -> NHWC"),
    Kernel("torch.Tensor.unfold", "shape", _unfold_inputs, dtypes=(*FLOATS, "int64"), call=_unfold_call,
           reference=_unfold_ref, note="n-gram windows of token ids, and image patches"),
    Kernel("torch.Tensor.float", "elementwise", _nonnegative, dtypes=(*CAST_FROM, "uint8"),
           reference=lambda x: x.astype(np.float32), out_dtype="float32"),
    Kernel("torch.Tensor.long", "elementwise", uniform(*M, low=-250.0, high=250.0),
           dtypes=CAST_FROM, reference=_long_ref, out_dtype="int64", note="floats truncate toward zero"),
    Kernel("torch.Tensor.half", "elementwise", _magnitudes, dtypes=CAST_FROM, reference=_half_ref,
           out_dtype="float16", note="round to nearest even; beyond 65504 -> inf; tiny values -> subnormals"),
    Kernel("torch.Tensor.clamp", "elementwise", normal(*M, scale=3.0),
           dtypes=(*FLOATS, "int64", "int32"), call=lambda c, x: (c.fn(x, -1, 2), c.fn(x, min=0), c.fn(x, max=1)),
           reference=lambda x: (np.clip(x, -1, 2), np.maximum(x, 0), np.minimum(x, 1))),
    Kernel("torch.Tensor.min", "reduction", _distinct_rows, dtypes=(*FLOATS, "int64", "int32"), call=_min_call,
           reference=_min_ref, note="the global minimum, and (values, indices) along rows"),
    Kernel("torch.Tensor.argmin", "reduction", _distinct_rows, dtypes=(*FLOATS, "int64", "int32"),
           call=lambda c, x: (c.fn(x), c.fn(x, dim=1), c.fn(x, dim=-1, keepdim=True)),
           reference=lambda x: (x.argmin(), x.argmin(axis=1), x.argmin(axis=-1)[:, None]), out_dtype="int64"),
    Kernel("torch.Tensor.lerp", "elementwise", _lerp_inputs, dtypes=FLOATS, call=_lerp_call, reference=_lerp_ref),
    # One size: a shape query does the same work whatever the tensor holds.
    Kernel("torch.LongTensor.size", "utility", lambda rng: {}, dtypes=("int64",), call=_long_tensor_size_call,
           reference=_long_tensor_size_ref, out_dtype="int64",
           note="token ids built by the legacy torch.LongTensor constructor, then moved to the device"),
]
