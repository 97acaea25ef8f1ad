"""Device queries, TorchScript, autocast, dtype limits and fx helpers from the usage sample.

Each is exercised as library code uses it: a device query is asked about the case's device and
its answer compared with what torch reports elsewhere; TorchScript decorators decorate a small
module or function that is then scripted and run; autocast and the SDPA flag wrap a computation
whose dtype and values are checked. CUDA- and XPU-only APIs fail, honestly, where there is none.
"""

import ml_dtypes
import numpy as np
import scipy.special as sp

from portability.catalog import Keep, Kernel, copy_params

FLOATS = ("float32", "float64", "float16", "bfloat16")
#: Dot products of a few hundred terms: half-precision outputs round once, accumulation is wider.
DOT_TOL = {"float16": (2e-2, 3e-3), "bfloat16": (5e-2, 1.5e-2)}


def _dense_inputs(rng):
    batch, n_in, n_out = rng.dims((32, 512), (64, 512), (64, 512))
    return {"x": rng.standard_normal((batch, n_in)), "w": rng.standard_normal((n_out, n_in)) / np.sqrt(n_in),
            "b": rng.standard_normal(n_out) * 0.1}


def _linear(c, x, w, b):
    return copy_params(c.fw.nn.Linear(w.shape[1], w.shape[0], device=c.device, dtype=x.dtype), weight=w, bias=b)


# -- finfo -----------------------------------------------------------------------------------------

FIELDS = ("eps", "max", "min", "tiny")


def _scores(rng):
    rows, cols = rng.dims((64, 4096), 256)
    mask = rng.uniform(size=(rows, cols)) < 0.3
    mask[:, 0] = False  # every row keeps a key
    return {"scores": rng.standard_normal((rows, cols)) * 4, "mask": Keep(mask)}


def _finfo_call(c, scores, mask):
    torch = c.fw
    limits = {}
    for name in FLOATS:
        fi = c.fn(getattr(torch, name))
        limits[name] = [float(getattr(fi, f)).hex() for f in FIELDS] + [fi.bits]
    # transformers' attention masks: fill masked scores with the dtype's most negative value.
    fi = c.fn(scores.dtype)
    probs = torch.softmax(scores.masked_fill(mask, fi.min), dim=-1)
    return limits, probs, [c.fn() == c.fn(torch.get_default_dtype()), fi.dtype == str(scores.dtype).split(".")[-1]]


def _finfo_ref(scores, mask):
    limits = {}
    for name in FLOATS:
        fi = ml_dtypes.finfo(ml_dtypes.bfloat16) if name == "bfloat16" else np.finfo(name)
        limits[name] = [float(getattr(fi, f)).hex() for f in FIELDS] + [fi.bits]
    return limits, sp.softmax(np.where(mask, -np.inf, scores), axis=-1), [True, True]


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


# -- cuda.is_available / set_device / get_device_properties ----------------------------------------

def _is_available_call(c):
    torch = c.fw
    available = c.fn()
    device = torch.device("cuda" if available else "cpu")  # the usual device choice
    made = torch.ones(3, device=device)
    return [isinstance(available, bool), available == (torch.cuda.device_count() > 0),
            c.device.type != "cuda" or available, made.device.type == device.type]


def _set_device_call(c):
    torch = c.fw
    index = (c.device.index or 0) if c.device.type == "cuda" else 0  # the local rank of a one-GPU job
    c.fn(index)
    made = torch.ones(3, device="cuda")  # "cuda" means the current device
    c.fn(torch.device("cuda", index))
    return [torch.cuda.current_device() == index, made.device.index == index]


def _properties_call(c):
    torch = c.fw
    index = (c.device.index or 0) if c.device.type == "cuda" else 0
    props = c.fn(index)
    # transformers: get_device_properties(current_device()).major < 8 rules out bf16 / flash kernels.
    return [props.name == torch.cuda.get_device_name(index),
            (props.major, props.minor) == torch.cuda.get_device_capability(index),
            props.total_memory > 0, props.multi_processor_count > 0,
            c.fn(torch.device("cuda", index)).name == props.name]


# -- backends.cuda.enable_flash_sdp ----------------------------------------------------------------

def _attention_inputs(rng):
    shape = rng.dims((1, 4), (2, 8), (32, 256), 64)
    return {"q": rng.standard_normal(shape), "k": rng.standard_normal(shape), "v": rng.standard_normal(shape)}


def _flash_setup(c, q, k, v):
    torch = c.fw
    flag = torch.backends.cuda.flash_sdp_enabled
    before = flag()

    def run():
        c.fn(False)  # transformers turns the flash kernel off where it misbehaves; SDPA must fall back
        off = flag()
        without = torch.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True)
        c.fn(True)
        on = flag()
        with_flash = torch.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True)
        c.fn(before)
        return without, with_flash, [not off, on]

    return run


def _causal_ref(q, k, v):
    s = q @ np.swapaxes(k, -1, -2) / np.sqrt(q.shape[-1])
    n = s.shape[-1]
    out = sp.softmax(np.where(np.tri(n, dtype=bool), s, -np.inf), axis=-1) @ v
    return out, out, [True, True]


# -- cpu.amp.autocast ------------------------------------------------------------------------------

def _autocast_setup(c, x, w, b):
    torch = c.fw
    lin = _linear(c, x, w, b)

    def run():
        with c.fn(dtype=torch.bfloat16):  # transformers' Trainer on CPU with bf16 mixed precision
            inside = torch.is_autocast_enabled("cpu")
            y = lin(x)
        after = torch.is_autocast_enabled("cpu")
        return y, str(x.dtype), str(y.dtype), c.device.type, [inside, not after]

    return run


def _check_autocast(out, x, w, b):
    y, x_dtype, y_dtype, device, *flags = out
    assert all(flags), "autocast was not enabled inside the context, or not disabled after it"
    # CPU autocast runs linear layers in bfloat16 for float32/float16/bfloat16 tensors on the CPU;
    # float64 is never autocast, and tensors on other devices are not its business.
    cast = device == "cpu" and x_dtype in ("torch.float32", "torch.float16", "torch.bfloat16")
    expected = "torch.bfloat16" if cast else x_dtype
    assert y_dtype == expected, f"linear on {device} {x_dtype} gave {y_dtype} under CPU autocast, expected {expected}"
    ref = x @ w.T + b
    # bfloat16 results: DOT_TOL's bfloat16 bound.
    assert np.all(np.abs(np.asarray(y) - ref) <= 5e-2 * np.abs(ref) + 1.5e-2 * np.abs(ref).max()), "wrong values"


# -- xpu.get_rng_state_all -------------------------------------------------------------------------

def _xpu_states_call(c, n):
    torch = c.fw
    states = c.fn()  # accelerate's checkpoint: one generator state per XPU device
    first = torch.rand(n, device=c.device)
    torch.xpu.set_rng_state_all(states)
    again = torch.rand(n, device=c.device)
    return first, again, len(states), torch.xpu.device_count(), all(str(s.dtype) == "torch.uint8" for s in states)


def _check_xpu_states(out, n):
    first, again, count, devices, uint8 = out
    assert count == devices and uint8, f"{count} states for {devices} XPU devices (states must be uint8 tensors)"
    assert np.asarray(first).shape == (n,), f"shape {np.asarray(first).shape}"
    assert np.array_equal(first, again), (
        f"draws after restoring the saved states differ ({count} XPU generator states: they do not govern this device)")


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
    Kernel("torch.finfo", "utility", _scores, dtypes=FLOATS, call=_finfo_call, reference=_finfo_ref,
           note="eps/max/min/tiny/bits of every float dtype vs NumPy and ml_dtypes; finfo(dtype).min as a mask fill"),
    Kernel("torch.jit.ignore", "graph", _dense_inputs, dtypes=FLOATS, setup=_ignore_setup,
           reference=_half_dense_ref, tol=DOT_TOL,
           note="ignored methods of a scripted module: one called from forward runs as Python (NumPy inside)"),
    # One size: the function only picks a branch.
    Kernel("torch.jit.is_scripting", "graph", lambda rng: {"x": rng.standard_normal((64, 64))}, dtypes=FLOATS,
           setup=_is_scripting_setup, reference=lambda x: (3 * x, 2 * x, False),
           note="False in eager Python, True inside a scripted function"),
    Kernel("torch.jit.script", "graph", _script_inputs, dtypes=FLOATS, setup=_script_setup, reference=_script_ref,
           tol=DOT_TOL, note="a fused bias-GELU function and a Linear+ReLU module, scripted"),
    # One size each: device queries do the same work whatever the data.
    Kernel("torch.cuda.is_available", "utility", lambda rng: {}, dtypes=("float32",), call=_is_available_call,
           reference=lambda: [True] * 4, note="consistent with device_count and with the case's device"),
    # CUDA-only: on a CPU-only build set_device raises (AttributeError: torch._C has no _cuda_setDevice,
    # where other CUDA calls say "Torch not compiled with CUDA enabled"), so the cpu case fails, honestly.
    Kernel("torch.cuda.set_device", "utility", lambda rng: {}, dtypes=("float32",), call=_set_device_call,
           reference=lambda: [True, True], device_only="cuda",
           note="set_device(local_rank): 'cuda' tensors then land on that GPU"),
    # CUDA-only: "Torch not compiled with CUDA enabled" on a CPU-only build; a failure, honestly.
    Kernel("torch.cuda.get_device_properties", "utility", lambda rng: {}, dtypes=("float32",),
           call=_properties_call, reference=lambda: [True] * 5, device_only="cuda",
           note="name, compute capability, memory, SMs; consistent with the other torch.cuda queries"),
    Kernel("torch.backends.cuda.enable_flash_sdp", "nn", _attention_inputs, dtypes=FLOATS, setup=_flash_setup,
           reference=_causal_ref, tol=DOT_TOL,
           note="the flag toggles and reads back; causal SDPA is right with the flash kernel off and on"),
    Kernel("torch.cpu.amp.autocast", "control", _dense_inputs, dtypes=FLOATS, setup=_autocast_setup,
           check=_check_autocast, out_dtype=None,
           note="deprecated alias of torch.amp.autocast('cpu'); bfloat16 linear layers on the CPU only"),
    # XPU-only (Intel GPUs): without one there are no states, the draws are not replayed, and the
    # case fails, honestly, on the cpu backend and on CUDA GPUs alike.
    Kernel("torch.xpu.get_rng_state_all", "random", lambda rng: {"n": rng.pick(4096, 1 << 20)},
           dtypes=("float32",), call=_xpu_states_call, random=True, check=_check_xpu_states, device_only="xpu",
           note="save the XPU generator states, draw, restore them, draw again: the draws must repeat"),
    # One size: the structure is what is mapped, not the data.
    Kernel("torch.fx.node.map_aggregate", "graph", lambda rng: {"x": rng.standard_normal((8, 16)),
                                                                "y": rng.standard_normal((8, 16))},
           dtypes=("float32",), call=_map_aggregate_call, reference=_map_aggregate_ref,
           note="a function over the leaves of nested args: tuples stay tuples, lists and dicts become immutable"),
]
