"""Automatic differentiation: torch.autograd and torch.func transforms, against analytic derivatives."""

import numpy as np

from portability.catalog import BIG_SIDE, Kernel, normal, pair

FLOATS = ("float32", "float64", "float16", "bfloat16")


def _f(fw):
    return lambda t: fw.sin(t) * t


def _jvp_inputs(rng):
    shape = rng.dims(BIG_SIDE, BIG_SIDE)
    return {"x": rng.uniform(-3, 3, shape), "v": rng.standard_normal(shape)}


def _jvp_ref(x, v):
    return np.sin(x) * x, (np.cos(x) * x + np.sin(x)) * v


def _grad_setup(c, x):
    xr = x.detach().clone().requires_grad_(True)

    def run():
        y = (c.fw.tanh(xr) ** 2).sum()
        return c.fn(y, xr)[0]

    return run


KERNELS = [
    # From the paper's sample.
    Kernel("torch.autograd.functional.jvp", "autodiff", _jvp_inputs, dtypes=FLOATS,
           call=lambda c, x, v: c.fn(_f(c.fw), x, v), reference=_jvp_ref, tags=("paper",), decile=30, frequency=3),
    # Common entry points.
    Kernel("torch.autograd.grad", "autodiff", normal(BIG_SIDE, BIG_SIDE), dtypes=FLOATS, setup=_grad_setup,
           reference=lambda x: 2 * np.tanh(x) * (1 - np.tanh(x) ** 2)),
    # Dot products of 256 terms at every size: only the batch grows, so the tolerance keeps its meaning.
    Kernel("torch.func.vmap", "autodiff", pair((16, 4096), 256), dtypes=FLOATS,
           call=lambda c, x, y: c.fn(c.fw.dot)(x, y), reference=lambda x, y: np.einsum("ij,ij->i", x, y),
           tol={"float16": (2e-2, 3e-3), "bfloat16": (5e-2, 1.5e-2)}),
]
