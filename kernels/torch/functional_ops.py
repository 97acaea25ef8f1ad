"""torch.nn.functional ops from the usage sample, called with the arguments models pass them."""

import numpy as np
import scipy.special as sp
from numpy.lib.stride_tricks import sliding_window_view

from portability.catalog import BIG_SIDE, Keep, Kernel, normal

FLOATS = ("float32", "float64", "float16", "bfloat16")
#: Dot products of a few hundred terms: half-precision outputs round once, accumulation is wider.
DOT_TOL = {"float16": (2e-2, 3e-3), "bfloat16": (5e-2, 1.5e-2)}
IMAGES = ((2, 8), (8, 32), (16, 64), (16, 64))  # 2x8x16x16 at small, 8x32x64x64 at medium


# -- interpolate -----------------------------------------------------------------------------------

def _resize_inputs(mode, scale=None, size=None):
    def build(rng):
        return {"x": rng.standard_normal(rng.dims(*IMAGES)), "mode": mode, "scale": scale, "size": size}

    return build


def _interpolate_call(c, x, mode, scale, size):
    align = False if mode == "bilinear" else None
    return c.fn(x, size=size, scale_factor=scale, mode=mode, align_corners=align)


def _resize_axis(x, axis, n_out, mode):
    """One axis of torch's resize: ratio in/out; "nearest" takes floor(dst * ratio), "bilinear"
    (align_corners=False) samples at (dst + 0.5) * ratio - 0.5, clamped at the first pixel."""
    n_in = x.shape[axis]
    dst = np.arange(n_out)
    if mode == "nearest":
        return x.take(np.minimum(np.floor(dst * n_in / n_out).astype(int), n_in - 1), axis=axis)
    src = np.maximum((dst + 0.5) * n_in / n_out - 0.5, 0.0)
    lo = np.floor(src).astype(int)
    hi = np.minimum(lo + 1, n_in - 1)
    shape = [1] * x.ndim
    shape[axis] = n_out
    frac = (src - lo).reshape(shape)
    return x.take(lo, axis=axis) * (1 - frac) + x.take(hi, axis=axis) * frac


def _interpolate_ref(x, mode, scale, size):
    out = size or tuple(int(n * scale) for n in x.shape[2:])
    for axis, n_out in zip((2, 3), out, strict=True):
        x = _resize_axis(x, axis, n_out, mode)
    return x


# -- avg_pool2d ------------------------------------------------------------------------------------

def _pool_inputs(kernel, stride, padding):
    def build(rng):
        return {"x": rng.standard_normal(rng.dims(*IMAGES)), "kernel": kernel, "stride": stride, "padding": padding}

    return build


def _avg_pool_call(c, x, kernel, stride, padding):
    # count_include_pad=False: padded borders average only the pixels that are there (timm's choice).
    return c.fn(x, kernel, stride=stride, padding=padding, count_include_pad=False)


def _avg_pool_ref(x, kernel, stride, padding):
    pad = ((0, 0), (0, 0), (padding, padding), (padding, padding))

    def box_sums(a):
        win = sliding_window_view(np.pad(a, pad), (kernel, kernel), axis=(2, 3))[:, :, ::stride, ::stride]
        return win.sum(axis=(-2, -1))

    return box_sums(x) / box_sums(np.ones((1, 1, *x.shape[2:])))


# -- prelu -----------------------------------------------------------------------------------------

def _prelu_inputs(rng):
    shape = rng.dims(*IMAGES)
    return {"x": rng.standard_normal(shape), "w": rng.uniform(0.05, 0.3, shape[1])}


def _prelu_ref(x, w):
    return np.where(x > 0, x, w.reshape(1, -1, 1, 1) * x)


# -- multi_head_attention_forward (WavLM's call: packed projections, padding mask, weights) ---------

def _mha_inputs(rng):
    seq, batch, dim, heads = rng.dims((16, 256), (2, 8), (32, 256), (4, 8))

    def w(rows, cols):
        return rng.standard_normal((rows, cols)) / np.sqrt(cols)

    mask = np.zeros((batch, seq), dtype=bool)
    mask[1, -seq // 4:] = True  # the second sequence is padded
    return {"x": rng.standard_normal((seq, batch, dim)), "heads": heads,
            "w_in": w(3 * dim, dim), "b_in": rng.standard_normal(3 * dim) * 0.1,
            "w_out": w(dim, dim), "b_out": rng.standard_normal(dim) * 0.1, "mask": Keep(mask)}


def _mha_call(c, x, heads, w_in, b_in, w_out, b_out, mask):
    return c.fn(x, x, x, x.shape[-1], heads, w_in, b_in, None, None, False, 0.0, w_out, b_out,
                training=False, key_padding_mask=mask, need_weights=True)


def _mha_ref(x, heads, w_in, b_in, w_out, b_out, mask):
    seq, batch, dim = x.shape
    hd = dim // heads

    def split(t):  # (L, N, E) -> (N, H, L, hd)
        return t.reshape(seq, batch, heads, hd).transpose(1, 2, 0, 3)

    q, k, v = (split(t) for t in np.split(x @ w_in.T + b_in, 3, axis=-1))
    scores = q @ np.swapaxes(k, -1, -2) / np.sqrt(hd)
    scores = np.where(mask[:, None, None, :], -np.inf, scores)
    attn = sp.softmax(scores, axis=-1)
    out = (attn @ v).transpose(2, 0, 1, 3).reshape(seq, batch, dim)
    return out @ w_out.T + b_out, attn.mean(axis=1)


KERNELS = [
    Kernel("torch.nn.functional.interpolate", "nn",
           {"nearest": _resize_inputs("nearest", scale=2.0), "bilinear": _resize_inputs("bilinear", scale=2.0),
            "bilinear_down": _resize_inputs("bilinear", size=(12, 10))},
           dtypes=FLOATS, call=_interpolate_call, reference=_interpolate_ref,
           note="2x nearest and bilinear upsampling (align_corners=False), and a bilinear resize to 12x10"),
    Kernel("torch.nn.functional.leaky_relu", "nn", normal(BIG_SIDE, BIG_SIDE), dtypes=FLOATS,
           call=lambda c, x: c.fn(x, 0.2), reference=lambda x: np.where(x > 0, x, 0.2 * x)),
    Kernel("torch.nn.functional.avg_pool2d", "nn",
           {"k2": _pool_inputs(2, 2, 0), "k3_padded": _pool_inputs(3, 1, 1)}, dtypes=FLOATS,
           call=_avg_pool_call, reference=_avg_pool_ref),
    Kernel("torch.nn.functional.prelu", "nn", _prelu_inputs, dtypes=FLOATS, reference=_prelu_ref,
           note="one learned slope per channel"),
    Kernel("torch.nn.functional.multi_head_attention_forward", "nn", _mha_inputs, dtypes=FLOATS,
           call=_mha_call, reference=_mha_ref, tol=DOT_TOL,
           note="self-attention, seq-first, with a key padding mask; output and head-averaged weights"),
]
