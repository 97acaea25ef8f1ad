"""torch.nn modules and functional ops from the usage sample, exercised by forward passes as models
call them, and Module.named_parameters as optimizer set-up code walks a model.

Modules take their weights from the seeded builder (copied in during setup), so every output is
checked against NumPy.
"""

import numpy as np
import scipy.special as sp
from numpy.lib.stride_tricks import sliding_window_view

from portability.catalog import BIG_SIDE, Keep, Kernel, copy_params

FLOATS = ("float32", "float64", "float16", "bfloat16")
N = (BIG_SIDE, BIG_SIDE)  # 64x64 at small, 1024x1024 at medium
#: Dot products of a few hundred terms: half-precision outputs round once, accumulation is wider.
DOT_TOL = {"float16": (2e-2, 3e-3), "bfloat16": (5e-2, 1.5e-2)}
IMAGES = ((2, 8), (8, 32), (16, 64), (16, 64))  # 2x8x16x16 at small, 8x32x64x64 at medium


# -- nn.Identity -----------------------------------------------------------------------------------

def _dense_inputs(rng):
    batch, n_in, n_out = rng.dims((32, 512), (64, 512), (64, 512))
    return {"x": rng.standard_normal((batch, n_in)), "w": rng.standard_normal((n_out, n_in)) / np.sqrt(n_in),
            "b": rng.standard_normal(n_out) * 0.1}


def _identity_setup(c, x, w, b):
    nn = c.fw.nn
    m = c.fn()
    loose = c.fn(54, unused_argument1=0.1, unused_argument2=False)  # arguments are accepted and ignored
    lin = copy_params(nn.Linear(w.shape[1], w.shape[0], device=c.device, dtype=x.dtype), weight=w, bias=b)
    net = nn.Sequential(lin, nn.Identity())  # a placeholder norm / a classifier head removed

    def run():
        out = m(x)
        return out, net(x).detach(), [out is x, loose(x) is x, len(list(m.parameters())) == 0]

    return run


# -- nn.CrossEntropyLoss ---------------------------------------------------------------------------

IGNORE = -100  # the label of padding tokens


def _ce_inputs(rng):
    n, v = rng.dims((256, 4096), (64, 256))
    labels = rng.integers(0, v, n)
    labels[rng.uniform(size=n) < 0.2] = IGNORE
    return {"logits": rng.standard_normal((n, v)) * 2, "labels": Keep(labels),
            "soft": sp.softmax(rng.standard_normal((n, v)), axis=1)}


def _ce_setup(c, logits, labels, soft):
    plain, smooth, none = c.fn(), c.fn(label_smoothing=0.1), c.fn(reduction="none")
    return lambda: (plain(logits, labels), smooth(logits, labels), none(logits, labels), plain(logits, soft))


def _ce_ref(logits, labels, soft):
    logp = sp.log_softmax(logits, axis=1)
    keep = labels != IGNORE
    nll = -logp[np.arange(len(labels)), np.where(keep, labels, 0)]
    uniform = -logp.mean(axis=1)  # label smoothing's share: the cross-entropy with uniform targets
    return (nll[keep].mean(), (0.9 * nll + 0.1 * uniform)[keep].mean(), np.where(keep, nll, 0.0),
            -(soft * logp).sum(axis=1).mean())


# -- nn.functional.pad -----------------------------------------------------------------------------

def _pad_inputs(mode):
    return lambda rng: {"x": np.round(rng.standard_normal(rng.dims(*IMAGES)) * 4), "mode": mode}


NP_MODES = {"reflect": "reflect", "replicate": "edge", "circular": "wrap"}


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


# -- nn.GroupNorm ----------------------------------------------------------------------------------

GROUPS = 32  # diffusers' resnet blocks: GroupNorm(32, channels, eps=1e-6)


def _gn_inputs(rng):
    n, ch, side = rng.dims((2, 8), (64, 128), (16, 32))
    loc, scale = rng.uniform(-2, 2, (1, ch, 1, 1)), rng.uniform(0.5, 2, (1, ch, 1, 1))
    return {"x": rng.standard_normal((n, ch, side, side)) * scale + loc, "weight": rng.uniform(0.5, 1.5, ch),
            "bias": rng.standard_normal(ch) * 0.1}


def _gn_setup(c, x, weight, bias):
    m = copy_params(c.fn(GROUPS, x.shape[1], eps=1e-6).to(device=c.device, dtype=x.dtype), weight=weight, bias=bias)
    return lambda: m(x)


def _gn_ref(x, weight, bias):
    n, ch = x.shape[:2]
    g = x.reshape(n, GROUPS, -1)
    y = ((g - g.mean(-1, keepdims=True)) / np.sqrt(g.var(-1, keepdims=True) + 1e-6)).reshape(x.shape)
    return y * weight.reshape(1, -1, 1, 1) + bias.reshape(1, -1, 1, 1)


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


# -- nn.Module.named_parameters --------------------------------------------------------------------

def _model_inputs(rng):
    vocab, d = rng.dims((100, 1000), (32, 256))
    return {"emb": rng.standard_normal((vocab, d)), "w": rng.standard_normal((d, d)) / np.sqrt(d),
            "b": rng.standard_normal(d) * 0.1, "ln_w": rng.uniform(0.5, 1.5, d), "ln_b": rng.standard_normal(d) * 0.1}


NAMES = ["scale", "frozen", "embed.weight", "block.0.weight", "block.0.bias", "block.LayerNorm.weight",
         "block.LayerNorm.bias"]
NO_DECAY = ("bias", "LayerNorm.weight")  # transformers' Trainer: no weight decay for these


def _named_parameters_setup(c, emb, w, b, ln_w, ln_b):
    torch, nn = c.fw, c.fw.nn
    vocab, d = emb.shape

    class Tiny(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = nn.Embedding(vocab, d)
            self.block = nn.Sequential()
            self.block.add_module("0", nn.Linear(d, d))
            self.block.add_module("LayerNorm", nn.LayerNorm(d))
            self.head = nn.Linear(d, vocab, bias=False)
            self.head.weight = self.embed.weight  # tied input and output embeddings
            self.scale = nn.Parameter(torch.ones(()))
            self.frozen = nn.Parameter(torch.zeros(d), requires_grad=False)

    model = Tiny().to(device=c.device, dtype=emb.dtype)
    copy_params(model.embed, weight=emb)
    copy_params(model.block[0], weight=w, bias=b)
    copy_params(model.block.LayerNorm, weight=ln_w, bias=ln_b)

    def run():
        named = list(c.fn(model))
        params = dict(named)
        decay = [n for n, p in c.fn(model) if not any(nd in n for nd in NO_DECAY)]
        trainable = sum(p.numel() for _, p in c.fn(model) if p.requires_grad)
        top = [n for n, _ in c.fn(model, recurse=False)]
        prefixed = [n for n, _ in c.fn(model.block, prefix="encoder")]
        with_duplicates = [n for n, _ in c.fn(model, remove_duplicate=False)]
        flags = [params["embed.weight"] is model.head.weight, all(isinstance(p, nn.Parameter) for _, p in named),
                 all(p.device == emb.device and p.dtype == emb.dtype for _, p in named)]
        values = [params[n].detach() for n in NAMES]
        return values, [n for n, _ in named], decay, trainable, top, prefixed, with_duplicates, flags

    return run


def _named_parameters_ref(emb, w, b, ln_w, ln_b):
    vocab, d = emb.shape
    return ([np.ones(()), np.zeros(d), emb, w, b, ln_w, ln_b], NAMES,
            ["scale", "frozen", "embed.weight", "block.0.weight"],
            1 + vocab * d + d * d + 3 * d, ["scale", "frozen"],
            ["encoder.0.weight", "encoder.0.bias", "encoder.LayerNorm.weight", "encoder.LayerNorm.bias"],
            [*NAMES, "head.weight"], [True] * 3)


KERNELS = [
    Kernel("torch.nn.Identity", "module", _dense_inputs, dtypes=FLOATS, setup=_identity_setup,
           reference=lambda x, w, b: (x, x @ w.T + b, [True] * 3), tol=DOT_TOL,
           note="returns its input object; ignores constructor arguments; a removed head in a Sequential"),
    # torch bug: in float16, label smoothing sums -log_softmax over every class of every sample in
    # float16 before dividing, so the sum overflows (to inf) once it passes 65504: here at 256x64
    # logits (the float32 loss is 6.1). The other three losses are fine in float16.
    Kernel("torch.nn.CrossEntropyLoss", "module", _ce_inputs, dtypes=FLOATS, setup=_ce_setup, reference=_ce_ref,
           note="labels with ignore_index padding (mean, label_smoothing=0.1, reduction='none'), soft targets"),
    Kernel("torch.nn.functional.pad", "nn",
           {"constant": _pad_inputs("constant"), "reflect": _pad_inputs("reflect"),
            "replicate": _pad_inputs("replicate"), "circular": _pad_inputs("circular")},
           dtypes=(*FLOATS, "int64"), call=_pad_call, reference=_pad_ref),
    Kernel("torch.nn.GroupNorm", "module", _gn_inputs, dtypes=FLOATS, setup=_gn_setup, reference=_gn_ref,
           note="32 groups, eps=1e-6, affine: the diffusers resnet block's norm"),
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
    Kernel("torch.nn.Module.named_parameters", "module", _model_inputs, dtypes=FLOATS,
           setup=_named_parameters_setup, reference=_named_parameters_ref,
           note="names and values; weight-decay grouping; trainable count; recurse, prefix, tied weights"),
]
