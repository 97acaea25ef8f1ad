"""Parameters, module containers and freezing, exercised as model code builds and trains with them.

What each API must do (register, index, replace, freeze, fill) is checked through the forward
and backward passes of the network it builds, against NumPy, and by exact bookkeeping answers.
"""

import numpy as np

from portability.catalog import Keep, Kernel, copy_params, dense_layers, raises

FLOATS = ("float32", "float64", "float16", "bfloat16")
#: Dot products of a few hundred terms: half-precision outputs round once, accumulation is wider.
DOT_TOL = {"float16": (2e-2, 3e-3), "bfloat16": (5e-2, 1.5e-2)}
WIDTH = (64, 512)  # layer widths: 512x512 weights at medium



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


# -- nn.init.constant_ -----------------------------------------------------------------------------

def _constant_setup(c, x, w0, b0):
    lin = copy_params(c.fw.nn.Linear(w0.shape[1], w0.shape[0], device=c.device, dtype=x.dtype), weight=w0, bias=b0)

    def run():
        returned = c.fn(lin.weight, 0.5)
        c.fn(lin.bias, -1.25)
        flags = [returned is lin.weight, lin.weight.is_leaf, lin.weight.requires_grad, lin.weight.grad_fn is None]
        return lin.weight.detach().clone(), lin(x).detach(), flags

    return run


def _constant_ref(x, w0, b0):
    out = np.broadcast_to(0.5 * x.sum(axis=1, keepdims=True) - 1.25, (x.shape[0], w0.shape[0]))
    return np.full(w0.shape, 0.5), out, [True] * 4


KERNELS = [
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
    Kernel("torch.nn.init.constant_", "creation", dense_layers(WIDTH, WIDTH), dtypes=FLOATS, setup=_constant_setup,
           reference=_constant_ref, tol=DOT_TOL, note="fills a Linear's weight and bias in place, outside autograd"),
]
