"""nn.Module bookkeeping, devices, streams and Tensor methods, exercised as user code calls them.

Modules take their weights from the seeded builder, so what a method must do (register, move,
save and restore, zero gradients, reset statistics) is checked against NumPy values; bookkeeping
answers (names, flags, pointer offsets) are compared exactly with what they must be.
"""

import numpy as np

from portability.catalog import BIG_SIDE, Keep, Kernel, copy_params, dense_layers, normal, paper, raises

FLOATS = ("float32", "float64", "float16", "bfloat16")
#: Dot products of a few hundred terms: half-precision outputs round once, accumulation is wider.
DOT_TOL = {"float16": (2e-2, 3e-3), "bfloat16": (5e-2, 1.5e-2)}
WIDTH = (64, 512)  # layer widths: 512x512 weights at medium



# -- Module.add_module ---------------------------------------------------------------------------

def _add_module_setup(c, x, w0, b0, w1, b1):
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


# -- torch.device (the paper's "cuda") -----------------------------------------------------------

def _device_call(c):
    torch = c.fw
    kind, index = c.device.type, c.device.index
    text = str(c.device)
    by_string = c.fn(text)
    by_pair = c.fn(kind, index) if index is not None else c.fn(kind)
    other = c.fn(kind, 1)
    other_text = c.fn(f"{kind}:1")
    made = torch.ones(3, device=by_string)
    table = {by_string: "here", other: "there"}
    return made, [
        by_string == c.device, by_pair == c.device, hash(by_pair) == hash(c.device),
        repr(by_string) == repr(c.device), str(by_pair) == text, by_string.type == kind,
        other == other_text, other.index == 1, str(other) == f"{kind}:1", other != by_string,
        table[by_pair] == "here", table[other_text] == "there",
        raises(RuntimeError, c.fn, f"{kind}:-1"), raises(RuntimeError, c.fn, "no_such_device"),
        made.device.type == kind,
    ]


# -- Tensor.data_ptr -----------------------------------------------------------------------------

def _ptr_inputs(rng):
    return {"x": np.round(rng.standard_normal((48, 64)) * 8), "layout": "strided"}


def _csr_inputs(rng):
    x = rng.standard_normal((64, 64))
    return {"x": np.where(rng.uniform(size=x.shape) < 0.1, np.round(x * 8), 0.0), "layout": "sparse_csr"}


def _data_ptr_csr_call(c, x):
    s = x.to_sparse_csr()
    values, crow, col = s.values(), s.crow_indices(), s.col_indices()
    return s.to_dense(), [
        raises(RuntimeError, c.fn, s),  # a CSR tensor has no single storage to point to
        c.fn(values) != 0, c.fn(crow) != 0, c.fn(col) != 0,
        len({c.fn(values), c.fn(crow), c.fn(col)}) == 3,
        c.fn(s.values()) == c.fn(values),  # the same member tensor each time, not a copy
    ]


def _data_ptr_call(c, x, layout):
    if layout == "sparse_csr":
        return _data_ptr_csr_call(c, x)
    ptr = c.fn(x)
    size = x.element_size()
    views = [x[5], x[:, 7], x[3:, 2:], x.t(), x.view(-1)[100:], x.narrow(1, 4, 8)[2], x[::2, 1::3]]
    # Storage-offset arithmetic: a view starts storage_offset elements after the base.
    offsets = [(c.fn(v) - ptr) // size for v in views]
    declared = [v.storage_offset() for v in views]
    return offsets, declared, [
        ptr != 0,
        c.fn(x.contiguous()) == ptr,  # already contiguous: no copy
        c.fn(x.to(x.device)) == ptr,  # same device and dtype: no copy
        c.fn(x.to(x.device, copy=True)) != ptr,
        c.fn(x.clone()) != ptr,
        c.fn(x.t().contiguous()) != ptr,
        x.untyped_storage().data_ptr() == ptr,
    ]


def _data_ptr_ref(x, layout):
    if layout == "sparse_csr":
        return x, [True] * 6
    m = x.shape[1]
    offsets = [5 * m, 7, 3 * m + 2, 0, 100, 2 * m + 4, 1]
    return offsets, offsets, [True] * 7


# -- Tensor.is_same_size -------------------------------------------------------------------------

SHAPES = {"a": (8, 16), "b": (8, 16), "c": (16, 8), "d": (8, 16, 1), "e": (0, 3), "f": (0, 3), "g": (3, 0),
          "h": (0,)}
PAIRS = (("a", "b"), ("a", "c"), ("a", "d"), ("e", "f"), ("e", "g"), ("e", "h"), ("g", "g"), ("h", "a"))


def _shapes(rng):
    return {k: rng.standard_normal(s) for k, s in SHAPES.items()}


def _is_same_size_call(ctx, **t):
    return [ctx.fn(t[p], t[q]) for p, q in PAIRS]


def _is_same_size_ref(*arrays):
    t = dict(zip(SHAPES, arrays, strict=True))
    return [t[p].shape == t[q].shape for p, q in PAIRS]


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


STATE_KEYS = ["conv.weight", "conv.bias", "bn.weight", "bn.bias", "bn.running_mean", "bn.running_var",
              "bn.num_batches_tracked", "fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"]


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


# -- Stream.synchronize (the paper's torch.cuda.Stream.synchronize, device-generic) --------------

def _stream_setup(c, x):
    torch = c.fw
    stream = torch.Stream(c.device)

    def run():
        if c.device.type != "cpu":  # the inputs were written on the device's current stream
            stream.wait_stream(torch.accelerator.current_stream(c.device))
        with stream:
            y = x @ x
            y = y @ x
        c.fn(stream)
        return y, stream.query()

    return run


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


# -- autograd.Variable ---------------------------------------------------------------------------

def _variable_inputs(rng):
    n = rng.pick(64, 1024)
    return {"x": np.round(rng.standard_normal((n, n)) * 8) / 4, "idx": Keep(rng.integers(0, n, n // 2))}


def _variable_call(c, x, idx):
    floating = x.is_floating_point()
    v = c.fn(x, requires_grad=floating)  # integer tensors cannot require gradients
    rows = v[idx]
    shifted = v * 2
    shifted.add_(1)  # in place on a result of the wrapped tensor
    grad = None
    if floating:
        (rows**2).sum().backward()
        grad = v.grad
    out = [rows, shifted, v[0, 0].item(), v.requires_grad == floating, v.data_ptr() == x.data_ptr()]
    return out if grad is None else [*out, grad]


def _variable_ref(x, idx):
    out = [x[idx], x * 2 + 1, x[0, 0], True, True]
    if x.dtype.kind != "f":
        return out
    counts = np.bincount(idx, minlength=x.shape[0])[:, None]
    return [*out, 2 * x * counts]


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


KERNELS = [
    # From the paper's sample.
    Kernel("torch.nn.Module.add_module", "module", dense_layers(16, 32, 8), dtypes=("float32",),
           setup=_add_module_setup, reference=_add_module_ref, **paper(100, 371),
           note="builds a Sequential by add_module (overwrite, invalid names) and runs it"),
    Kernel("torch.device", "utility", lambda rng: {}, dtypes=("float32",), call=_device_call,
           reference=lambda: (np.ones(3), [True] * 15), **paper(100, 2138, name="cuda"),
           note="the mined name 'cuda' (upstream tests constructed cuda devices): the case's own device type"),
    Kernel("torch.Tensor.data_ptr", "utility", {"strided": _ptr_inputs, "sparse_csr": _csr_inputs},
           dtypes=("float32", "int64"), call=_data_ptr_call, reference=_data_ptr_ref, out_dtype=None,
           **paper(80, 34), note="view offsets against storage_offset; copies vs aliases; CSR has no data_ptr"),
    Kernel("torch.Tensor.is_same_size", "utility", _shapes, dtypes=("float32",), call=_is_same_size_call,
           reference=_is_same_size_ref, **paper(40, 4)),
    Kernel("torch.nn.Module.register_parameter", "module", dense_layers(32, 16), dtypes=("float32",),
           setup=_register_parameter_setup, reference=_register_parameter_ref, **paper(90, 101)),
    Kernel("torch.nn.BatchNorm1d.reset_running_stats", "module", _bn_batches, dtypes=FLOATS, setup=_reset_stats_setup,
           reference=_reset_stats_ref, **paper(20, 2)),
    Kernel("torch.nn.Module.state_dict", "module", _net_inputs, dtypes=FLOATS, setup=_state_dict_setup,
           reference=_state_dict_ref, **paper(100, 604),
           note="nested modules (a shared Linear, a None child) round-tripped through load_state_dict"),
    Kernel("torch.Stream.synchronize", "utility", normal(BIG_SIDE, BIG_SIDE, scale=1 / 8),
           dtypes=("float32",), setup=_stream_setup, reference=lambda x: (x @ x @ x, True),
           **paper(90, 103),
           note="torch.Stream: the device-generic form of the paper's torch.cuda.Stream.synchronize"),
    Kernel("torch.nn.Module.to", "module", _to_inputs, dtypes=FLOATS, setup=_to_setup, reference=_to_ref,
           tol=DOT_TOL, **paper(100, 2116)),
    Kernel("torch.autograd.Variable", "autodiff", _variable_inputs, dtypes=(*FLOATS, "int64"), call=_variable_call,
           reference=_variable_ref, **paper(100, 2030),
           note="the legacy wrapper: indexing, in-place arithmetic, .item() and backward through it"),
    Kernel("torch.nn.Module.zero_grad", "module", dense_layers(WIDTH, WIDTH, WIDTH), dtypes=FLOATS,
           setup=_zero_grad_setup, reference=_zero_grad_ref, tol=DOT_TOL, **paper(100, 625)),
]
