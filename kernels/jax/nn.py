"""jax.nn activations, attention and one_hot, and the lax convolutions, windows and image resizing users build
layers from.
"""

import numpy as np
from scipy import special as sps

from portability.catalog import FLOATS, VEC, Keep, Kernel, normal, paper, same

N = (64 * 1024, 1 << 20)
#: Sums of a few hundred products rounded in half precision (as for the catalog's matmul and convolve).
HALF_SUMS = {"float16": (2e-2, 2e-3), "bfloat16": (5e-2, 1e-2)}


def _labels(rng):
    return {"x": Keep(rng.integers(0, 100, rng.pick(2048, 10240)).astype(np.int32))}


def _gelu_tanh(x):
    return 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x**3)))


def _conv_inputs(rng):
    n, c, hw = rng.dims((4, 8), (16, 32), (32, 64))
    # Weights scaled by 1/sqrt(fan-in): outputs of order one at every size.
    return {"x": rng.standard_normal((n, c, hw, hw)), "w": rng.standard_normal((32, c, 3, 3)) / np.sqrt(9 * c)}


def _conv_ref(x, w):
    """NCHW x OIHW, stride 1, SAME padding, as a sliding-window contraction (cross-correlation)."""
    kh, kw = w.shape[2:]
    xp = np.pad(x, ((0, 0), (0, 0), (kh // 2, kh // 2), (kw // 2, kw // 2)))
    win = np.lib.stride_tricks.sliding_window_view(xp, (kh, kw), axis=(2, 3))  # N C H W kh kw
    return np.einsum("nchwij,ocij->nohw", win, w)


def _attention_inputs(rng):
    # B T N H layout
    shape = rng.dims((2, 4), (64, 256), (4, 8), (32, 64))
    return {k: rng.standard_normal(shape) for k in ("q", "k", "v")}


def _attention_ref(q, k, v):
    s = np.einsum("btnh,bsnh->bnts", q, k) / np.sqrt(q.shape[-1])
    return np.einsum("bnts,bsnh->btnh", sps.softmax(s, axis=-1), v)


def _maxpool_ref(x):
    n, ch, h, w = x.shape
    return x.reshape(n, ch, h // 2, 2, w // 2, 2).max(axis=(3, 5))


def _resize_inputs(method):
    def build(rng):
        n, side, ch = rng.dims((2, 8), (16, 128), (4, 8))
        return {"x": rng.standard_normal((n, side, side, ch)), "method": method}

    return build


def _resize_call(c, x, method):
    # As in diffusers' Flax upsampling blocks: NHWC, twice the height and width.
    n, h, w, ch = x.shape
    return c.fn(x, (n, 2 * h, 2 * w, ch), method=method)


def _resize_weights(n_in, n_out, method):
    """Rows: output pixels; columns: input pixels. Half-pixel centres (output o samples the
    input at (o + 0.5) * n_in / n_out - 0.5); linear weights renormalised at the edges."""
    centre = (np.arange(n_out) + 0.5) * n_in / n_out
    if method == "nearest":
        return np.eye(n_in)[np.floor(centre).astype(int)]
    w = np.maximum(0.0, 1.0 - np.abs(centre[:, None] - 0.5 - np.arange(n_in)[None, :]))
    return w / w.sum(axis=1, keepdims=True)


def _resize_ref(x, method):
    _, h, w, _ = x.shape
    rows = np.einsum("oh,nhwc->nowc", _resize_weights(h, 2 * h, method), x)
    return np.einsum("nowc,pw->nopc", rows, _resize_weights(w, 2 * w, method))


def _conv_nhwc_inputs(rng):
    n, ch, side, out = rng.dims((2, 8), (4, 32), (16, 64), (8, 32))
    return {"x": rng.standard_normal((n, side, side, ch)),
            "w": rng.standard_normal((3, 3, ch, out)) / (3 * np.sqrt(ch))}


def _conv_dn(c, x, w):
    # As in flax's and haiku's convolutions: NHWC images, HWIO kernels, as axis permutations.
    dn = c.fn(lhs_spec=(0, 3, 1, 2), rhs_spec=(3, 2, 0, 1), out_spec=(0, 3, 1, 2))
    return c.fw.lax.conv_general_dilated(x, w, (1, 1), "SAME", dimension_numbers=dn)


def _conv_nhwc_ref(x, w):
    """NHWC x HWIO, stride 1, SAME padding (cross-correlation)."""
    kh, kw = w.shape[:2]
    xp = np.pad(x, ((0, 0), (kh // 2, kh // 2), (kw // 2, kw // 2), (0, 0)))
    win = np.lib.stride_tricks.sliding_window_view(xp, (kh, kw), axis=(1, 2))  # N H W C kh kw
    return np.einsum("nhwcij,ijco->nhwo", win, w)


def _local_inputs(rng):
    """One 3x3 kernel per output pixel (VALID): weights of shape (H', W', C*3*3, O)."""
    n, ch, side, out = rng.dims((2, 8), (4, 16), (12, 32), (8, 32))
    k = 3
    return {"x": rng.standard_normal((n, side, side, ch)),
            "w": rng.standard_normal((side - k + 1, side - k + 1, ch * k * k, out)) / (k * np.sqrt(ch))}


def _conv_local(c, x, w):
    # As in flax's LocallyConnected layer.
    return c.fn(x, w, window_strides=(1, 1), padding="VALID", filter_shape=(3, 3),
                dimension_numbers=("NHWC", "HWIO", "NHWC"))


def _conv_local_ref(x, w):
    """The input dimension of the weights fuses the input channel with the window position, channel
    first ("C" then the spatial dimensions, in the rhs spec's order, per the documentation)."""
    win = np.lib.stride_tricks.sliding_window_view(x, (3, 3), axis=(1, 2))  # N H' W' C 3 3
    patches = win.reshape(*win.shape[:3], -1)  # N H' W' (C*3*3), channel major
    return np.einsum("nhwi,hwio->nhwo", patches, w)


def _transpose_inputs(rng):
    n, hw, ch = rng.dims((2, 8), (16, 32), (8, 32))
    # NHWC images and an HWIO kernel scaled by 1/sqrt(fan-in): outputs of order one at every size.
    return {"x": rng.standard_normal((n, hw, hw, ch)), "w": rng.standard_normal((3, 3, ch, ch)) / np.sqrt(9 * ch)}


def _conv_transpose(c, x, w):
    # Flax's ConvTranspose: stride 2, SAME padding, NHWC / HWIO, kernel not flipped.
    return c.fn(x, w, (2, 2), "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC"))


def _conv_transpose_ref(x, w):
    """The input dilated by the stride, padded as JAX pads a SAME transposed convolution
    (k + s - 2 in all, ceil of half before when s <= k - 1), then cross-correlated with w."""
    s, (kh, kw) = 2, w.shape[:2]
    n, h, wd, ch = x.shape
    dilated = np.zeros((n, (h - 1) * s + 1, (wd - 1) * s + 1, ch))
    dilated[:, ::s, ::s, :] = x
    pads = []
    for k in (kh, kw):
        total = k + s - 2
        before = k - 1 if s > k - 1 else int(np.ceil(total / 2))
        pads.append((before, total - before))
    xp = np.pad(dilated, ((0, 0), *pads, (0, 0)))
    win = np.lib.stride_tricks.sliding_window_view(xp, (kh, kw), axis=(1, 2))  # N H W C kh kw
    return np.einsum("nhwcij,ijco->nhwo", win, w, optimize=True)


def _patches_ref(x):
    """3x3 VALID patches of NCHW images; features ordered channel first, then filter row, column."""
    win = np.lib.stride_tricks.sliding_window_view(x, (3, 3), axis=(2, 3))  # N C H W kh kw
    n, ch, h, w = win.shape[:4]
    return win.transpose(0, 1, 4, 5, 2, 3).reshape(n, ch * 9, h, w)


KERNELS = [
    Kernel("jax.nn.one_hot", "nn", _labels, dtypes=FLOATS, call=lambda c, x: c.fn(x, 100, dtype=c.dtype),
           reference=lambda x: np.eye(100)[x], **paper(90, 71)),
    Kernel("jax.nn.relu", "nn", normal(N), dtypes=(*FLOATS, "int32"), reference=lambda x: np.maximum(x, 0),
           out_dtype={**{d: d for d in FLOATS}, "int32": "int32"}),
    Kernel("jax.nn.gelu", "nn", normal(N, scale=2.0), dtypes=FLOATS, reference=_gelu_tanh),
    # Rows of 256 at every size (only their number grows): the normalising sum keeps its length.
    Kernel("jax.nn.softmax", "nn", normal((256, 4096), 256, scale=3.0), dtypes=FLOATS,
           reference=lambda x: sps.softmax(x, axis=-1)),
    Kernel("jax.nn.sigmoid", "nn", normal(N, scale=4.0), dtypes=FLOATS, reference=sps.expit),
    Kernel("jax.lax.conv_general_dilated", "nn", _conv_inputs, dtypes=FLOATS,
           call=lambda c, x, w: c.fn(x, w, window_strides=(1, 1), padding="SAME",
                                      dimension_numbers=("NCHW", "OIHW", "NCHW")),
           reference=_conv_ref, tol={"float16": (2e-2, 2e-3), "bfloat16": (5e-2, 1e-2)}),
    Kernel("jax.nn.dot_product_attention", "nn", _attention_inputs, dtypes=FLOATS, reference=_attention_ref,
           tol={"float16": (2e-2, 2e-3), "bfloat16": (5e-2, 1e-2)}),
    Kernel("jax.nn.hard_sigmoid", "nn", normal(N, scale=4.0), dtypes=FLOATS,
           reference=lambda x: np.clip(x + 3.0, 0.0, 6.0) / 6.0),
    Kernel("jax.nn.silu", "nn", normal(N, scale=4.0), dtypes=FLOATS, reference=lambda x: x * sps.expit(x)),
    Kernel("jax.lax.reduce_window", "nn", normal((4, 8), (16, 32), 64, 64), dtypes=FLOATS,
           call=lambda c, x: c.fn(x, -np.inf, c.fw.lax.max, (1, 1, 2, 2), (1, 1, 2, 2), "VALID"),
           reference=_maxpool_ref),
    Kernel("jax.nn.relu6", "nn", normal(VEC, scale=4.0), dtypes=FLOATS, reference=lambda x: np.clip(x, 0.0, 6.0)),
    Kernel("jax.image.resize", "nn", {"nearest": _resize_inputs("nearest"), "bilinear": _resize_inputs("bilinear")},
           dtypes=FLOATS, call=_resize_call, reference=_resize_ref),
    Kernel("jax.lax.ConvDimensionNumbers", "nn", _conv_nhwc_inputs, dtypes=FLOATS, call=_conv_dn,
           reference=_conv_nhwc_ref),
    Kernel("jax.lax.conv_general_dilated_local", "nn", _local_inputs, dtypes=FLOATS, call=_conv_local,
           reference=_conv_local_ref),
    Kernel("jax.lax.conv_transpose", "nn", _transpose_inputs, dtypes=FLOATS, call=_conv_transpose,
           reference=_conv_transpose_ref, tol=HALF_SUMS),
    # Patch extraction only copies values (JAX runs it as a convolution with a one-hot kernel).
    Kernel("jax.lax.conv_general_dilated_patches", "nn", normal((2, 8), (3, 8), (16, 64), (16, 64)), dtypes=FLOATS,
           call=lambda c, x: c.fn(x, (3, 3), (1, 1), "VALID"), reference=_patches_ref, out_dtype=same(*FLOATS)),
]
