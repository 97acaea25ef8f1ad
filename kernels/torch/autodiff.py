"""torch automatic differentiation: torch.autograd and torch.func transforms, grad mode and detaching, against
analytic derivatives.
"""

import numpy as np

from portability.catalog import BIG_SIDE, FLOATS, SIDE, Keep, Kernel, matmul, normal, pair, paper, raises

#: Dot products of a few hundred terms: half-precision outputs round once, accumulation is wider.
DOT_TOL = {"float16": (2e-2, 3e-3), "bfloat16": (5e-2, 1.5e-2)}
N = (BIG_SIDE, BIG_SIDE)  # 64x64 at small, 1024x1024 at medium


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


# -- no_grad ---------------------------------------------------------------------------------------

def _no_grad_setup(c, a, b):
    torch = c.fw
    w = b.clone().requires_grad_(True)

    @c.fn()
    def predict(x):
        return x @ w

    def run():
        with c.fn():
            y = a @ w
            with torch.enable_grad():
                inner = a @ w
            w.add_(0)  # an in-place update of a leaf that requires grad: allowed only here
        z = predict(a)
        outside = a @ w
        flags = [not y.requires_grad, y.grad_fn is None, inner.requires_grad, not z.requires_grad,
                 outside.requires_grad, torch.is_grad_enabled(), w.is_leaf, raises(RuntimeError, w.add_, 0)]
        return y, z, flags

    return run


# -- Tensor.detach ---------------------------------------------------------------------------------

def _detach_setup(c, x, t):
    xr = x.clone().requires_grad_(True)

    def run():
        xr.grad = None
        h = xr * 2
        d = c.fn(h)
        (xr * d * t).sum().backward()  # d is a constant: the gradient is d * t, not 2 * d * t
        flags = [not d.requires_grad, d.grad_fn is None, d.is_leaf, d.data_ptr() == h.data_ptr(),
                 h.requires_grad]
        return d, xr.grad, flags

    return run


KERNELS = [
    Kernel("torch.autograd.functional.jvp", "autodiff", _jvp_inputs, dtypes=FLOATS,
           call=lambda c, x, v: c.fn(_f(c.fw), x, v), reference=_jvp_ref, **paper(30, 3)),
    Kernel("torch.autograd.grad", "autodiff", normal(BIG_SIDE, BIG_SIDE), dtypes=FLOATS, setup=_grad_setup,
           reference=lambda x: 2 * np.tanh(x) * (1 - np.tanh(x) ** 2)),
    # Dot products of 256 terms at every size: only the batch grows, so the tolerance keeps its meaning.
    Kernel("torch.func.vmap", "autodiff", pair((16, 4096), 256), dtypes=FLOATS,
           call=lambda c, x, y: c.fn(c.fw.dot)(x, y), reference=lambda x, y: np.einsum("ij,ij->i", x, y),
           tol={"float16": (2e-2, 3e-3), "bfloat16": (5e-2, 1.5e-2)}),
    Kernel("torch.autograd.Variable", "autodiff", _variable_inputs, dtypes=(*FLOATS, "int64"), call=_variable_call,
           reference=_variable_ref, **paper(100, 2030),
           note="the legacy wrapper: indexing, in-place arithmetic, .item() and backward through it"),
    Kernel("torch.no_grad", "autodiff", matmul(SIDE, SIDE, SIDE), dtypes=FLOATS, setup=_no_grad_setup,
           reference=lambda a, b: (a @ b, a @ b, [True] * 8), tol=DOT_TOL,
           note="as a context manager (with enable_grad nested) and as a decorator"),
    Kernel("torch.Tensor.detach", "autodiff", lambda rng: {"x": rng.standard_normal(rng.dims(*N)),
                                                           "t": rng.standard_normal(rng.dims(*N))},
           dtypes=FLOATS, setup=_detach_setup,
           reference=lambda x, t: (2 * x, 2 * x * t, [True] * 5),
           note="a detached tensor is a constant for autograd and shares its storage"),
]
