"""torch.nn.functional ops, called with the arguments models pass them, and the flash-SDPA backend flag.

Every output is checked against NumPy.
"""

import numpy as np
import scipy.special as sp
from numpy.lib.stride_tricks import sliding_window_view

from portability.catalog import BIG_SIDE, FLOATS, Keep, Kernel, block_mean, normal, paper

#: Dot products of a few hundred terms: half-precision outputs round once, accumulation is wider.
DOT_TOL = {"float16": (2e-2, 3e-3), "bfloat16": (5e-2, 1.5e-2)}
#: Pooling blocks of 4x8x8 at every size (only their number grows), so each mean has 256 terms.
BLOCK = (4, 8, 8)
#: 2x2x2 blocks at small, 1M elements at medium.
POOL_SHAPE = (2, (4, 8), (8, 16), (16, 64), (16, 64))
IMAGES = ((2, 8), (8, 32), (16, 64), (16, 64))  # 2x8x16x16 at small, 8x32x64x64 at medium
N = (BIG_SIDE, BIG_SIDE)  # 64x64 at small, 1024x1024 at medium
NP_MODES = {"reflect": "reflect", "replicate": "edge", "circular": "wrap"}


# -- normalisation and activations -------------------------------------------------------------

def _bn_inputs(rng):
    n, ch, side = rng.dims((4, 16), (16, 64), (8, 32))
    return {"x": rng.standard_normal((n, ch, side, side)) * 2 + 1, "mean": rng.standard_normal(ch),
            "var": rng.uniform(0.5, 4.0, ch), "weight": rng.uniform(0.5, 1.5, ch),
            "bias": rng.standard_normal(ch) * 0.1}


def _bn_ref(x, mean, var, weight, bias):
    s = (1, -1, 1, 1)
    return (x - mean.reshape(s)) / np.sqrt(var.reshape(s) + 1e-5) * weight.reshape(s) + bias.reshape(s)


def _gn_inputs(rng):
    n, side = rng.dims((2, 8), (8, 64))
    return {"x": rng.standard_normal((n, 32, side, side)) * 2 + 1, "weight": rng.uniform(0.5, 1.5, 32),
            "bias": rng.standard_normal(32) * 0.1}


def _gn_ref(x, weight, bias, groups=4):
    n, ch = x.shape[:2]
    g = x.reshape(n, groups, -1)
    y = ((g - g.mean(-1, keepdims=True)) / np.sqrt(g.var(-1, keepdims=True) + 1e-5)).reshape(x.shape)
    s = (1, -1) + (1,) * (x.ndim - 2)
    return y * weight.reshape(s) + bias.reshape(s)


def _ln_inputs(rng):
    # Rows of 256 at every size: each normalisation has the same length.
    return {"x": rng.standard_normal(rng.dims((2, 128), (8, 32), 256)) * 2 + 1, "weight": rng.uniform(0.5, 1.5, 256),
            "bias": rng.standard_normal(256) * 0.1}


def _ln_ref(x, weight, bias):
    return (x - x.mean(-1, keepdims=True)) / np.sqrt(x.var(-1, keepdims=True) + 1e-5) * weight + bias


def _ce_inputs(rng):
    n = rng.pick(64, 10240)
    return {"x": rng.standard_normal((n, 100)) * 2, "t": Keep(rng.integers(0, 100, n))}


def _ce_ref(x, t):
    return -np.mean(sp.log_softmax(x, axis=1)[np.arange(len(t)), t])


def _attention_inputs(rng):
    shape = rng.dims((1, 8), (2, 8), (32, 256), 64)
    return {"q": rng.standard_normal(shape), "k": rng.standard_normal(shape), "v": rng.standard_normal(shape)}


def _attention_ref(q, k, v):
    return sp.softmax(q @ np.swapaxes(k, -1, -2) / np.sqrt(q.shape[-1]), axis=-1) @ v


# -- backends.cuda.enable_flash_sdp ----------------------------------------------------------------

def _flash_attention_inputs(rng):
    shape = rng.dims((1, 4), (2, 8), (32, 256), 64)
    return {"q": rng.standard_normal(shape), "k": rng.standard_normal(shape), "v": rng.standard_normal(shape)}


def _flash_setup(c, q, k, v):
    torch = c.fw
    flag = torch.backends.cuda.flash_sdp_enabled
    before = flag()

    def run():
        c.fn(False)  # transformers turns the flash kernel off where it misbehaves; SDPA must fall back
        off = flag()
        without = torch.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True)
        c.fn(True)
        on = flag()
        with_flash = torch.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True)
        c.fn(before)
        return without, with_flash, [not off, on]

    return run


def _causal_ref(q, k, v):
    s = q @ np.swapaxes(k, -1, -2) / np.sqrt(q.shape[-1])
    n = s.shape[-1]
    out = sp.softmax(np.where(np.tri(n, dtype=bool), s, -np.inf), axis=-1) @ v
    return out, out, [True, True]


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


# -- nn.functional.pad -----------------------------------------------------------------------------

def _pad_inputs(mode):
    return lambda rng: {"x": np.round(rng.standard_normal(rng.dims(*IMAGES)) * 4), "mode": mode}


def _pad_call(c, x, mode):
    if mode == "constant":
        # Swin: pad right and bottom to a multiple of the window; a fill value; negative pads crop.
        return c.fn(x, (0, 3, 0, 5)), c.fn(x, (1, 1, 2, 2), value=-2), c.fn(x, (-1, -1, -2, 0))
    return c.fn(x, (2, 3, 1, 2), mode=mode)


def _pad_ref(x, mode):
    if mode == "constant":
        edges = ((0, 0), (0, 0))
        return (np.pad(x, (*edges, (0, 5), (0, 3))), np.pad(x, (*edges, (2, 2), (1, 1)), constant_values=-2),
                x[:, :, 2:, 1:-1])
    return np.pad(x, ((0, 0), (0, 0), (1, 2), (2, 3)), mode=NP_MODES[mode])


# -- nn.functional.conv2d --------------------------------------------------------------------------

def _conv_inputs(depthwise):
    def build(rng):
        n, ch, side = rng.dims((2, 8), (8, 32), (16, 64))
        c_out, c_group = (ch, 1) if depthwise else (2 * ch, ch)
        return {"x": rng.standard_normal((n, ch, side, side)),
                "w": rng.standard_normal((c_out, c_group, 3, 3)) / np.sqrt(9 * c_group),
                "b": rng.standard_normal(c_out) * 0.1, "stride": 2 if depthwise else 1,
                "groups": ch if depthwise else 1}

    return build


def _conv_call(c, x, w, b, stride, groups):
    return c.fn(x, w, b, stride=stride, padding=1, groups=groups)


def _conv_ref(x, w, b, stride, groups):
    """Cross-correlation with zero padding 1, the given stride and channel groups."""
    n = x.shape[0]
    c_out, c_group, kh, kw = w.shape
    win = sliding_window_view(np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1))), (kh, kw), axis=(2, 3))
    win = win[:, :, ::stride, ::stride]  # n, c_in, h_out, w_out, kh, kw
    h_out, w_out = win.shape[2:4]
    win = win.reshape(n, groups, c_group, h_out, w_out, kh, kw)
    wg = w.reshape(groups, c_out // groups, c_group, kh, kw)
    out = np.einsum("ngchwij,gocij->ngohw", win, wg, optimize=True).reshape(n, c_out, h_out, w_out)
    return out + b.reshape(1, -1, 1, 1)


# -- nn.functional.gelu / glu / hardswish ----------------------------------------------------------

def _gelu_ref(x):
    tanh_form = 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x**3)))
    return 0.5 * x * (1 + sp.erf(x / np.sqrt(2))), tanh_form


def _glu_inputs(rng):
    n, ch, length = rng.dims((2, 8), (32, 256), (64, 512))
    return {"x": rng.standard_normal((n, 2 * ch, length)) * 2}


def _glu_ref(x):
    def glu(a, b):
        return a * sp.expit(b)

    half = x.shape[1] // 2
    return glu(x[:, :half], x[:, half:]), glu(*np.split(x, 2, axis=-1))


def _hardswish_inputs(rng):
    x = rng.uniform(-6, 6, rng.dims(*N))
    x.reshape(-1)[:4] = [-3.0, 3.0, 0.0, -2.9]  # the breakpoints
    return {"x": x}


KERNELS = [
    Kernel("torch.nn.functional.batch_norm", "nn", _bn_inputs, dtypes=FLOATS,
           call=lambda c, x, mean, var, weight, bias: c.fn(x, mean, var, weight, bias, training=False),
           reference=_bn_ref, **paper(60, 15)),
    Kernel("torch.nn.functional.group_norm", "nn", _gn_inputs, dtypes=FLOATS,
           call=lambda c, x, weight, bias: c.fn(x, 4, weight, bias), reference=_gn_ref,
           **paper(70, 18)),
    Kernel("torch.nn.functional.softmax", "nn", normal((4, 1024), 1024, scale=4.0), dtypes=FLOATS,
           call=lambda c, x: c.fn(x, dim=-1), reference=lambda x: sp.softmax(x, axis=-1)),
    Kernel("torch.nn.functional.layer_norm", "nn", _ln_inputs, dtypes=FLOATS,
           call=lambda c, x, weight, bias: c.fn(x, (x.shape[-1],), weight, bias), reference=_ln_ref),
    Kernel("torch.nn.functional.scaled_dot_product_attention", "nn", _attention_inputs, dtypes=FLOATS,
           reference=_attention_ref, tol=DOT_TOL),
    Kernel("torch.nn.functional.avg_pool3d", "nn", normal(*POOL_SHAPE), dtypes=FLOATS,
           call=lambda c, x: c.fn(x, BLOCK), reference=lambda x: block_mean(x, BLOCK)),
    Kernel("torch.nn.functional.cross_entropy", "nn", _ce_inputs, dtypes=FLOATS, reference=_ce_ref),
    Kernel("torch.backends.cuda.enable_flash_sdp", "nn", _flash_attention_inputs, dtypes=FLOATS, setup=_flash_setup,
           reference=_causal_ref, tol=DOT_TOL,
           note="the flag toggles and reads back; causal SDPA is right with the flash kernel off and on"),
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
    Kernel("torch.nn.functional.pad", "nn",
           {"constant": _pad_inputs("constant"), "reflect": _pad_inputs("reflect"),
            "replicate": _pad_inputs("replicate"), "circular": _pad_inputs("circular")},
           dtypes=(*FLOATS, "int64"), call=_pad_call, reference=_pad_ref),
    Kernel("torch.nn.functional.conv2d", "nn", {"dense": _conv_inputs(False), "depthwise": _conv_inputs(True)},
           dtypes=FLOATS, call=_conv_call, reference=_conv_ref, tol=DOT_TOL,
           note="3x3 padding 1; dense stride 1, and depthwise (groups = channels) stride 2"),
    Kernel("torch.nn.functional.gelu", "nn", lambda rng: {"x": rng.standard_normal(rng.dims(*N)) * 3}, dtypes=FLOATS,
           call=lambda c, x: (c.fn(x), c.fn(x, approximate="tanh")), reference=_gelu_ref,
           note="exact (erf) and approximate='tanh' (gelu_new)"),
    Kernel("torch.nn.functional.glu", "nn", _glu_inputs, dtypes=FLOATS,
           call=lambda c, x: (c.fn(x, dim=1), c.fn(x)), reference=_glu_ref,
           note="over channels (conformer convolution module) and over the last dim"),
    Kernel("torch.nn.functional.hardswish", "nn", _hardswish_inputs, dtypes=FLOATS,
           reference=lambda x: x * np.clip(x + 3, 0, 6) / 6),
]
