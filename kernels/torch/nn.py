"""torch.nn modules and functional ops, exercised as users call them.

Modules take their weights from the seeded builder (copied in during setup), so every module
is checked against NumPy (a TransformerEncoderLayer included); dropout by its properties.
"""

import numpy as np
import scipy.special as sp
from numpy.lib.stride_tricks import sliding_window_view

from portability.catalog import BIG_SIDE, Keep, Kernel, copy_params, normal

FLOATS = ("float32", "float64", "float16", "bfloat16")
#: Dot products of a few hundred terms: half-precision outputs round once, accumulation is wider.
DOT_TOL = {"float16": (2e-2, 3e-3), "bfloat16": (5e-2, 1.5e-2)}


# -- convolution and pooling -------------------------------------------------------------------

def _conv_inputs(n, spatial, c_in, c_out, k):
    def build(rng):
        n_, c_in_, c_out_ = rng.dims(n, c_in, c_out)
        return {
            "x": rng.standard_normal((n_, c_in_, *rng.dims(*spatial))),
            "w": rng.standard_normal((c_out_, c_in_, *([k] * len(spatial)))) / np.sqrt(c_in_ * k ** len(spatial)),
            "b": rng.standard_normal(c_out_) * 0.1,
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
    copy_params(m, weight=w, bias=b)
    return lambda: m(x)


#: Pooling blocks of 4x8x8 at every size (only their number grows), so each mean has 256 terms.
BLOCK = (4, 8, 8)
#: 2x2x2 blocks at small, 1M elements at medium.
POOL_SHAPE = (2, (4, 8), (8, 16), (16, 64), (16, 64))


def _aap3d_setup(c, x):
    m = c.fn(tuple(s // b for s, b in zip(x.shape[2:], BLOCK, strict=True)))
    return lambda: m(x)


def _block_mean(x):
    """Means over 4x8x8 blocks: AdaptiveAvgPool3d(shape // (4, 8, 8)) and avg_pool3d((4, 8, 8))."""
    n, ch, d, h, w = x.shape
    bd, bh, bw = BLOCK
    return x.reshape(n, ch, d // bd, bd, h // bh, bh, w // bw, bw).mean(axis=(3, 5, 7))


# -- dense layers ------------------------------------------------------------------------------

def _linear_inputs(rng):
    batch, n_in, n_out = rng.dims((32, 512), (64, 512), (64, 512))
    return {"x": rng.standard_normal((batch, n_in)), "w": rng.standard_normal((n_out, n_in)) / np.sqrt(n_in),
            "b": rng.standard_normal(n_out) * 0.1}


def _linear_setup(c, x, w, b):
    m = c.fn(w.shape[1], w.shape[0]).to(device=c.device, dtype=x.dtype)
    copy_params(m, weight=w, bias=b)
    return lambda: m(x)


def _mlp_inputs(rng):
    batch, n_in, hidden = rng.dims((32, 512), (64, 512), (64, 1024))
    return {"x": rng.standard_normal((batch, n_in)), "w1": rng.standard_normal((hidden, n_in)) / np.sqrt(n_in),
            "b1": rng.standard_normal(hidden) * 0.1, "w2": rng.standard_normal((10, hidden)) / np.sqrt(hidden),
            "b2": rng.standard_normal(10) * 0.1}


def _sequential_setup(c, x, w1, b1, w2, b2):
    nn = c.fw.nn
    (hidden, n_in), n_out = w1.shape, w2.shape[0]
    m = c.fn(nn.Linear(n_in, hidden), nn.ReLU(), nn.Linear(hidden, n_out)).to(device=c.device, dtype=x.dtype)
    copy_params(m[0], weight=w1, bias=b1)
    copy_params(m[2], weight=w2, bias=b2)
    return lambda: m(x)


def _sequential_ref(x, w1, b1, w2, b2):
    return np.maximum(x @ w1.T + b1, 0) @ w2.T + b2


def _lstm_inputs(rng):
    batch, n_in, h = rng.dims((16, 512), (32, 512), (32, 512))
    return {"x": rng.standard_normal((batch, n_in)), "h": rng.standard_normal((batch, h)) * 0.5,
            "c": rng.standard_normal((batch, h)) * 0.5,
            "w_ih": rng.standard_normal((4 * h, n_in)) / np.sqrt(n_in),
            "w_hh": rng.standard_normal((4 * h, h)) / np.sqrt(h),
            "b_ih": rng.standard_normal(4 * h) * 0.1, "b_hh": rng.standard_normal(4 * h) * 0.1}


def _lstm_setup(ctx, x, h, c, w_ih, w_hh, b_ih, b_hh):
    m = ctx.fn(x.shape[1], h.shape[1]).to(device=ctx.device, dtype=x.dtype)
    copy_params(m, weight_ih=w_ih, weight_hh=w_hh, bias_ih=b_ih, bias_hh=b_hh)
    return lambda: m(x, (h, c))


def _lstm_ref(x, h, c, w_ih, w_hh, b_ih, b_hh):
    gates = x @ w_ih.T + b_ih + h @ w_hh.T + b_hh
    i, f, g, o = np.split(gates, 4, axis=1)
    c2 = sp.expit(f) * c + sp.expit(i) * np.tanh(g)
    return np.tanh(c2) * sp.expit(o), c2


HEADS = 4


def _encoder_inputs(rng):
    batch, seq, d, ff = rng.dims((2, 8), (16, 256), (32, 256), (64, 1024))

    def w(rows, cols):
        return rng.standard_normal((rows, cols)) / np.sqrt(cols)

    return {"x": rng.standard_normal((batch, seq, d)),
            "w_in": w(3 * d, d), "b_in": rng.standard_normal(3 * d) * 0.1,
            "w_out": w(d, d), "b_out": rng.standard_normal(d) * 0.1,
            "w1": w(ff, d), "b1": rng.standard_normal(ff) * 0.1, "w2": w(d, ff), "b2": rng.standard_normal(d) * 0.1,
            "g1": rng.uniform(0.5, 1.5, d), "be1": rng.standard_normal(d) * 0.1,
            "g2": rng.uniform(0.5, 1.5, d), "be2": rng.standard_normal(d) * 0.1}


def _encoder_setup(c, x, w_in, b_in, w_out, b_out, w1, b1, w2, b2, g1, be1, g2, be2):
    # eval(): dropout off, and torch takes its fused "fast path" for inference, as users get it.
    m = c.fn(d_model=x.shape[-1], nhead=HEADS, dim_feedforward=w1.shape[0], batch_first=True)
    m = m.to(device=c.device, dtype=x.dtype).eval()
    copy_params(m.self_attn, in_proj_weight=w_in, in_proj_bias=b_in)
    copy_params(m.self_attn.out_proj, weight=w_out, bias=b_out)
    copy_params(m.linear1, weight=w1, bias=b1)
    copy_params(m.linear2, weight=w2, bias=b2)
    copy_params(m.norm1, weight=g1, bias=be1)
    copy_params(m.norm2, weight=g2, bias=be2)

    def run():
        with c.fw.no_grad():
            return m(x)

    return run


def _encoder_ref(x, w_in, b_in, w_out, b_out, w1, b1, w2, b2, g1, be1, g2, be2):
    """The default layer: post-norm, ReLU, multi-head self-attention, no dropout (eval)."""
    n, s, d = x.shape
    q, k, v = np.split(x @ w_in.T + b_in, 3, axis=-1)

    def heads(t):
        return t.reshape(n, s, HEADS, d // HEADS).transpose(0, 2, 1, 3)

    att = _attention_ref(heads(q), heads(k), heads(v)).transpose(0, 2, 1, 3).reshape(n, s, d)
    h = _ln_ref(x + att @ w_out.T + b_out, g1, be1)
    return _ln_ref(h + np.maximum(h @ w1.T + b1, 0) @ w2.T + b2, g2, be2)


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


def _module_call(*args, **kwargs):
    """setup for a stateless module: construct it untimed, time its forward pass."""

    def setup(c, **inputs):
        m = c.fn(*args, **kwargs)
        values = tuple(inputs.values())
        return lambda: m(*values)

    return setup


# -- losses ------------------------------------------------------------------------------------

def _logits_targets(rng):
    shape = rng.dims((64, 1024), (64, 1024))
    return {"x": rng.standard_normal(shape) * 3, "y": rng.uniform(0, 1, shape)}


def _bce_ref(x, y):
    return np.mean(np.maximum(x, 0) - x * y + np.log1p(np.exp(-np.abs(x))))


def _smooth_l1_ref(x, y):
    d = np.abs(x - y)
    return np.mean(np.where(d < 1.0, 0.5 * d * d, d - 0.5))


def _kl_inputs(rng):
    shape = rng.dims((128, 32768), 32)
    logits = rng.standard_normal(shape)
    target = sp.softmax(rng.standard_normal(shape), axis=1)
    return {"x": sp.log_softmax(logits, axis=1), "y": target}


def _kl_ref(x, y):
    return np.sum(y * (np.log(y) - x)) / x.shape[0]


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


# -- dropout (random) --------------------------------------------------------------------------

P_DROP = 0.3
#: An absolute floor for kept values: float16 subnormals (|x| < 6e-5, a handful in 1M normal
#: draws) are spaced 6e-8 apart, so their scaled values round by more than 1%.
KEPT_ATOL = 1e-7


def _check_dropout(out, x):
    out = np.asarray(out, dtype=np.float64)
    assert out.shape == x.shape, f"shape {out.shape} != {x.shape}"
    kept = out != 0
    frac = 1.0 - kept.mean()
    assert abs(frac - P_DROP) < 0.02, f"dropped fraction {frac:.3f}, expected {P_DROP}"
    assert np.allclose(out[kept], x[kept] / (1 - P_DROP), rtol=1e-2, atol=KEPT_ATOL), (
        "kept values not scaled by 1/(1-p)")


def _check_dropout3d(out, x):
    out = np.asarray(out, dtype=np.float64)
    assert out.shape == x.shape, f"shape {out.shape} != {x.shape}"
    flat, xf = out.reshape(out.shape[0] * out.shape[1], -1), x.reshape(x.shape[0] * x.shape[1], -1)
    dropped = np.all(flat == 0, axis=1)
    assert np.all(dropped | np.all(flat != 0, axis=1)), "channels partly zeroed: Dropout3d drops whole channels"
    frac = dropped.mean()
    # 512 channels at every size: the dropped fraction has a standard error of 0.02.
    assert abs(frac - P_DROP) < 0.1, f"dropped channel fraction {frac:.3f}, expected {P_DROP}"
    assert np.allclose(flat[~dropped], xf[~dropped] / (1 - P_DROP), rtol=1e-2, atol=KEPT_ATOL), (
        "kept channels not scaled")


def _dropout3d_setup(c, x):
    m = c.fn(p=P_DROP)  # a fresh module is in training mode, where dropout is active
    return lambda: m(x)


KERNELS = [
    # From the paper's sample.
    Kernel("torch.nn.Conv2d", "module", _conv_inputs((2, 8), ((16, 64), (16, 64)), (3, 32), (8, 32), 3), dtypes=FLOATS,
           setup=_conv_setup, reference=_conv_ref, tol=DOT_TOL, tags=("paper",), decile=100, frequency=1729),
    Kernel("torch.nn.Conv3d", "module", _conv_inputs((2, 4), ((4, 16), (8, 32), (8, 32)), (4, 16), (8, 16), 3),
           dtypes=FLOATS, setup=_conv_setup, reference=_conv_ref, tol=DOT_TOL,
           tags=("paper",), decile=80, frequency=48),
    Kernel("torch.nn.Linear", "module", _linear_inputs, dtypes=FLOATS, setup=_linear_setup,
           reference=lambda x, w, b: x @ w.T + b, tol=DOT_TOL, tags=("paper",), decile=100, frequency=1827),
    Kernel("torch.nn.Sequential", "module", _mlp_inputs, dtypes=FLOATS, setup=_sequential_setup,
           reference=_sequential_ref, tol=DOT_TOL, tags=("paper",), decile=100, frequency=1426),
    Kernel("torch.nn.LSTMCell", "module", _lstm_inputs, dtypes=FLOATS, setup=_lstm_setup,
           reference=_lstm_ref, tol=DOT_TOL, tags=("paper",), decile=70, frequency=20),
    Kernel("torch.nn.TransformerEncoderLayer", "module", _encoder_inputs, dtypes=FLOATS,
           setup=_encoder_setup, reference=_encoder_ref, tol=DOT_TOL, tags=("paper",), decile=50, frequency=6),
    Kernel("torch.nn.GELU", "module", normal(BIG_SIDE, BIG_SIDE, scale=3.0), dtypes=FLOATS, setup=_module_call(),
           reference=lambda x: 0.5 * x * (1 + sp.erf(x / np.sqrt(2))), tags=("paper",), decile=50, frequency=8),
    Kernel("torch.nn.AdaptiveAvgPool3d", "module", normal(*POOL_SHAPE), dtypes=FLOATS,
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
    # 65536 values at small (not fewer): the dropped-fraction bound is 11 standard errors there.
    Kernel("torch.nn.functional.dropout", "random", normal((256, 1024), (256, 1024)), dtypes=FLOATS,
           call=lambda c, x: c.fn(x, p=P_DROP, training=True), random=True, check=_check_dropout,
           tags=("paper",), decile=100, frequency=372),
    Kernel("torch.nn.Dropout3d", "random", normal(8, 64, (2, 8), (4, 16), (4, 16)), dtypes=FLOATS,
           setup=_dropout3d_setup, random=True, check=_check_dropout3d, tags=("paper",), decile=40, frequency=5),
    # Common functional ops.
    Kernel("torch.nn.functional.softmax", "nn", normal((4, 1024), 1024, scale=4.0), dtypes=FLOATS,
           call=lambda c, x: c.fn(x, dim=-1), reference=lambda x: sp.softmax(x, axis=-1)),
    Kernel("torch.nn.functional.layer_norm", "nn", _ln_inputs, dtypes=FLOATS,
           call=lambda c, x, weight, bias: c.fn(x, (x.shape[-1],), weight, bias), reference=_ln_ref),
    Kernel("torch.nn.functional.scaled_dot_product_attention", "nn", _attention_inputs, dtypes=FLOATS,
           reference=_attention_ref, tol=DOT_TOL),
    Kernel("torch.nn.functional.avg_pool3d", "nn", normal(*POOL_SHAPE), dtypes=FLOATS,
           call=lambda c, x: c.fn(x, BLOCK), reference=_block_mean),
    Kernel("torch.nn.functional.cross_entropy", "nn", _ce_inputs, dtypes=FLOATS, reference=_ce_ref),
]
