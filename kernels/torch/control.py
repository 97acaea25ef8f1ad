"""torch.cpu.amp.autocast: a context manager around a computation whose dtype and values are checked."""

import numpy as np

from portability.catalog import FLOATS, Kernel, copy_params, linear_layer, unchecked

#: One Linear layer: a batch, weight (out, in) and bias.
_dense_inputs = linear_layer((32, 512), (64, 512), (64, 512))


def _linear(c, x, w, b):
    return copy_params(c.fw.nn.Linear(w.shape[1], w.shape[0], device=c.device, dtype=x.dtype), weight=w, bias=b)


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


KERNELS = [
    Kernel("torch.cpu.amp.autocast", "control", _dense_inputs, dtypes=FLOATS, setup=_autocast_setup,
           check=_check_autocast,
           out_dtype=unchecked("autocast runs the linear layer in bfloat16: the check reads its dtype"),
           note="deprecated alias of torch.amp.autocast('cpu'); bfloat16 linear layers on the CPU only"),
]
