"""torch.nn layers from the usage sample, exercised by a forward pass as models call them.

Each module takes its weights from the seeded builder (copied in during setup), so its forward
pass is checked against NumPy; Dropout, whose output is random, is checked by its properties.
"""

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from portability.catalog import BIG_SIDE, Keep, Kernel, copy_params, normal, pair

FLOATS = ("float32", "float64", "float16", "bfloat16")
#: Dot products of a few hundred terms: half-precision outputs round once, accumulation is wider.
DOT_TOL = {"float16": (2e-2, 3e-3), "bfloat16": (5e-2, 1.5e-2)}


def _conv1d_ref(x, w, b, pad, groups=1):
    """Cross-correlation of (n, c_in, L) with (c_out, c_in/groups, k), zero padding on both ends."""
    n, c_in, _ = x.shape
    c_out, c_group, k = w.shape
    win = sliding_window_view(np.pad(x, ((0, 0), (0, 0), (pad, pad))), k, axis=2)  # n, c_in, L_out, k
    win = win.reshape(n, groups, c_group, -1, k)
    out = np.einsum("ngclk,gock->ngol", win, w.reshape(groups, c_out // groups, c_group, k), optimize=True)
    return out.reshape(n, c_out, -1) + b[None, :, None]


# -- LayerNorm -------------------------------------------------------------------------------------

HIDDEN = 256  # rows of 256 at every size: each normalisation has the same length


def _ln_inputs(rng):
    return {"x": rng.standard_normal(rng.dims((2, 8), (32, 512), HIDDEN)) * 2 + 1,
            "weight": rng.uniform(0.5, 1.5, HIDDEN), "bias": rng.standard_normal(HIDDEN) * 0.1}


def _ln_setup(c, x, weight, bias):
    m = copy_params(c.fn(HIDDEN, eps=1e-6).to(device=c.device, dtype=x.dtype), weight=weight, bias=bias)
    return lambda: m(x)


def _ln_ref(x, weight, bias):
    return (x - x.mean(-1, keepdims=True)) / np.sqrt(x.var(-1, keepdims=True) + 1e-6) * weight + bias


# -- Dropout ---------------------------------------------------------------------------------------

P_DROP = 0.1  # transformers' usual hidden_dropout_prob


def _dropout_setup(c, x):
    m = c.fn(P_DROP)

    def run():
        m.train()
        trained = m(x)
        m.eval()  # inference: the identity
        return trained, m(x)

    return run


def _check_dropout(out, x):
    trained, evaluated = (np.asarray(o, dtype=np.float64) for o in out)
    assert trained.shape == x.shape, f"shape {trained.shape} != {x.shape}"
    kept = trained != 0
    frac = 1.0 - kept.mean()
    bound = 8 * np.sqrt(P_DROP * (1 - P_DROP) / x.size)  # 8 standard errors
    assert abs(frac - P_DROP) < bound, f"dropped fraction {frac:.4f}, expected {P_DROP} +- {bound:.4f}"
    assert np.allclose(trained[kept], x[kept] / (1 - P_DROP), rtol=1e-2, atol=0), "kept values not scaled by 1/(1-p)"
    assert np.array_equal(evaluated, x), "eval() Dropout is not the identity"


# -- Embedding (forward and backward, with a padding index) ----------------------------------------

def _embedding_inputs(rng):
    vocab, dim = rng.dims((1000, 8000), (64, 512))
    idx = rng.integers(0, vocab, rng.dims((4, 8), (32, 256)))
    idx[:, -3:] = 0  # padded tails
    return {"w": rng.standard_normal((vocab, dim)), "idx": Keep(idx),
            "g": rng.standard_normal((*idx.shape, dim))}


def _embedding_setup(c, w, idx, g):
    m = copy_params(c.fn(w.shape[0], w.shape[1], padding_idx=0).to(device=c.device, dtype=w.dtype), weight=w)

    def run():
        m.weight.grad = None
        out = m(idx)
        (out * g).sum().backward()
        return out.detach(), m.weight.grad

    return run


def _embedding_ref(w, idx, g):
    grad = np.zeros_like(w)
    np.add.at(grad, idx.reshape(-1), g.reshape(-1, w.shape[1]))
    grad[0] = 0  # padding_idx receives no gradient
    return w[idx], grad


# -- Conv1d ----------------------------------------------------------------------------------------

def _conv1d_inputs(rng):
    n, c_in, c_out, length = rng.dims((2, 8), (16, 128), (32, 128), (256, 1024))
    return {"x": rng.standard_normal((n, c_in, length)),
            "w": rng.standard_normal((c_out, c_in, 3)) / np.sqrt(3 * c_in), "b": rng.standard_normal(c_out) * 0.1}


def _conv1d_setup(c, x, w, b):
    m = copy_params(c.fn(w.shape[1], w.shape[0], kernel_size=3, padding=1).to(device=c.device, dtype=x.dtype),
              weight=w, bias=b)
    return lambda: m(x)


# -- weight_norm on a grouped Conv1d (wav2vec2's positional convolution) ----------------------------

def _wn_inputs(rng):
    n, ch, k, length, groups = rng.dims((2, 4), (32, 256), (16, 32), (64, 512), (4, 16))
    return {"x": rng.standard_normal((n, ch, length)),
            "v": rng.standard_normal((ch, ch // groups, k)), "g": rng.uniform(0.5, 1.5, (1, 1, k)),
            "b": rng.standard_normal(ch) * 0.1, "groups": groups}


def _wn_setup(c, x, v, g, b, groups):
    ch, _, k = v.shape
    conv = c.fw.nn.Conv1d(ch, ch, kernel_size=k, padding=k // 2, groups=groups)
    m = c.fn(conv.to(device=c.device, dtype=x.dtype), name="weight", dim=2)
    copy_params(m, weight_v=v, weight_g=g, bias=b)
    return lambda: m(x)


def _wn_ref(x, v, g, b, groups):
    # dim=2: one norm per kernel tap, over the output and input channels.
    w = g * v / np.sqrt(np.sum(v * v, axis=(0, 1), keepdims=True))
    return _conv1d_ref(x, w, b, v.shape[2] // 2, groups)


# -- MSELoss ---------------------------------------------------------------------------------------

def _mse_setup(c, x, y):
    m = c.fn()
    return lambda: m(x, y)


# -- pooling ---------------------------------------------------------------------------------------

def _adaptive_mean(x, out):
    """Adaptive average pooling over the trailing len(out) axes: window i of an axis of length n
    spans [floor(i*n/o), ceil((i+1)*n/o)); a box mean is the mean of means along each axis."""
    for axis, o in zip(range(x.ndim - len(out), x.ndim), out, strict=True):
        n = x.shape[axis]
        parts = [x.take(np.arange(i * n // o, -(-(i + 1) * n // o)), axis=axis).mean(axis=axis) for i in range(o)]
        x = np.stack(parts, axis=axis)
    return x


def _pool_images(*spatial, out):
    def build(rng):
        return {"x": rng.standard_normal(rng.dims((2, 16), (16, 256), *spatial)), "out": out}

    return build


def _adaptive_setup(c, x, out):
    m = c.fn(out)
    return lambda: m(x)


def _pool1d_inputs(rng):
    return {"x": rng.standard_normal(rng.dims((2, 8), (16, 128), (256, 1024)))}


def _windows(x, fill):
    """Windows of 3 with stride 2 over the last axis, padded by one ``fill`` on each side."""
    padded = np.pad(x, ((0, 0), (0, 0), (1, 1)), constant_values=fill)
    return sliding_window_view(padded, 3, axis=2)[:, :, ::2]


def _pool1d_setup(c, x):
    m = c.fn(kernel_size=3, stride=2, padding=1)
    return lambda: m(x)


KERNELS = [
    Kernel("torch.nn.LayerNorm", "module", _ln_inputs, dtypes=FLOATS, setup=_ln_setup, reference=_ln_ref),
    Kernel("torch.nn.Dropout", "random", normal(256, (256, 4096)),
           dtypes=FLOATS, setup=_dropout_setup, random=True, check=_check_dropout,
           note="training mode drops p=0.1 and rescales; eval mode is the identity"),
    Kernel("torch.nn.Embedding", "module", _embedding_inputs, dtypes=FLOATS, setup=_embedding_setup,
           reference=_embedding_ref, note="lookup, then backward: gradients scatter-added, none for padding_idx"),
    Kernel("torch.nn.Conv1d", "module", _conv1d_inputs, dtypes=FLOATS, setup=_conv1d_setup,
           reference=lambda x, w, b: _conv1d_ref(x, w, b, 1), tol=DOT_TOL),
    Kernel("torch.nn.utils.weight_norm", "module", _wn_inputs, dtypes=FLOATS, setup=_wn_setup, reference=_wn_ref,
           tol=DOT_TOL, note="wav2vec2's weight_norm(conv, name='weight', dim=2) on a grouped Conv1d"),
    Kernel("torch.nn.MSELoss", "module", pair(BIG_SIDE, BIG_SIDE), dtypes=FLOATS, setup=_mse_setup,
           reference=lambda x, y: np.mean((x - y) ** 2)),
    Kernel("torch.nn.AdaptiveAvgPool2d", "module",
           {"global": _pool_images(16, 16, out=(1, 1)), "uneven": _pool_images(15, 14, out=(4, 3))},
           dtypes=FLOATS, setup=_adaptive_setup, reference=_adaptive_mean,
           note="global pooling (timm heads) and overlapping adaptive windows"),
    Kernel("torch.nn.AdaptiveAvgPool1d", "module",
           {"global": _pool_images(256, out=(1,)), "uneven": _pool_images(250, out=(7,))},
           dtypes=FLOATS, setup=_adaptive_setup, reference=_adaptive_mean),
    Kernel("torch.nn.AvgPool1d", "module", _pool1d_inputs, dtypes=FLOATS, setup=_pool1d_setup,
           reference=lambda x: _windows(x, 0.0).mean(axis=-1), note="kernel 3, stride 2, padding 1 counted"),
    Kernel("torch.nn.MaxPool1d", "module", _pool1d_inputs, dtypes=FLOATS, setup=_pool1d_setup,
           reference=lambda x: _windows(x, -np.inf).max(axis=-1)),
]
