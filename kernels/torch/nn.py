"""torch.nn modules and functional ops, exercised as users call them.

Modules take their weights from the seeded builder (copied in during setup), so every module
with a closed form is checked against NumPy; the rest compare with the same module on the CPU
in float64 (torch is seeded before setup, so both runs build the same weights).
"""

import numpy as np
import scipy.special as sp
from numpy.lib.stride_tricks import sliding_window_view

from portability.builders import normal
from portability.catalog import Keep, Kernel

FLOATS = ("float32", "float64", "float16", "bfloat16")
#: Dot products of a few hundred terms: half-precision outputs round once, accumulation is wider.
DOT_TOL = {"float16": (2e-2, 3e-3), "bfloat16": (5e-2, 1.5e-2)}


def _load(module, **params):
    """Copy builder arrays into a module's parameters (same device and dtype already)."""
    import torch  # only ever called inside the worker, where torch is imported

    with torch.no_grad():
        for name, value in params.items():
            getattr(module, name).copy_(value)
    return module


# -- convolution and pooling -------------------------------------------------------------------

def _conv_inputs(spatial, c_in, c_out, k):
    def build(rng):
        return {
            "x": rng.standard_normal((2, c_in, *spatial)),
            "w": rng.standard_normal((c_out, c_in, *([k] * len(spatial)))) / np.sqrt(c_in * k ** len(spatial)),
            "b": rng.standard_normal(c_out) * 0.1,
        }

    return build


def _conv_ref(x, w, b, pad=1):
    nd = w.ndim - 2
    xp = np.pad(x, [(0, 0), (0, 0)] + [(pad, pad)] * nd)
    win = sliding_window_view(xp, w.shape[2:], axis=tuple(range(2, 2 + nd)))
    letters = "defg"[:nd]
    sub = f"nc{'xyz'[:nd]}{letters},oc{letters}->no{'xyz'[:nd]}"
    out = np.einsum(sub, win, w, optimize=True)
    return out + b.reshape((1, -1) + (1,) * nd)


def _conv_setup(c, x, w, b):
    m = c.fn(w.shape[1], w.shape[0], kernel_size=w.shape[2], padding=1).to(device=c.device, dtype=x.dtype)
    _load(m, weight=w, bias=b)
    return lambda: m(x)


def _aap3d_setup(c, x):
    m = c.fn((2, 2, 2))
    return lambda: m(x)


def _block_mean(x):
    """Means over 4x8x8 blocks: AdaptiveAvgPool3d((2, 2, 2)) and avg_pool3d((4, 8, 8)) of (.., 8, 16, 16)."""
    n, ch, d, h, w = x.shape
    return x.reshape(n, ch, 2, d // 2, 2, h // 2, 2, w // 2).mean(axis=(3, 5, 7))


# -- dense layers ------------------------------------------------------------------------------

def _linear_inputs(rng):
    return {"x": rng.standard_normal((64, 256)), "w": rng.standard_normal((128, 256)) / 16,
            "b": rng.standard_normal(128) * 0.1}


def _linear_setup(c, x, w, b):
    m = c.fn(w.shape[1], w.shape[0]).to(device=c.device, dtype=x.dtype)
    _load(m, weight=w, bias=b)
    return lambda: m(x)


def _mlp_inputs(rng):
    return {"x": rng.standard_normal((64, 128)), "w1": rng.standard_normal((256, 128)) / np.sqrt(128),
            "b1": rng.standard_normal(256) * 0.1, "w2": rng.standard_normal((10, 256)) / 16,
            "b2": rng.standard_normal(10) * 0.1}


def _sequential_setup(c, x, w1, b1, w2, b2):
    nn = c.fw.nn
    m = c.fn(nn.Linear(128, 256), nn.ReLU(), nn.Linear(256, 10)).to(device=c.device, dtype=x.dtype)
    _load(m[0], weight=w1, bias=b1)
    _load(m[2], weight=w2, bias=b2)
    return lambda: m(x)


def _sequential_ref(x, w1, b1, w2, b2):
    return np.maximum(x @ w1.T + b1, 0) @ w2.T + b2


def _lstm_inputs(rng):
    h = 64
    return {"x": rng.standard_normal((32, 48)), "h": rng.standard_normal((32, h)) * 0.5,
            "c": rng.standard_normal((32, h)) * 0.5,
            "w_ih": rng.standard_normal((4 * h, 48)) / np.sqrt(48), "w_hh": rng.standard_normal((4 * h, h)) / 8,
            "b_ih": rng.standard_normal(4 * h) * 0.1, "b_hh": rng.standard_normal(4 * h) * 0.1}


def _lstm_setup(ctx, x, h, c, w_ih, w_hh, b_ih, b_hh):
    m = ctx.fn(x.shape[1], h.shape[1]).to(device=ctx.device, dtype=x.dtype)
    _load(m, weight_ih=w_ih, weight_hh=w_hh, bias_ih=b_ih, bias_hh=b_hh)
    return lambda: m(x, (h, c))


def _lstm_ref(x, h, c, w_ih, w_hh, b_ih, b_hh):
    gates = x @ w_ih.T + b_ih + h @ w_hh.T + b_hh
    i, f, g, o = np.split(gates, 4, axis=1)
    c2 = sp.expit(f) * c + sp.expit(i) * np.tanh(g)
    return np.tanh(c2) * sp.expit(o), c2


def _encoder_setup(c, x):
    # eval(): dropout off, and torch takes its fused "fast path" for inference, as users get it.
    m = c.fn(d_model=64, nhead=4, dim_feedforward=128, batch_first=True).to(device=c.device, dtype=x.dtype).eval()

    def run():
        with c.fw.no_grad():
            return m(x)

    return run


# -- normalisation and activations -------------------------------------------------------------

def _bn_inputs(rng):
    ch = 16
    return {"x": rng.standard_normal((16, ch, 16, 16)) * 2 + 1, "mean": rng.standard_normal(ch),
            "var": rng.uniform(0.5, 4.0, ch), "weight": rng.uniform(0.5, 1.5, ch),
            "bias": rng.standard_normal(ch) * 0.1}


def _bn_ref(x, mean, var, weight, bias):
    s = (1, -1, 1, 1)
    return (x - mean.reshape(s)) / np.sqrt(var.reshape(s) + 1e-5) * weight.reshape(s) + bias.reshape(s)


def _gn_inputs(rng):
    return {"x": rng.standard_normal((8, 32, 16, 16)) * 2 + 1, "weight": rng.uniform(0.5, 1.5, 32),
            "bias": rng.standard_normal(32) * 0.1}


def _gn_ref(x, weight, bias, groups=4):
    n, ch = x.shape[:2]
    g = x.reshape(n, groups, -1)
    y = ((g - g.mean(-1, keepdims=True)) / np.sqrt(g.var(-1, keepdims=True) + 1e-5)).reshape(x.shape)
    s = (1, -1) + (1,) * (x.ndim - 2)
    return y * weight.reshape(s) + bias.reshape(s)


def _ln_inputs(rng):
    return {"x": rng.standard_normal((64, 32, 256)) * 2 + 1, "weight": rng.uniform(0.5, 1.5, 256),
            "bias": rng.standard_normal(256) * 0.1}


def _ln_ref(x, weight, bias):
    return (x - x.mean(-1, keepdims=True)) / np.sqrt(x.var(-1, keepdims=True) + 1e-5) * weight + bias


def _module_call(*args, **kwargs):
    """setup for a stateless module: construct it untimed, time its forward pass."""

    def setup(c, **inputs):
        m = c.fn(*args, **kwargs)
        values = tuple(inputs.values())
        return lambda: m(*values)

    return setup


# -- losses ------------------------------------------------------------------------------------

def _logits_targets(rng):
    return {"x": rng.standard_normal((256, 64)) * 3, "y": rng.uniform(0, 1, (256, 64))}


def _bce_ref(x, y):
    return np.mean(np.maximum(x, 0) - x * y + np.log1p(np.exp(-np.abs(x))))


def _smooth_l1_ref(x, y):
    d = np.abs(x - y)
    return np.mean(np.where(d < 1.0, 0.5 * d * d, d - 0.5))


def _kl_inputs(rng):
    logits = rng.standard_normal((128, 32))
    target = sp.softmax(rng.standard_normal((128, 32)), axis=1)
    return {"x": sp.log_softmax(logits, axis=1), "y": target}


def _kl_ref(x, y):
    return np.sum(y * (np.log(y) - x)) / x.shape[0]


def _ce_inputs(rng):
    return {"x": rng.standard_normal((256, 100)) * 2, "t": Keep(rng.integers(0, 100, 256))}


def _ce_ref(x, t):
    return -np.mean(sp.log_softmax(x, axis=1)[np.arange(len(t)), t])


def _attention_inputs(rng):
    shape = (4, 8, 128, 64)
    return {"q": rng.standard_normal(shape), "k": rng.standard_normal(shape), "v": rng.standard_normal(shape)}


def _attention_ref(q, k, v):
    return sp.softmax(q @ np.swapaxes(k, -1, -2) / np.sqrt(q.shape[-1]), axis=-1) @ v


# -- dropout (random) --------------------------------------------------------------------------

P_DROP = 0.3


def _check_dropout(out, x):
    out = np.asarray(out, dtype=np.float64)
    assert out.shape == x.shape, f"shape {out.shape} != {x.shape}"
    kept = out != 0
    frac = 1.0 - kept.mean()
    assert abs(frac - P_DROP) < 0.02, f"dropped fraction {frac:.3f}, expected {P_DROP}"
    assert np.allclose(out[kept], x[kept] / (1 - P_DROP), rtol=1e-2, atol=0), "kept values not scaled by 1/(1-p)"


def _check_dropout3d(out, x):
    out = np.asarray(out, dtype=np.float64)
    assert out.shape == x.shape, f"shape {out.shape} != {x.shape}"
    flat, xf = out.reshape(out.shape[0] * out.shape[1], -1), x.reshape(x.shape[0] * x.shape[1], -1)
    dropped = np.all(flat == 0, axis=1)
    assert np.all(dropped | np.all(flat != 0, axis=1)), "channels partly zeroed: Dropout3d drops whole channels"
    frac = dropped.mean()
    # 512 channels: the dropped fraction has a standard error of 0.02.
    assert abs(frac - P_DROP) < 0.1, f"dropped channel fraction {frac:.3f}, expected {P_DROP}"
    assert np.allclose(flat[~dropped], xf[~dropped] / (1 - P_DROP), rtol=1e-2, atol=0), "kept channels not scaled"


def _dropout3d_setup(c, x):
    m = c.fn(p=P_DROP)  # a fresh module is in training mode, where dropout is active
    return lambda: m(x)


KERNELS = [
    # From the paper's sample.
    Kernel("torch.nn.Conv2d", "module", _conv_inputs((32, 32), 3, 8, 3), dtypes=FLOATS,
           setup=_conv_setup, reference=_conv_ref, tol=DOT_TOL, tags=("paper",), decile=100, frequency=1729),
    Kernel("torch.nn.Conv3d", "module", _conv_inputs((8, 16, 16), 4, 8, 3), dtypes=FLOATS,
           setup=_conv_setup, reference=_conv_ref, tol=DOT_TOL, tags=("paper",), decile=80, frequency=48),
    Kernel("torch.nn.Linear", "module", _linear_inputs, dtypes=FLOATS, setup=_linear_setup,
           reference=lambda x, w, b: x @ w.T + b, tol=DOT_TOL, tags=("paper",), decile=100, frequency=1827),
    Kernel("torch.nn.Sequential", "module", _mlp_inputs, dtypes=FLOATS, setup=_sequential_setup,
           reference=_sequential_ref, tol=DOT_TOL, tags=("paper",), decile=100, frequency=1426),
    Kernel("torch.nn.LSTMCell", "module", _lstm_inputs, dtypes=FLOATS, setup=_lstm_setup,
           reference=_lstm_ref, tol=DOT_TOL, tags=("paper",), decile=70, frequency=20),
    Kernel("torch.nn.TransformerEncoderLayer", "module", normal(8, 32, 64), dtypes=FLOATS,
           setup=_encoder_setup, tol=DOT_TOL, tags=("paper",), decile=50, frequency=6,
           note="no closed form: compared with the same layer (same seeded weights) on the CPU in float64"),
    Kernel("torch.nn.GELU", "module", normal(512, 512, scale=3.0), dtypes=FLOATS, setup=_module_call(),
           reference=lambda x: 0.5 * x * (1 + sp.erf(x / np.sqrt(2))), tags=("paper",), decile=50, frequency=8),
    Kernel("torch.nn.AdaptiveAvgPool3d", "module", normal(2, 4, 8, 16, 16), dtypes=FLOATS,
           setup=_aap3d_setup, reference=_block_mean, tags=("paper",), decile=30, frequency=3),
    Kernel("torch.nn.functional.batch_norm", "nn", _bn_inputs, dtypes=FLOATS,
           call=lambda c, x, mean, var, weight, bias: c.fn(x, mean, var, weight, bias, training=False),
           reference=_bn_ref, tags=("paper",), decile=60, frequency=15),
    Kernel("torch.nn.functional.group_norm", "nn", _gn_inputs, dtypes=FLOATS,
           call=lambda c, x, weight, bias: c.fn(x, 4, weight, bias), reference=_gn_ref,
           tags=("paper",), decile=70, frequency=18),
    Kernel("torch.nn.BCEWithLogitsLoss", "module", _logits_targets, dtypes=FLOATS, setup=_module_call(),
           reference=_bce_ref, tags=("paper",), decile=70, frequency=24),
    Kernel("torch.nn.SmoothL1Loss", "module", _logits_targets, dtypes=FLOATS, setup=_module_call(),
           reference=_smooth_l1_ref, tags=("paper",), decile=70, frequency=23),
    Kernel("torch.nn.KLDivLoss", "module", _kl_inputs, dtypes=FLOATS, setup=_module_call(reduction="batchmean"),
           reference=_kl_ref, tags=("paper",), decile=30, frequency=3),
    Kernel("torch.nn.functional.dropout", "random", normal(256, 256), dtypes=FLOATS,
           call=lambda c, x: c.fn(x, p=P_DROP, training=True), random=True, check=_check_dropout,
           tags=("paper",), decile=100, frequency=372),
    Kernel("torch.nn.Dropout3d", "random", normal(8, 64, 4, 8, 8), dtypes=FLOATS, setup=_dropout3d_setup,
           random=True, check=_check_dropout3d, tags=("paper",), decile=40, frequency=5),
    # Common functional ops.
    Kernel("torch.nn.functional.softmax", "nn", normal(256, 1024, scale=4.0), dtypes=FLOATS,
           call=lambda c, x: c.fn(x, dim=-1), reference=lambda x: sp.softmax(x, axis=-1)),
    Kernel("torch.nn.functional.layer_norm", "nn", _ln_inputs, dtypes=FLOATS,
           call=lambda c, x, weight, bias: c.fn(x, (x.shape[-1],), weight, bias), reference=_ln_ref),
    Kernel("torch.nn.functional.scaled_dot_product_attention", "nn", _attention_inputs, dtypes=FLOATS,
           reference=_attention_ref, tol=DOT_TOL),
    Kernel("torch.nn.functional.avg_pool3d", "nn", normal(2, 4, 8, 16, 16), dtypes=FLOATS,
           call=lambda c, x: c.fn(x, (4, 8, 8)), reference=_block_mean),
    Kernel("torch.nn.functional.cross_entropy", "nn", _ce_inputs, dtypes=FLOATS, reference=_ce_ref),
]
