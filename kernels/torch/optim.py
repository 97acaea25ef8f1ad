"""torch.optim: optimizers stepped on a quadratic loss, as a training loop steps them.

Every timed round restarts from the same parameters and an empty optimizer state, so each round
(and the CPU reference run) computes the same K steps; NumPy replays the update rule.
"""

import numpy as np

from portability.catalog import Kernel

FLOATS = ("float32", "float64", "float16", "bfloat16")
K = 3  # steps per round


def _quadratic(rng):
    shape = rng.dims((32, 1024), (32, 1024))
    return {"p": rng.standard_normal(shape), "target": rng.standard_normal(shape)}


def _opt_setup(**kwargs):
    def setup(c, p, target):
        param = p.clone().requires_grad_(True)
        opt = c.fn([param], **kwargs)

        def run():
            with c.fw.no_grad():
                param.copy_(p)
            opt.state.clear()
            for _ in range(K):
                opt.zero_grad()
                loss = 0.5 * ((param - target) ** 2).sum()
                loss.backward()
                opt.step()
            return param.detach().clone()

        return run

    return setup


def _adam_ref(p, target, lr=0.05, b1=0.9, b2=0.999, eps=1e-8):
    m = v = 0.0
    for t in range(1, K + 1):
        g = p - target
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        p = p - lr / (1 - b1**t) * m / (np.sqrt(v) / np.sqrt(1 - b2**t) + eps)
    return p


def _adamax_ref(p, target, lr=0.05, b1=0.9, b2=0.999, eps=1e-8):
    m = u = 0.0
    for t in range(1, K + 1):
        g = p - target
        m = b1 * m + (1 - b1) * g
        u = np.maximum(b2 * u, np.abs(g) + eps)
        p = p - lr / (1 - b1**t) * m / u
    return p


def _rprop_ref(p, target, lr=0.01, etaminus=0.5, etaplus=1.2, smin=1e-6, smax=50.0):
    prev = np.zeros_like(p)
    step = np.full_like(p, lr)
    for _ in range(K):
        g = p - target
        s = np.sign(g * prev)
        step = np.clip(step * np.where(s > 0, etaplus, np.where(s < 0, etaminus, 1.0)), smin, smax)
        g = np.where(s < 0, 0.0, g)
        p = p - np.sign(g) * step
        prev = g
    return p


def _lstsq(rng):
    n = rng.pick(32, 1024)
    return {"a": rng.standard_normal((n, n)) / np.sqrt(n) + 2 * np.eye(n), "b": rng.standard_normal(n)}


def _lbfgs_setup(c, a, b):
    x = c.fw.zeros_like(b, requires_grad=True)
    opt = c.fn([x], lr=1, max_iter=100, tolerance_grad=1e-12, tolerance_change=1e-14, history_size=10,
               line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = 0.5 * ((a @ x - b) ** 2).sum()
        loss.backward()
        return loss

    def run():
        with c.fw.no_grad():
            x.zero_()
        opt.state.clear()
        opt.step(closure)
        return x.detach().clone()

    return run


def _exponential_lr_setup(c):
    param = c.fw.zeros(4, dtype=getattr(c.fw, c.dtype), device=c.device, requires_grad=True)
    opt = c.fw.optim.SGD([param], lr=0.1)

    def run():
        for group in opt.param_groups:
            group["lr"] = 0.1
            group.pop("initial_lr", None)
        sched = c.fn(opt, gamma=0.9)
        for _ in range(10):
            opt.step()
            sched.step()
        return sched.get_last_lr()

    return run


KERNELS = [
    # From the paper's sample.
    Kernel("torch.optim.Adamax", "optimizer", _quadratic, dtypes=FLOATS, setup=_opt_setup(lr=0.05),
           reference=_adamax_ref, tags=("paper",), decile=30, frequency=3),
    Kernel("torch.optim.Rprop", "optimizer", _quadratic, dtypes=FLOATS, setup=_opt_setup(),
           reference=_rprop_ref, tags=("paper",), decile=10, frequency=1),
    Kernel("torch.optim.LBFGS", "optimizer", _lstsq, dtypes=FLOATS, setup=_lbfgs_setup,
           reference=np.linalg.solve,
           # An iterative solver stops once the loss stops changing (tolerance_change), not at
           # machine precision: in float64 it stops ~1e-7 from the minimiser.
           tol={"float32": (1e-3, 1e-4), "float64": (1e-5, 1e-6)},
           tags=("paper",), decile=40, frequency=5, note="least squares 0.5*|Ax-b|^2, strong Wolfe line search"),
    # One size: a scheduler updates a learning rate, whatever the size of the parameters.
    Kernel("torch.optim.lr_scheduler.ExponentialLR", "optimizer", lambda rng: {}, dtypes=("float32", "float64"),
           setup=_exponential_lr_setup, reference=lambda: [0.1 * 0.9**10], tags=("paper",), decile=40, frequency=5),
    # Common optimizers.
    Kernel("torch.optim.Adam", "optimizer", _quadratic, dtypes=FLOATS, setup=_opt_setup(lr=0.05),
           reference=_adam_ref),
]
