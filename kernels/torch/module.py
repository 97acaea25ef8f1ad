"""torch.nn modules, containers and nn.Module bookkeeping, exercised by forward passes and by the calls model
code makes on them.

Modules take their weights from the seeded builder (copied in during setup), so every output is checked
against NumPy (a TransformerEncoderLayer and an encoder-decoder Transformer included); what a method must do
(register, move, save and restore, zero gradients, reset statistics, freeze) is checked against NumPy values,
and bookkeeping answers (names, flags, order) are compared exactly with what they must be.
DistributedDataParallel runs in its single-process form, on a one-rank process group (``one_rank_group``).
"""

import numpy as np
import scipy.special as sp
from numpy.lib.stride_tricks import sliding_window_view

from portability.catalog import (
    BIG_SIDE,
    FLOATS,
    Keep,
    Kernel,
    block_mean,
    copy_params,
    dense_layers,
    linear_layer,
    normal,
    one_rank_group,
    pair,
    paper,
    raises,
    unchecked,
)

#: Dot products of a few hundred terms: half-precision outputs round once, accumulation is wider.
DOT_TOL = {"float16": (2e-2, 3e-3), "bfloat16": (5e-2, 1.5e-2)}
NAMES = ["scale", "frozen", "embed.weight", "block.0.weight", "block.0.bias", "block.LayerNorm.weight",
         "block.LayerNorm.bias"]
NO_DECAY = ("bias", "LayerNorm.weight")  # transformers' Trainer: no weight decay for these
WIDTH = (64, 512)  # layer widths: 512x512 weights at medium
STATE_KEYS = ["conv.weight", "conv.bias", "bn.weight", "bn.bias", "bn.running_mean", "bn.running_var",
              "bn.num_batches_tracked", "fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"]
#: Pooling blocks of 4x8x8 at every size (only their number grows), so each mean has 256 terms.
BLOCK = (4, 8, 8)
#: 2x2x2 blocks at small, 1M elements at medium.
POOL_SHAPE = (2, (4, 8), (8, 16), (16, 64), (16, 64))
HEADS = 4
N = (BIG_SIDE, BIG_SIDE)  # 64x64 at small, 1024x1024 at medium
#: Sums of a few hundred terms: half-precision outputs round once, accumulation is wider.
SUM_TOL = {"float16": (2e-2, 3e-3), "bfloat16": (5e-2, 1.5e-2)}
#: d_model, nhead, encoder layers, decoder layers, dim_feedforward, batch, source and target length.
#: The paper's test built d_model 512, 16 heads, 4 + 3 layers; medium is that model at half the width and
#: fewer layers (4x less work: 0.05 s of one core per float64 call instead of 0.2 s, and 4.5M parameters, not 25M).
CONFIG = {"small": (32, 4, 2, 2, 64, 2, 12, 10), "medium": (256, 8, 3, 2, 1024, 4, 48, 32)}


# -- nn.Identity -----------------------------------------------------------------------------------

#: One Linear layer: a batch, weight (out, in) and bias (nn.Identity and nn.Linear).
_dense_inputs = linear_layer((32, 512), (64, 512), (64, 512))


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


# -- nn.Module.named_parameters --------------------------------------------------------------------

def _model_inputs(rng):
    vocab, d = rng.dims((100, 1000), (32, 256))
    return {"emb": rng.standard_normal((vocab, d)), "w": rng.standard_normal((d, d)) / np.sqrt(d),
            "b": rng.standard_normal(d) * 0.1, "ln_w": rng.uniform(0.5, 1.5, d), "ln_b": rng.standard_normal(d) * 0.1}


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


def _linears(c, x, layers):
    """Linear layers of the case's dtype and device holding the builder's (weight, bias) pairs."""
    nn = c.fw.nn
    return [copy_params(nn.Linear(w.shape[1], w.shape[0], device=c.device, dtype=x.dtype), weight=w, bias=b)
            for w, b in layers]


def _mlp_ref(x, *params):
    for w, b in zip(params[0::2], params[1::2], strict=True):
        x = np.maximum(x @ w.T + b, 0)
    return x


# -- nn.Parameter ----------------------------------------------------------------------------------

def _parameter_inputs(rng):
    n_in, n_out = rng.dims(WIDTH, WIDTH)
    batch = rng.pick(32, 256)
    return {"x": rng.standard_normal((batch, n_in)), "w": rng.standard_normal((n_out, n_in)) / np.sqrt(n_in),
            "b": rng.standard_normal(n_out) * 0.1, "t": rng.standard_normal((batch, n_out))}


def _parameter_setup(c, x, w, b, t):
    torch, nn = c.fw, c.fw.nn
    make = c.fn

    class Affine(nn.Module):
        def __init__(self):
            super().__init__()
            self.weight = make(w.clone())
            self.bias = make(b.clone())
            self.scale = make(torch.ones((), device=x.device, dtype=x.dtype), requires_grad=False)
            self.plain = torch.zeros(3)  # a plain tensor attribute is not registered

        def forward(self, inp):
            return (inp @ self.weight.T + self.bias) * self.scale

    def run():
        m = Affine()
        out = m(x)
        (out * t).sum().backward()
        raw = w.clone()
        shared = make(raw)
        flags = [
            [name for name, _ in m.named_parameters()] == ["weight", "bias", "scale"],
            isinstance(m.weight, torch.Tensor) and type(m.weight) is make,
            m.weight.requires_grad and m.weight.is_leaf, not m.scale.requires_grad, m.scale.grad is None,
            shared.data_ptr() == raw.data_ptr(),  # wraps the tensor's storage, no copy
            "plain" not in dict(m.named_parameters()) and "plain" not in m.state_dict(),
        ]
        return out.detach(), m.weight.grad, m.bias.grad, flags

    return run


def _parameter_ref(x, w, b, t):
    return x @ w.T + b, t.T @ x, t.sum(axis=0), [True] * 7


# -- nn.ModuleList -------------------------------------------------------------------------------

def _module_list_setup(c, x, w0, b0, w1, b1, w2, b2):
    torch = c.fw
    layers = _linears(c, x, [(w0, b0), (w1, b1), (w2, b2)])

    def run():
        blocks = c.fn(layers)
        h = x
        for block in blocks:  # the transformer-encoder loop
            h = torch.relu(block(h))
        tail = blocks[1:]
        flags = [len(blocks) == 3, blocks[-1] is layers[2], type(tail) is c.fn and len(tail) == 2,
                 len(list(blocks.parameters())) == 6, [n for n, _ in blocks.named_children()] == ["0", "1", "2"],
                 raises(IndexError, blocks.__getitem__, 3)]
        return h, flags

    return run


def _module_list_ref(x, *params):
    return _mlp_ref(x, *params), [True] * 6


# -- nn.ModuleList.append --------------------------------------------------------------------------

def _append_setup(c, x, w0, b0, w1, b1, w2, b2):
    torch = c.fw
    layers = _linears(c, x, [(w0, b0), (w1, b1), (w2, b2)])

    def run():
        blocks = torch.nn.ModuleList()
        chained = [c.fn(blocks, layer) is blocks for layer in layers]  # append returns the list
        h = x
        for block in blocks:
            h = torch.relu(block(h))
        c.fn(blocks, layers[0])  # the same module twice: listed twice, its parameters once
        flags = [*chained, len(blocks) == 4, blocks[3] is blocks[0], len(list(blocks.parameters())) == 6,
                 [n for n, _ in blocks.named_parameters()][:2] == ["0.weight", "0.bias"]]
        return h, flags

    return run


def _append_ref(x, *params):
    return _mlp_ref(x, *params), [True] * 7


# -- nn.ModuleList.add_module ----------------------------------------------------------------------

def _add_module_setup(c, x, w0, b0, w1, b1, w2, b2):
    torch, nn = c.fw, c.fw.nn
    first, second, third = _linears(c, x, [(w0, b0), (w1, b1), (w2, b2)])

    def run():
        blocks = nn.ModuleList()
        c.fn(blocks, "0", nn.Identity())
        c.fn(blocks, "1", second)
        c.fn(blocks, "2", third)
        c.fn(blocks, "0", first)  # replacing keeps the name's place
        h = x
        for block in blocks:
            h = torch.relu(block(h))
        flags = [blocks[0] is first, blocks[-1] is third, len(blocks) == 3,
                 raises(KeyError, c.fn, blocks, "a.b", nn.ReLU()),  # dots are reserved for nesting
                 raises(TypeError, c.fn, blocks, "3", "not a module"),
                 [n for n, _ in blocks.named_children()] == ["0", "1", "2"]]
        return h, flags

    return run


# -- nn.Embedding.requires_grad_ (freezing an embedding table, then unfreezing it) ------------------

def _frozen_inputs(rng):
    vocab, dim, classes = rng.dims((200, 4000), (32, 256), (16, 128))
    idx = rng.integers(0, vocab, rng.dims((4, 16), (16, 128)))
    return {"emb": rng.standard_normal((vocab, dim)), "w": rng.standard_normal((classes, dim)) / np.sqrt(dim),
            "idx": Keep(idx), "t": rng.standard_normal((*idx.shape, classes))}


def _frozen_setup(c, emb, w, idx, t):
    nn = c.fw.nn
    table = copy_params(nn.Embedding(emb.shape[0], emb.shape[1], device=c.device, dtype=emb.dtype), weight=emb)
    head = copy_params(nn.Linear(w.shape[1], w.shape[0], bias=False, device=c.device, dtype=w.dtype), weight=w)

    def step():
        head.weight.grad = table.weight.grad = None
        (head(table(idx)) * t).sum().backward()

    def run():
        returned = c.fn(table, False)
        step()
        frozen = [returned is table, not table.weight.requires_grad, table.weight.grad is None]
        head_grad = head.weight.grad
        c.fn(table)  # requires_grad=True by default
        step()
        return head_grad, table.weight.grad, [*frozen, table.weight.requires_grad]

    return run


def _frozen_ref(emb, w, idx, t):
    flat_t = t.reshape(-1, w.shape[0])
    grad = np.zeros_like(emb)
    np.add.at(grad, idx.reshape(-1), flat_t @ w)
    return flat_t.T @ emb[idx.reshape(-1)], grad, [True] * 4


def _device_ids(c):
    return [c.device.index or 0] if c.device.type == "cuda" else None


# -- nn.parallel.DistributedDataParallel -----------------------------------------------------------

def _mlp_inputs(rng):
    batch, n_in, hidden, n_out = rng.dims((32, 256), (64, 512), (64, 512), (16, 128))
    return {"x": rng.standard_normal((batch, n_in)), "t": rng.standard_normal((batch, n_out)),
            "w1": rng.standard_normal((hidden, n_in)) / np.sqrt(n_in), "b1": rng.standard_normal(hidden) * 0.1,
            "w2": rng.standard_normal((n_out, hidden)) / np.sqrt(hidden), "b2": rng.standard_normal(n_out) * 0.1}


def _ddp_setup(c, x, t, w1, b1, w2, b2):
    nn = c.fw.nn
    # Tanh, not ReLU: a smooth activation, so rounding near a kink cannot flip a gradient.
    model = nn.Sequential(nn.Linear(w1.shape[1], w1.shape[0]), nn.Tanh(), nn.Linear(w2.shape[1], w2.shape[0]))
    model = model.to(device=c.device, dtype=x.dtype)
    copy_params(model[0], weight=w1, bias=b1)
    copy_params(model[2], weight=w2, bias=b2)

    def run():
        model.zero_grad(set_to_none=True)
        with ddp.no_sync():  # accelerate's gradient accumulation: no all-reduce for this micro-batch
            (ddp(x) * t).sum().backward()
        out = ddp(x)
        (out * t).sum().backward()  # this backward all-reduces the accumulated gradients
        grads = [p.grad for p in (model[0].weight, model[0].bias, model[2].weight, model[2].bias)]
        return out.detach(), grads, [ddp.module is model, ddp.device_ids == _device_ids(c)]

    one_rank_group(c, run)
    ddp = c.fn(model, device_ids=_device_ids(c))
    return run


def _ddp_ref(x, t, w1, b1, w2, b2):
    h = np.tanh(x @ w1.T + b1)
    dh = (t @ w2) * (1 - h * h)
    grads = [dh.T @ x, dh.sum(axis=0), t.T @ h, t.sum(axis=0)]
    return h @ w2.T + b2, [2 * g for g in grads], [True, True]  # two micro-batches accumulated


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


# -- Module.add_module ---------------------------------------------------------------------------

def _sequential_add_module_setup(c, x, w0, b0, w1, b1):
    nn = c.fw.nn
    first = copy_params(nn.Linear(w0.shape[1], w0.shape[0], dtype=x.dtype), weight=w0, bias=b0)
    second = copy_params(nn.Linear(w1.shape[1], w1.shape[0], dtype=x.dtype), weight=w1, bias=b1)
    placeholder = nn.Identity()

    def run():
        net = nn.Sequential()
        c.fn(net, "fc1", placeholder)
        c.fn(net, "act", nn.ReLU())
        c.fn(net, "fc2", second)
        c.fn(net, "fc1", first)  # overwriting keeps the name's place in the order
        rejected = [
            raises(KeyError, c.fn, net, "a.b", nn.ReLU()),  # dots are reserved for nesting
            raises(KeyError, c.fn, net, "", nn.ReLU()),
            raises(KeyError, c.fn, net, "forward", nn.ReLU()),  # an existing attribute
            raises(TypeError, c.fn, net, "x", "not a module"),
        ]
        children = [name for name, _ in net.named_children()]
        nested = [name for name, _ in nn.Sequential(net).named_modules()]
        return net(x), children, nested, rejected, net.fc1 is first

    return run


def _add_module_ref(x, w0, b0, w1, b1):
    out = np.maximum(x @ w0.T + b0, 0) @ w1.T + b1
    return out, ["fc1", "act", "fc2"], ["", "0", "0.fc1", "0.act", "0.fc2"], [True] * 4, True


# -- Module.register_parameter -------------------------------------------------------------------

def _register_parameter_setup(c, x, w0, b0):
    torch, nn = c.fw, c.fw.nn

    def run():
        m = nn.Module()
        c.fn(m, "weight", nn.Parameter(w0.clone()))
        c.fn(m, "bias", nn.Parameter(torch.zeros_like(b0)))
        c.fn(m, "bias", nn.Parameter(b0.clone()))  # registering a name again replaces it
        c.fn(m, "unused", None)
        c.fn(m, "empty", nn.Parameter(torch.empty(0, device=x.device, dtype=x.dtype)))
        m.plain = 1
        rejected = [
            raises(KeyError, c.fn, m, "plain", nn.Parameter(b0.clone())),  # clashes with an attribute
            raises(KeyError, c.fn, m, "a.b", nn.Parameter(b0.clone())),
            raises(KeyError, c.fn, m, "", nn.Parameter(b0.clone())),
            raises(TypeError, c.fn, m, "t", b0.clone()),  # a plain tensor is not a Parameter
        ]
        names = [name for name, _ in m.named_parameters()]
        out = torch.nn.functional.linear(x, m.weight, m.bias)
        return out, names, rejected, [m.unused is None, "unused" not in m.state_dict(), m.empty.numel() == 0]

    return run


def _register_parameter_ref(x, w0, b0):
    return x @ w0.T + b0, ["weight", "bias", "empty"], [True] * 4, [True, True, True]


# -- BatchNorm1d.reset_running_stats -------------------------------------------------------------

def _bn_batches(rng):
    n, ch, length = rng.dims((16, 64), (32, 256), (8, 64))
    loc, scale = rng.uniform(-2, 2, (1, ch, 1)), rng.uniform(0.5, 2, (1, ch, 1))
    return {"x1": rng.standard_normal((n, ch, length)) * scale + loc,
            "x2": rng.standard_normal((n, ch, length)) * 2 * scale + loc / 2 + 1}


def _reset_stats_setup(c, x1, x2):
    bn = c.fw.nn.BatchNorm1d(x1.shape[1], momentum=None, dtype=x1.dtype)  # cumulative averages
    bn(x2 * 3 + 1)  # stale statistics that the reset must clear
    bn(x1)

    def run():
        c.fn(bn)
        cleared = (bn.running_mean.clone(), bn.running_var.clone(), bn.num_batches_tracked.clone())
        bn(x1)
        bn(x2)
        return cleared, (bn.running_mean.clone(), bn.running_var.clone(), bn.num_batches_tracked.clone())

    return run


def _reset_stats_ref(x1, x2):
    ch = x1.shape[1]
    means = [x.mean(axis=(0, 2)) for x in (x1, x2)]
    variances = [x.var(axis=(0, 2), ddof=1) for x in (x1, x2)]  # running_var is the unbiased one
    return ((np.zeros(ch), np.ones(ch), np.array(0)),
            ((means[0] + means[1]) / 2, (variances[0] + variances[1]) / 2, np.array(2)))


# -- Module.state_dict ---------------------------------------------------------------------------

def _net_inputs(rng):
    ch, feat = rng.dims((8, 64), (64, 512))
    return {"conv_w": rng.standard_normal((ch, 3, 3, 3)) / np.sqrt(27), "conv_b": rng.standard_normal(ch) * 0.1,
            "bn_w": rng.uniform(0.5, 1.5, ch), "bn_b": rng.standard_normal(ch) * 0.1,
            "bn_mean": rng.standard_normal(ch), "bn_var": rng.uniform(0.5, 2.0, ch),
            "bn_count": Keep(np.array(7)),
            "fc_w": rng.standard_normal((feat, feat)) / np.sqrt(feat), "fc_b": rng.standard_normal(feat) * 0.1}


def _net(c, ch, feat, dtype):
    nn = c.fw.nn
    net = nn.Module()
    net.conv = nn.Conv2d(3, ch, 3, dtype=dtype)
    net.bn = nn.BatchNorm2d(ch, dtype=dtype)
    net.fc1 = net.fc2 = nn.Linear(feat, feat, dtype=dtype)  # one module under two names
    net.register_module("missing", None)  # a None child has no entries
    return net


def _state_dict_setup(c, conv_w, conv_b, bn_w, bn_b, bn_mean, bn_var, bn_count, fc_w, fc_b):
    ch, feat, dtype = conv_w.shape[0], fc_w.shape[0], conv_w.dtype
    source = _net(c, ch, feat, dtype)
    copy_params(source.conv, weight=conv_w, bias=conv_b)
    copy_params(source.bn, weight=bn_w, bias=bn_b, running_mean=bn_mean, running_var=bn_var,
                num_batches_tracked=bn_count)
    copy_params(source.fc1, weight=fc_w, bias=fc_b)
    target = _net(c, ch, feat, dtype)  # freshly initialised: the round trip must overwrite it all
    loads = []
    target.register_load_state_dict_post_hook(lambda module, keys: loads.append(module))

    def run():
        state = c.fn(source)
        before = len(loads)
        result = target.load_state_dict(state)
        restored = [target.conv.weight, target.conv.bias, target.bn.weight, target.bn.bias, target.bn.running_mean,
                    target.bn.running_var, target.bn.num_batches_tracked, target.fc2.weight, target.fc2.bias]
        return (list(state), [t.detach().clone() for t in restored],
                [len(result.missing_keys), len(result.unexpected_keys), len(loads) - before,
                 state["fc1.weight"].data_ptr() == source.fc1.weight.data_ptr()])

    return run


def _state_dict_ref(conv_w, conv_b, bn_w, bn_b, bn_mean, bn_var, bn_count, fc_w, fc_b):
    return STATE_KEYS, [conv_w, conv_b, bn_w, bn_b, bn_mean, bn_var, bn_count, fc_w, fc_b], [0, 0, 1, True]


# -- Module.to -----------------------------------------------------------------------------------

def _to_inputs(rng):
    n_in, n_out = rng.dims((64, 1024), (64, 1024))
    # Keep: the module starts on the host in float64, as a checkpoint is often loaded.
    return {"x": rng.standard_normal((rng.pick(32, 256), n_in)),
            "w": Keep(rng.standard_normal((n_out, n_in)) / np.sqrt(n_in)), "b": Keep(rng.standard_normal(n_out) * 0.1)}


def _to_setup(c, x, w, b):
    torch = c.fw
    dtype = x.dtype
    m = copy_params(torch.nn.Linear(w.shape[1], w.shape[0], device="cpu", dtype=torch.float64), weight=w, bias=b)

    def run():
        c.fn(m, "cpu", torch.float64)  # back to where each round starts
        c.fn(m, dtype)
        same = c.fn(m, c.device) is m
        c.fn(m, device=c.device, dtype=dtype)
        return m.weight.detach().clone(), m.bias.detach().clone(), m(x).detach(), same

    return run


def _to_ref(x, w, b):
    # w and b are the float64 originals: rounding them to the case dtype is within its tolerance.
    return w, b, x @ w.T + b, True


# -- Module.zero_grad ----------------------------------------------------------------------------

def _zero_grad_setup(c, x, w0, b0, w1, b1):
    nn = c.fw.nn
    frozen = copy_params(nn.Linear(w0.shape[1], w0.shape[0], dtype=x.dtype), weight=w0, bias=b0).requires_grad_(False)
    head = copy_params(nn.Linear(w1.shape[1], w1.shape[0], dtype=x.dtype), weight=w1, bias=b1)
    net = nn.Sequential(frozen, nn.ReLU(), head)
    target = x[:, : w1.shape[0]]  # any fixed tensor: the loss is <net(x), target>

    def backward():
        (net(x) * target).sum().backward()

    def run():
        c.fn(net)
        backward()
        first = head.weight.grad.clone()
        c.fn(net, set_to_none=False)
        zeroed = head.weight.grad.clone()
        backward()  # accumulates onto zeros: one gradient, not two
        second = (head.weight.grad.clone(), head.bias.grad.clone())
        c.fn(net)  # set_to_none=True by default
        flags = [head.weight.grad is None, head.bias.grad is None, frozen.weight.grad is None]
        return first, zeroed, second, flags

    return run


def _zero_grad_ref(x, w0, b0, w1, b1):
    hidden = np.maximum(x @ w0.T + b0, 0)
    target = x[:, : w1.shape[0]]
    dw = target.T @ hidden
    return dw, np.zeros_like(dw), (dw, target.sum(axis=0)), [True, True, True]


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


def _aap3d_setup(c, x):
    m = c.fn(tuple(s // b for s, b in zip(x.shape[2:], BLOCK, strict=True)))
    return lambda: m(x)


# -- dense layers ------------------------------------------------------------------------------


def _linear_setup(c, x, w, b):
    m = c.fn(w.shape[1], w.shape[0]).to(device=c.device, dtype=x.dtype)
    copy_params(m, weight=w, bias=b)
    return lambda: m(x)


def _sequential_inputs(rng):
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
    h = _ln_ref_default_eps(x + att @ w_out.T + b_out, g1, be1)
    return _ln_ref_default_eps(h + np.maximum(h @ w1.T + b1, 0) @ w2.T + b2, g2, be2)


def _ln_ref_default_eps(x, weight, bias):
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


def _attention_ref(q, k, v):
    return sp.softmax(q @ np.swapaxes(k, -1, -2) / np.sqrt(q.shape[-1]), axis=-1) @ v


# -- nn.Parameter.type_as --------------------------------------------------------------------------

def _type_as_inputs(rng):
    rows, cols = rng.dims(*N)
    # RMSNorm keeps its weight in float32 and casts it to the activations' dtype in forward.
    return {"w": Keep(rng.uniform(0.5, 1.5, cols).astype(np.float32)), "x": rng.standard_normal((rows, cols))}


def _type_as_setup(c, w, x):
    torch = c.fw
    p = torch.nn.Parameter(w.clone())

    def run():
        p.grad = None
        cast = c.fn(p, x)
        y = x * cast
        y.sum().backward()  # the gradient flows back through the cast, into the float32 weight
        flags = [cast.dtype == x.dtype, y.dtype == x.dtype, cast.requires_grad, p.grad.dtype == torch.float32,
                 c.fn(p, p) is p]  # already that type: self, no copy
        return y.detach(), p.grad, flags

    return run


def _type_as_ref(w, x):
    return x * w, x.sum(axis=0), [True] * 5


def _attention_names(prefix):
    return [f"{prefix}.in_proj_weight", f"{prefix}.in_proj_bias", f"{prefix}.out_proj.weight",
            f"{prefix}.out_proj.bias"]


def _parameters(cfg):
    """(name, shape) of every parameter, in the order the builder draws them and the reference reads them."""
    d, _, n_enc, n_dec, ff = cfg[:5]
    shapes = []

    def block(prefix, attentions, norms):
        for a in attentions:
            names = _attention_names(f"{prefix}.{a}")
            shapes.extend(zip(names, [(3 * d, d), (3 * d,), (d, d), (d,)], strict=True))
        shapes.extend([(f"{prefix}.linear1.weight", (ff, d)), (f"{prefix}.linear1.bias", (ff,)),
                       (f"{prefix}.linear2.weight", (d, ff)), (f"{prefix}.linear2.bias", (d,))])
        for n in norms:
            shapes.extend([(f"{prefix}.{n}.weight", (d,)), (f"{prefix}.{n}.bias", (d,))])

    for i in range(n_enc):
        block(f"encoder.layers.{i}", ["self_attn"], ["norm1", "norm2"])
    shapes.extend([("encoder.norm.weight", (d,)), ("encoder.norm.bias", (d,))])
    for i in range(n_dec):
        block(f"decoder.layers.{i}", ["self_attn", "multihead_attn"], ["norm1", "norm2", "norm3"])
    shapes.extend([("decoder.norm.weight", (d,)), ("decoder.norm.bias", (d,))])
    return shapes


def _inputs(rng):
    cfg = CONFIG[rng.size]
    d, batch, s_len, t_len = cfg[0], cfg[5], cfg[6], cfg[7]
    pad = np.zeros((batch, s_len), dtype=bool)
    for b in range(1, batch):  # the first sequence is full length, the others shorter
        pad[b, s_len - rng.integers(1, s_len // 2):] = True
    out = {"cfg": cfg, "src": rng.standard_normal((batch, s_len, d)), "tgt": rng.standard_normal((batch, t_len, d)),
           "src_pad": Keep(pad)}
    for name, shape in _parameters(cfg):
        if ".norm" in name and name.endswith("weight"):
            out[name] = rng.uniform(0.8, 1.2, shape)
        elif name.endswith("weight"):
            out[name] = rng.standard_normal(shape) / np.sqrt(shape[1])
        else:
            out[name] = rng.standard_normal(shape) * 0.1
    return out


def _setup(c, cfg, src, tgt, src_pad, **params):
    torch = c.fw
    d, heads, n_enc, n_dec, ff = cfg[:5]
    model = c.fn(d_model=d, nhead=heads, num_encoder_layers=n_enc, num_decoder_layers=n_dec, dim_feedforward=ff,
                 dropout=0.0, batch_first=True).to(device=c.device, dtype=src.dtype).eval()
    own = dict(model.named_parameters())
    assert set(own) == set(params), f"parameter names differ: {sorted(set(own) ^ set(params))[:4]}"
    with torch.no_grad():
        for name, value in params.items():
            own[name].copy_(value)
    t_len = tgt.shape[1]
    causal = torch.triu(torch.ones(t_len, t_len, dtype=torch.bool, device=c.device), diagonal=1)

    def run():
        with torch.no_grad():
            return model(src, tgt, tgt_mask=causal, src_key_padding_mask=src_pad,
                         memory_key_padding_mask=src_pad)

    return run


# -- the NumPy reference -------------------------------------------------------------------------

def _layer_norm(x, w, b):
    return (x - x.mean(-1, keepdims=True)) / np.sqrt(x.var(-1, keepdims=True) + 1e-5) * w + b


def _mha(p, prefix, heads, q_in, kv_in, mask):
    """Multi-head attention; mask is True where a query may not look (broadcast to batch, heads, q, k)."""
    w, b = p[f"{prefix}.in_proj_weight"], p[f"{prefix}.in_proj_bias"]
    d = q_in.shape[-1]
    q, k, v = (x @ w[i * d:(i + 1) * d].T + b[i * d:(i + 1) * d] for i, x in enumerate((q_in, kv_in, kv_in)))

    def split(x):
        return x.reshape(x.shape[0], x.shape[1], heads, d // heads).transpose(0, 2, 1, 3)

    scores = split(q) @ split(k).transpose(0, 1, 3, 2) / np.sqrt(d // heads)
    attn = sp.softmax(np.where(mask, -np.inf, scores), axis=-1) @ split(v)
    merged = attn.transpose(0, 2, 1, 3).reshape(q_in.shape)
    return merged @ p[f"{prefix}.out_proj.weight"].T + p[f"{prefix}.out_proj.bias"]


def _feed_forward(p, prefix, x):
    hidden = np.maximum(x @ p[f"{prefix}.linear1.weight"].T + p[f"{prefix}.linear1.bias"], 0)
    return hidden @ p[f"{prefix}.linear2.weight"].T + p[f"{prefix}.linear2.bias"]


def _reference(cfg, src, tgt, src_pad, *values):
    p = {name: v for (name, _), v in zip(_parameters(cfg), values, strict=True)}
    heads, n_enc, n_dec = cfg[1:4]

    def norm(prefix, x):
        return _layer_norm(x, p[f"{prefix}.weight"], p[f"{prefix}.bias"])

    padded_keys = src_pad[:, None, None, :]
    x = src
    for i in range(n_enc):
        pre = f"encoder.layers.{i}"
        x = norm(f"{pre}.norm1", x + _mha(p, f"{pre}.self_attn", heads, x, x, padded_keys))
        x = norm(f"{pre}.norm2", x + _feed_forward(p, pre, x))
    memory = norm("encoder.norm", x)
    t_len = tgt.shape[1]
    causal = np.triu(np.ones((t_len, t_len), dtype=bool), 1)[None, None]
    y = tgt
    for i in range(n_dec):
        pre = f"decoder.layers.{i}"
        y = norm(f"{pre}.norm1", y + _mha(p, f"{pre}.self_attn", heads, y, y, causal))
        y = norm(f"{pre}.norm2", y + _mha(p, f"{pre}.multihead_attn", heads, y, memory, padded_keys))
        y = norm(f"{pre}.norm3", y + _feed_forward(p, pre, y))
    return norm("decoder.norm", y)


KERNELS = [
    Kernel("torch.nn.Identity", "module", _dense_inputs, dtypes=FLOATS, setup=_identity_setup,
           reference=lambda x, w, b: (x, x @ w.T + b, [True] * 3), tol=DOT_TOL,
           note="returns its input object; ignores constructor arguments; a removed head in a Sequential"),
    # torch bug: in float16, label smoothing sums -log_softmax over every class of every sample in
    # float16 before dividing, so the sum overflows (to inf) once it passes 65504: here at 256x64
    # logits (the float32 loss is 6.1). The other three losses are fine in float16.
    Kernel("torch.nn.CrossEntropyLoss", "module", _ce_inputs, dtypes=FLOATS, setup=_ce_setup, reference=_ce_ref,
           note="labels with ignore_index padding (mean, label_smoothing=0.1, reduction='none'), soft targets"),
    Kernel("torch.nn.GroupNorm", "module", _gn_inputs, dtypes=FLOATS, setup=_gn_setup, reference=_gn_ref,
           note="32 groups, eps=1e-6, affine: the diffusers resnet block's norm"),
    Kernel("torch.nn.Module.named_parameters", "module", _model_inputs, dtypes=FLOATS,
           setup=_named_parameters_setup, reference=_named_parameters_ref,
           note="names and values; weight-decay grouping; trainable count; recurse, prefix, tied weights"),
    Kernel("torch.nn.Parameter", "module", _parameter_inputs, dtypes=FLOATS, setup=_parameter_setup,
           reference=_parameter_ref, tol=DOT_TOL,
           note="module attributes become registered leaves; gradients after backward; requires_grad=False"),
    Kernel("torch.nn.ModuleList", "module", dense_layers(WIDTH, WIDTH, WIDTH, WIDTH), dtypes=FLOATS,
           setup=_module_list_setup, reference=_module_list_ref, tol=DOT_TOL,
           note="a stack of blocks run by iteration; indexing, slicing, registration"),
    Kernel("torch.nn.ModuleList.append", "module", dense_layers(WIDTH, WIDTH, WIDTH, WIDTH), dtypes=FLOATS,
           setup=_append_setup, reference=_append_ref, tol=DOT_TOL),
    Kernel("torch.nn.ModuleList.add_module", "module", dense_layers(WIDTH, WIDTH, WIDTH, WIDTH), dtypes=FLOATS,
           setup=_add_module_setup, reference=lambda x, *p: (_mlp_ref(x, *p), [True] * 6), tol=DOT_TOL),
    Kernel("torch.nn.Embedding.requires_grad_", "module", _frozen_inputs, dtypes=FLOATS, setup=_frozen_setup,
           reference=_frozen_ref, tol=DOT_TOL,
           note="a frozen embedding gets no gradient while the head trains; unfrozen, it gets the scatter-add"),
    Kernel("torch.nn.parallel.DistributedDataParallel", "module", _mlp_inputs, dtypes=FLOATS, setup=_ddp_setup,
           reference=_ddp_ref, tol=DOT_TOL,
           note="one rank: a micro-batch under no_sync, then one that all-reduces; gradients of both accumulate"),
    Kernel("torch.nn.LayerNorm", "module", _ln_inputs, dtypes=FLOATS, setup=_ln_setup, reference=_ln_ref),
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
    Kernel("torch.nn.Module.add_module", "module", dense_layers(16, 32, 8), dtypes=("float32",),
           setup=_sequential_add_module_setup, reference=_add_module_ref, **paper(100, 371),
           note="builds a Sequential by add_module (overwrite, invalid names) and runs it"),
    Kernel("torch.nn.Module.register_parameter", "module", dense_layers(32, 16), dtypes=("float32",),
           setup=_register_parameter_setup, reference=_register_parameter_ref, **paper(90, 101)),
    Kernel("torch.nn.BatchNorm1d.reset_running_stats", "module", _bn_batches, dtypes=FLOATS, setup=_reset_stats_setup,
           reference=_reset_stats_ref, **paper(20, 2)),
    Kernel("torch.nn.Module.state_dict", "module", _net_inputs, dtypes=FLOATS, setup=_state_dict_setup,
           reference=_state_dict_ref, **paper(100, 604),
           note="nested modules (a shared Linear, a None child) round-tripped through load_state_dict"),
    Kernel("torch.nn.Module.to", "module", _to_inputs, dtypes=FLOATS, setup=_to_setup, reference=_to_ref,
           tol=DOT_TOL, **paper(100, 2116)),
    Kernel("torch.nn.Module.zero_grad", "module", dense_layers(WIDTH, WIDTH, WIDTH), dtypes=FLOATS,
           setup=_zero_grad_setup, reference=_zero_grad_ref, tol=DOT_TOL, **paper(100, 625)),
    Kernel("torch.nn.Conv2d", "module", _conv_inputs((2, 8), ((16, 64), (16, 64)), (3, 32), (8, 32), 3), dtypes=FLOATS,
           setup=_conv_setup, reference=_conv_ref, tol=DOT_TOL, **paper(100, 1729)),
    Kernel("torch.nn.Conv3d", "module", _conv_inputs((2, 4), ((4, 16), (8, 32), (8, 32)), (4, 16), (8, 16), 3),
           dtypes=FLOATS, setup=_conv_setup, reference=_conv_ref, tol=DOT_TOL,
           **paper(80, 48)),
    Kernel("torch.nn.Linear", "module", _dense_inputs, dtypes=FLOATS, setup=_linear_setup,
           reference=lambda x, w, b: x @ w.T + b, tol=DOT_TOL, **paper(100, 1827)),
    Kernel("torch.nn.Sequential", "module", _sequential_inputs, dtypes=FLOATS, setup=_sequential_setup,
           reference=_sequential_ref, tol=DOT_TOL, **paper(100, 1426)),
    Kernel("torch.nn.LSTMCell", "module", _lstm_inputs, dtypes=FLOATS, setup=_lstm_setup,
           reference=_lstm_ref, tol=DOT_TOL, **paper(70, 20)),
    Kernel("torch.nn.TransformerEncoderLayer", "module", _encoder_inputs, dtypes=FLOATS,
           setup=_encoder_setup, reference=_encoder_ref, tol=DOT_TOL, **paper(50, 6)),
    Kernel("torch.nn.GELU", "module", normal(BIG_SIDE, BIG_SIDE, scale=3.0), dtypes=FLOATS, setup=_module_call(),
           reference=lambda x: 0.5 * x * (1 + sp.erf(x / np.sqrt(2))), **paper(50, 8)),
    Kernel("torch.nn.AdaptiveAvgPool3d", "module", normal(*POOL_SHAPE), dtypes=FLOATS,
           setup=_aap3d_setup, reference=lambda x: block_mean(x, BLOCK), **paper(30, 3)),
    Kernel("torch.nn.BCEWithLogitsLoss", "module", _logits_targets, dtypes=FLOATS, setup=_module_call(),
           reference=_bce_ref, **paper(70, 24)),
    Kernel("torch.nn.SmoothL1Loss", "module", _logits_targets, dtypes=FLOATS, setup=_module_call(),
           reference=_smooth_l1_ref, **paper(70, 23)),
    Kernel("torch.nn.KLDivLoss", "module", _kl_inputs, dtypes=FLOATS, setup=_module_call(reduction="batchmean"),
           reference=_kl_ref, **paper(30, 3)),
    Kernel("torch.nn.Parameter.type_as", "module", _type_as_inputs, dtypes=FLOATS, setup=_type_as_setup,
           reference=_type_as_ref,
           out_dtype=unchecked("the cast takes the activations' dtype, the gradient stays float32: flags check both"),
           tol=SUM_TOL,
           note="a float32 weight cast to the activations' dtype; its gradient comes back in float32"),
    Kernel("torch.nn.Transformer", "module", _inputs, dtypes=FLOATS, setup=_setup, reference=_reference, tol=DOT_TOL,
           **paper(60, 11), note="eval-mode forward (no dropout) with causal and padding masks"),
]
