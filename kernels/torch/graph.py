"""TorchScript (jit.script, jit.ignore, jit.is_scripting) and torch.fx helpers.

TorchScript decorators decorate a small module or function that is then scripted and run.
"""

import numpy as np

from portability.catalog import FLOATS, Kernel, copy_params, linear_layer

#: Dot products of a few hundred terms: half-precision outputs round once, accumulation is wider.
DOT_TOL = {"float16": (2e-2, 3e-3), "bfloat16": (5e-2, 1.5e-2)}


#: One Linear layer: a batch, weight (out, in) and bias.
_dense_inputs = linear_layer((32, 512), (64, 512), (64, 512))


def _linear(c, x, w, b):
    return copy_params(c.fw.nn.Linear(w.shape[1], w.shape[0], device=c.device, dtype=x.dtype), weight=w, bias=b)


# -- jit.ignore ------------------------------------------------------------------------------------

def _ignore_setup(c, x, w, b):
    torch, nn = c.fw, c.fw.nn
    ignore = c.fn

    class Block(nn.Module):  # timm's pattern: Python-only helpers on a scriptable model
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(w.shape[1], w.shape[0])

        @ignore
        def no_weight_decay(self):
            return {"fc.bias"}

        @ignore
        def python_scale(self, y: torch.Tensor) -> torch.Tensor:
            return y * float(np.float64(0.5))  # NumPy: not scriptable, run by Python

        def forward(self, inp):
            return self.python_scale(self.fc(inp))

    block = Block().to(device=c.device, dtype=x.dtype)
    copy_params(block.fc, weight=w, bias=b)
    scripted = torch.jit.script(block)

    def run():
        return scripted(x), block(x).detach(), [scripted.no_weight_decay() == {"fc.bias"},
                                                isinstance(scripted, torch.jit.ScriptModule)]

    return run


def _half_dense_ref(x, w, b):
    y = 0.5 * (x @ w.T + b)
    return y, y, [True, True]


# -- jit.is_scripting ------------------------------------------------------------------------------

def _is_scripting_setup(c, x):
    torch = c.fw
    is_scripting = c.fn

    def forward(inp):
        if is_scripting():  # timm: take the scriptable path, skip checkpointing and Python-only code
            return inp * 2
        return inp * 3

    scripted = torch.jit.script(forward)
    return lambda: (forward(x), scripted(x), c.fn())


# -- jit.script ------------------------------------------------------------------------------------

def _script_inputs(rng):
    out = _dense_inputs(rng)
    out["bias"] = rng.standard_normal(out["x"].shape[1])
    return out


def _script_setup(c, x, w, b, bias):
    torch, nn = c.fw, c.fw.nn

    def bias_gelu(bias, y):  # Megatron's fused bias + tanh-GELU
        t = bias + y
        return t * 0.5 * (1.0 + torch.tanh(0.79788456 * t * (1 + 0.044715 * t * t)))

    fused = c.fn(bias_gelu)
    mlp = c.fn(nn.Sequential(_linear(c, x, w, b), nn.ReLU()))

    def run():
        return fused(bias, x), mlp(x), [isinstance(fused, torch.jit.ScriptFunction),
                                        isinstance(mlp, torch.jit.ScriptModule)]

    return run


def _script_ref(x, w, b, bias):
    t = x + bias
    gelu = t * 0.5 * (1.0 + np.tanh(0.79788456 * t * (1 + 0.044715 * t * t)))
    return gelu, np.maximum(x @ w.T + b, 0), [True, True]


# -- fx.node.map_aggregate -------------------------------------------------------------------------

def _map_aggregate_call(c, x, y):
    torch = c.fw
    seen = []

    def double(a):  # transformers' tracer maps proxies to meta tensors this way
        seen.append(type(a).__name__)
        return a * 2 if isinstance(a, torch.Tensor) else a

    n = x.shape[0]
    out = c.fn((x, [y, (x, 3)], {"mask": y, "scale": 0.5, "none": None}, slice(1, n, 2)), double)
    flags = [type(out) is tuple, isinstance(out[1], list), type(out[1]) is not list, type(out[1][1]) is tuple,
             isinstance(out[2], dict), list(out[2]) == ["mask", "scale", "none"], out[2]["scale"] == 0.5,
             out[2]["none"] is None, out[1][1][1] == 3, out[3] == slice(1, n, 2)]
    mutable = True
    try:
        out[1].append(1)  # immutable_list: an fx node's args may not be changed in place
    except TypeError:
        mutable = False
    return out[0], out[1][0], out[1][1][0], out[2]["mask"], seen, flags, mutable


def _map_aggregate_ref(x, y):
    seen = ["Tensor", "Tensor", "Tensor", "int", "Tensor", "float", "NoneType", "int", "int", "int"]
    return 2 * x, 2 * y, 2 * x, 2 * y, seen, [True] * 10, False


KERNELS = [
    Kernel("torch.jit.ignore", "graph", _dense_inputs, dtypes=FLOATS, setup=_ignore_setup,
           reference=_half_dense_ref, tol=DOT_TOL,
           note="ignored methods of a scripted module: one called from forward runs as Python (NumPy inside)"),
    # One size: the function only picks a branch.
    Kernel("torch.jit.is_scripting", "graph", lambda rng: {"x": rng.standard_normal((64, 64))}, dtypes=FLOATS,
           setup=_is_scripting_setup, reference=lambda x: (3 * x, 2 * x, False),
           note="False in eager Python, True inside a scripted function"),
    Kernel("torch.jit.script", "graph", _script_inputs, dtypes=FLOATS, setup=_script_setup, reference=_script_ref,
           tol=DOT_TOL, note="a fused bias-GELU function and a Linear+ReLU module, scripted"),
    # One size: the structure is what is mapped, not the data.
    Kernel("torch.fx.node.map_aggregate", "graph", lambda rng: {"x": rng.standard_normal((8, 16)),
                                                                "y": rng.standard_normal((8, 16))},
           dtypes=("float32",), call=_map_aggregate_call, reference=_map_aggregate_ref,
           note="a function over the leaves of nested args: tuples stay tuples, lists and dicts become immutable"),
]
