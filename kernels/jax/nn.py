"""jax.nn activations and helpers, and the lax convolution users build layers from."""

import numpy as np
from scipy import special as sps

from portability.catalog import Keep, Kernel, normal, paper

FLOATS = ("float32", "float64", "float16", "bfloat16")
N = (64 * 1024, 1 << 20)


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
]
