"""torch shape manipulation: cat, stack, reshape, flatten and friends, and the Tensor view methods.

Views (view, unsqueeze, expand, transpose, permute, unfold) are checked for their values and for aliasing
their base, copies (contiguous, repeat) for not aliasing it; a strided view is checked along with its
materialised copy (``.contiguous()``), as models follow one with the other.
"""

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from portability.catalog import BIG_SIDE, FLOATS, Kernel, paper, raises

ALL = (*FLOATS, "complex64", "int64", "bool")
N = (BIG_SIDE, BIG_SIDE)  # 64x64 at small, 1024x1024 at medium


def _same(dtypes):
    return {d: d for d in dtypes}


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


def _grid_scaled(*shape, names=("x",), scale=4.0):
    """Values on a coarse grid with zeros: exact in every dtype, interesting for ints and bools."""
    return lambda rng: {n: np.round(rng.standard_normal(rng.dims(*shape)) * scale) for n in names}


# -- flatten ---------------------------------------------------------------------------------------

IMAGES = ((2, 8), (8, 32), (16, 64), (16, 64))  # 2x8x16x16 at small, 8x32x64x64 at medium


def _flatten_call(c, x):
    features = c.fn(x, 1)  # after global pooling: (n, c, h, w) -> (n, c*h*w)
    tokens = c.fn(x, start_dim=2).transpose(1, 2)  # ViT patch embedding: (n, h*w, c)
    everything = c.fn(x)
    nhwc = c.fn(x.permute(0, 2, 3, 1), 1)  # not viewable: a copy
    flags = [features.data_ptr() == x.data_ptr(), everything.data_ptr() == x.data_ptr(),
             nhwc.data_ptr() != x.data_ptr(), tuple(c.fn(x[0, 0, 0, 0]).shape) == (1,)]
    return features, tokens, everything, nhwc, flags


def _flatten_ref(x):
    n, ch = x.shape[:2]
    return (x.reshape(n, -1), x.reshape(n, ch, -1).transpose(0, 2, 1), x.reshape(-1),
            x.transpose(0, 2, 3, 1).reshape(n, -1), [True] * 4)


# -- view_as_complex -------------------------------------------------------------------------------

def _rotary_inputs(rng):
    b, s, h, d = rng.dims((1, 4), (16, 256), (4, 8), (32, 64))
    theta = np.outer(np.arange(s), 1.0 / 10000 ** (np.arange(0, d, 2) / d))
    return {"x": rng.standard_normal((b, s, h, d)), "cos": np.cos(theta), "sin": np.sin(theta)}


def _view_as_complex_call(c, x, cos, sin):
    torch = c.fw
    # Llama's rotary embedding: pairs of features as complex numbers, times polar(1, theta).
    xc = c.fn(x.reshape(*x.shape[:-1], -1, 2))
    freqs = c.fn(torch.stack([cos, sin], dim=-1))
    rotated = torch.view_as_real(xc * freqs[None, :, None, :]).flatten(3)
    return xc.real, xc.imag, rotated, [xc.data_ptr() == x.data_ptr(), xc.is_complex()]


def _view_as_complex_ref(x, cos, sin):
    xc = x[..., 0::2] + 1j * x[..., 1::2]
    r = xc * (cos + 1j * sin)[None, :, None, :]
    return xc.real, xc.imag, np.stack([r.real, r.imag], axis=-1).reshape(x.shape), [True, True]


def _grid_named(*shape, names=("x",)):
    """Values on a coarse grid with zeros: exact in every dtype, interesting for ints and bools."""
    return lambda rng: {n: np.round(rng.standard_normal(rng.dims(*shape)) * 4) for n in names}


# -- stacking --------------------------------------------------------------------------------------

def _hstack_inputs(rng):
    rows, n1, n2 = rng.dims((64, 512), (32, 1024), (16, 512))

    def grid(*shape):
        return np.round(rng.standard_normal(shape) * 4)

    return {"a": grid(rows * n1), "b": grid(rows * n2), "m1": grid(rows, n1), "m2": grid(rows, n2)}


# -- diagonal --------------------------------------------------------------------------------------

def _diagonal_call(c, x):
    main = c.fn(x, dim1=-2, dim2=-1)
    upper = c.fn(x, 1, -2, -1)
    return main, upper.contiguous(), main.data_ptr() == x.data_ptr()


def _diagonal_ref(x):
    return np.diagonal(x, 0, -2, -1), np.diagonal(x, 1, -2, -1), True


# -- Tensor.view -----------------------------------------------------------------------------------

#: (batch, seq, heads, head_dim): 2x16x4x32 at small, 8x256x8x64 at medium.
HEADS = ((2, 8), (16, 256), (4, 8), (32, 64))


def _heads_inputs(rng):
    b, s, h, d = rng.dims(*HEADS)
    return {"x": np.round(rng.standard_normal((b, s, h * d)) * 4), "heads": h}


def _view_call(c, x, heads):
    b, s, e = x.shape
    split = c.fn(x, b, s, heads, -1)  # transformers' transpose_for_scores
    rows = c.fn(x, (b * s, e))
    flat = c.fn(x, -1)
    flags = [v.data_ptr() == x.data_ptr() for v in (split, rows, flat)]
    flags += [raises(RuntimeError, c.fn, x.transpose(0, 1), -1),  # not viewable: refused, not copied
              raises(RuntimeError, c.fn, x, -1, 7)]  # sizes that do not divide the element count
    return split, rows, flat, flags


def _view_ref(x, heads):
    b, s, e = x.shape
    return x.reshape(b, s, heads, -1), x.reshape(b * s, e), x.reshape(-1), [True] * 5


# -- Tensor.unsqueeze ------------------------------------------------------------------------------

def _unsqueeze_call(c, x):
    mask4d = c.fn(c.fn(x, 1), 2)  # attention_mask[:, None, None, :]
    last, first = c.fn(x, -1), c.fn(x, 0)
    flags = [t.data_ptr() == x.data_ptr() for t in (mask4d, last, first)]
    flags.append(raises(IndexError, c.fn, x, 3))  # a 2-d tensor takes dims -3..2
    return mask4d, last, first, flags


def _unsqueeze_ref(x):
    return x[:, None, None, :], x[..., None], x[None], [True] * 4


# -- Tensor.contiguous -----------------------------------------------------------------------------

def _contiguous_call(c, x):
    torch = c.fw
    t = x.transpose(1, 2)
    copy = c.fn(t)
    nhwc = c.fn(x, memory_format=torch.channels_last)
    flags = [not t.is_contiguous(), copy.is_contiguous(), copy.data_ptr() != x.data_ptr(),
             c.fn(x) is x,  # already contiguous: self, no copy
             nhwc.is_contiguous(memory_format=torch.channels_last), nhwc.stride(1) == 1,
             c.fn(nhwc).is_contiguous()]
    return copy, nhwc, flags


# -- Tensor.repeat ---------------------------------------------------------------------------------

def _repeat_call(c, x):
    return c.fn(x, 1, 2, 2), c.fn(x, 2, 1, 1, 1), c.fn(x, 1, 1, 1)


def _repeat_ref(x):
    return np.tile(x, (1, 2, 2)), np.tile(x, (2, 1, 1, 1)), x


# -- Tensor.expand ---------------------------------------------------------------------------------

def _expand_inputs(rng):
    b, s, d = rng.dims((2, 8), (64, 256), (32, 256))
    return {"mask": np.round(rng.uniform(0, 1, (b, s))), "cls": np.round(rng.standard_normal((1, 1, d)) * 4)}


def _expand_call(c, mask, cls):
    b, s = mask.shape
    square = c.fn(mask[:, None, None, :], b, 1, s, s)  # the 4-d attention mask of a padded batch
    tokens = c.fn(cls, b, -1, -1)  # ViT: cls_token.expand(batch, -1, -1)
    flags = [square.stride(2) == 0, square.data_ptr() == mask.data_ptr(), tokens.stride(0) == 0,
             raises(RuntimeError, c.fn, mask, 3 * b, s)]  # only size-1 dimensions expand
    return square, square.contiguous(), tokens, flags


def _expand_ref(mask, cls):
    b, s = mask.shape
    square = np.broadcast_to(mask[:, None, None, :], (b, 1, s, s))
    return square, square, np.broadcast_to(cls, (b, 1, cls.shape[-1])), [True] * 4


# -- Tensor.roll -----------------------------------------------------------------------------------

def _roll_call(c, x):
    s = x.shape[1] // 4
    # Swin's shifted windows, a shift along channels, and a roll of the flattened tensor.
    return c.fn(x, shifts=(-s, -s), dims=(1, 2)), c.fn(x, 1, -1), c.fn(x, 3)


def _roll_ref(x):
    s = x.shape[1] // 4
    return np.roll(x, (-s, -s), axis=(1, 2)), np.roll(x, 1, axis=-1), np.roll(x, 3)


def _view_and_copy(c, x, view):
    return view, view.contiguous(), view.data_ptr() == x.data_ptr()


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


KERNELS = [
    Kernel("torch.cat", "shape", _three, dtypes=ALL, call=lambda c, a, b, d: c.fn([a, b, d], dim=0),
           reference=lambda a, b, d: np.concatenate([a, b, d], axis=0), out_dtype=_same(ALL),
           **paper(100, 1622)),
    Kernel("torch.fliplr", "shape", _grid(BIG_SIDE, BIG_SIDE),
           dtypes=("float32", "float64", "float16", "complex128", "int64"), reference=np.fliplr,
           **paper(60, 10)),
    Kernel("torch.moveaxis", "shape", _grid((2, 8), (8, 16), 16, (16, 512)),
           dtypes=("float32", "float64", "complex128", "int64"),
           call=lambda c, x: c.fn(x, 0, -1), reference=lambda x: np.moveaxis(x, 0, -1),
           **paper(70, 25)),
    Kernel("torch.unsqueeze", "shape", _grid(BIG_SIDE, BIG_SIDE), dtypes=("float32", "float64", "float16", "int64"),
           call=lambda c, x: c.fn(x, 1), reference=lambda x: np.expand_dims(x, 1),
           **paper(100, 1367)),
    Kernel("torch.broadcast_tensors", "shape", _broadcastable, dtypes=(*FLOATS, "int64"),
           reference=lambda a, b, d: np.broadcast_arrays(a, b, d), **paper(50, 7)),
    Kernel("torch.Tensor.unbind", "shape", _grid(8, (32, 512), (16, 256)), dtypes=(*FLOATS, "int64"),
           reference=lambda x: tuple(x), **paper(80, 38)),
    Kernel("torch.flatten", "shape", _grid_scaled(*IMAGES), dtypes=ALL, call=_flatten_call, reference=_flatten_ref,
           note="from dim 1 (a view), from dim 2 (ViT tokens), everything, a permuted input (a copy), a scalar"),
    Kernel("torch.view_as_complex", "shape", _rotary_inputs, dtypes=FLOATS, call=_view_as_complex_call,
           reference=_view_as_complex_ref,
           note="rotary embeddings: a complex view of feature pairs (float16 -> complex32; no bfloat16 complex)"),
    Kernel("torch.stack", "shape", _grid_named(*N, names=("a", "b", "d")), dtypes=ALL,
           call=lambda c, a, b, d: (c.fn([a, b, d]), c.fn([a, b, d], dim=-1)),
           reference=lambda a, b, d: (np.stack([a, b, d]), np.stack([a, b, d], axis=-1)), out_dtype=_same(ALL)),
    Kernel("torch.reshape", "shape", _grid_named(*N), dtypes=ALL,
           call=lambda c, x: (c.fn(x, (-1, 16)), c.fn(x.mT, (-1,))),
           reference=lambda x: (x.reshape(-1, 16), x.T.reshape(-1)), out_dtype=_same(ALL),
           note="of a contiguous tensor (a view) and of a transposed one (a copy)"),
    Kernel("torch.hstack", "shape", _hstack_inputs, dtypes=ALL,
           call=lambda c, a, b, m1, m2: (c.fn([a, b]), c.fn((m1, m2))),
           reference=lambda a, b, m1, m2: (np.hstack([a, b]), np.hstack([m1, m2])), out_dtype=_same(ALL)),
    Kernel("torch.diagonal", "shape", _grid_named((4, 4), (64, 1024), (64, 1024)), dtypes=ALL, call=_diagonal_call,
           reference=_diagonal_ref, out_dtype=_same(ALL), note="batched main diagonal (a view) and offset 1"),
    Kernel("torch.Tensor.view", "shape", _heads_inputs, dtypes=ALL, call=_view_call, reference=_view_ref,
           note="split heads, (rows, cols), flatten: views of the base; a transposed tensor is refused"),
    Kernel("torch.Tensor.unsqueeze", "shape", _grid(*N), dtypes=ALL, call=_unsqueeze_call, reference=_unsqueeze_ref),
    Kernel("torch.Tensor.contiguous", "shape", _grid(*IMAGES), dtypes=ALL, call=_contiguous_call,
           reference=lambda x: (np.swapaxes(x, 1, 2), x, [True] * 7),
           note="copies a transposed view; self when already contiguous; channels_last memory format"),
    Kernel("torch.Tensor.repeat", "shape", _grid((2, 8), (32, 256), (16, 128)), dtypes=ALL, call=_repeat_call,
           reference=_repeat_ref, note="tiles along dims, and with more repeats than dims (a new leading dim)"),
    Kernel("torch.Tensor.expand", "shape", _expand_inputs, dtypes=ALL, call=_expand_call, reference=_expand_ref,
           note="stride-0 views: a 4-d attention mask and a batch of cls tokens"),
    Kernel("torch.Tensor.roll", "shape", _grid((2, 8), (16, 64), (16, 64), (8, 32)), dtypes=ALL, call=_roll_call,
           reference=_roll_ref),
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
]
