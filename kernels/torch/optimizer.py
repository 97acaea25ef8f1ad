"""torch optimizers and learning-rate schedulers, PowerSGD's state and the GradScaler, stepped as a training loop
steps them.

Every timed round of a torch.optim optimizer restarts from the same parameters and an empty optimizer state,
so each round (and the CPU reference run) computes the same K steps; NumPy replays the update rule.
"""

import numpy as np

from portability.catalog import DEFAULT_TOL, FLOATS, Kernel, copy_params, nothing, one_rank_group, paper

K = 3  # steps per round
#: Dot products of a few hundred terms: half-precision outputs round once, accumulation is wider.
DOT_TOL = {"float16": (2e-2, 3e-3), "bfloat16": (5e-2, 1.5e-2)}
LR = 0.1


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


def _device_ids(c):
    return [c.device.index or 0] if c.device.type == "cuda" else None


# -- ddp_comm_hooks.powerSGD_hook.PowerSGDState ----------------------------------------------------

START = 2  # start_powerSGD_iter: plain all-reduce before it, rank-1 compression from it on


def _linear_inputs(rng):
    batch, n_in, n_out = rng.dims((32, 256), (64, 512), (64, 512))
    return {"x": rng.standard_normal((batch, n_in)), "t": rng.standard_normal((batch, n_out)),
            "w": rng.standard_normal((n_out, n_in)) / np.sqrt(n_in), "b": rng.standard_normal(n_out) * 0.1}


def _powersgd_setup(c, x, t, w, b):
    torch = c.fw
    hooks = torch.distributed.algorithms.ddp_comm_hooks.powerSGD_hook

    def run():
        lin = copy_params(torch.nn.Linear(w.shape[1], w.shape[0], device=c.device, dtype=x.dtype), weight=w, bias=b)
        ddp = torch.nn.parallel.DistributedDataParallel(lin, device_ids=_device_ids(c))
        # accelerate: PowerSGDState(None, **comm_state_option), then register_comm_hook(state, powerSGD_hook).
        state = c.fn(None, matrix_approximation_rank=1, start_powerSGD_iter=START)
        ddp.register_comm_hook(state, hooks.powerSGD_hook)
        grads = []
        for _ in range(START + 1):
            lin.zero_grad()
            (ddp(x) * t).sum().backward()
            grads += [lin.weight.grad.clone(), lin.bias.grad.clone()]
        return grads, state.iter, str(x.dtype).split(".")[-1]

    one_rank_group(c, run)
    return run


def _check_powersgd(out, x, t, w, b):
    *grads, iters, dtype = out
    assert dtype in FLOATS, f"unknown dtype {dtype!r}"
    rtol, atol = DOT_TOL.get(dtype, DEFAULT_TOL[dtype])
    exact_w, exact_b = t.T @ x, t.sum(axis=0)  # the gradients of sum((x @ w.T + b) * t)
    weights, biases = [np.asarray(g, dtype=np.float64) for g in grads[0::2]], grads[1::2]
    assert iters == START + 1, f"state.iter is {iters} after {START + 1} steps"

    def close(got, ref):
        return np.all(np.abs(np.asarray(got, dtype=np.float64) - ref) <= rtol * np.abs(ref) + atol * np.abs(ref).max())

    assert all(close(g, exact_w) for g in weights[:START]), "before start_powerSGD_iter: not the exact gradient"
    assert all(close(g, exact_b) for g in biases), "a bias (a vector, never compressed) lost its exact gradient"
    compressed = weights[START]
    s = np.linalg.svd(compressed, compute_uv=False)
    assert s[1] <= 1e-2 * s[0], f"the compressed gradient is not rank 1: singular values {s[:3]}"
    # Rank-1 PowerSGD returns P P^T G (P a unit vector; no error fed back yet): a projection of G,
    # so <G, approx> = |approx|^2; and one that loses most of a full-rank G.
    energy = np.sum(compressed * compressed)
    assert abs(np.sum(exact_w * compressed) - energy) <= 5e-2 * energy, "the compressed gradient is not a projection"
    assert energy < 0.9 * np.sum(exact_w * exact_w), "the gradient was not compressed"


# -- torch.cuda.amp.GradScaler.load_state_dict -----------------------------------------------------

#: A scaler's state as a checkpoint holds it: scale 1024, one good step towards a growth interval of 2.
STATE = {"scale": 1024.0, "growth_factor": 2.0, "backoff_factor": 0.5, "growth_interval": 2, "_growth_tracker": 1}


def _scaler_inputs(rng):
    return {"x": rng.standard_normal((16, 8)) * 0.1, "w": rng.standard_normal((4, 8)),
            "t": rng.standard_normal((16, 4))}


def _scaler_setup(c, x, w, t):
    torch = c.fw
    param = w.clone().requires_grad_(True)
    opt = torch.optim.SGD([param], lr=LR)

    def train_step(scaler, factor):
        opt.zero_grad()
        loss = ((x @ param.T) * t).sum() * factor
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()
        return param.detach().clone(), scaler.get_scale()

    def run():
        with torch.no_grad():
            param.copy_(w)
        scaler = torch.cuda.amp.GradScaler(init_scale=1.0, growth_interval=1000)
        c.fn(scaler, dict(STATE))
        if not scaler.is_enabled():  # no CUDA: disabled, it loaded nothing and has no state to read
            return False, scaler.get_scale()
        loaded = [scaler.get_scale(), scaler.get_growth_factor(), scaler.get_backoff_factor(),
                  scaler.get_growth_interval(), scaler._get_growth_tracker()]
        stepped = train_step(scaler, 1.0)  # finite: tracker reaches the interval, scale doubles
        skipped = train_step(scaler, float("inf"))  # inf gradients: step skipped, scale halves
        return True, loaded, *stepped, *skipped

    return run


def _check_scaler(out, x, w, t):
    assert out[0], (f"the scaler is disabled (torch.cuda.amp.GradScaler needs CUDA): load_state_dict did"
                    f" nothing, get_scale() is {out[1]}")
    loaded, stepped, scale1, skipped, scale2 = out[1:6], out[6], out[7], out[8], out[9]
    expected = [STATE["scale"], STATE["growth_factor"], STATE["backoff_factor"], STATE["growth_interval"],
                STATE["_growth_tracker"]]
    assert list(loaded) == expected, f"state after load_state_dict {list(loaded)}, expected {expected}"
    step = w - LR * (t.T @ x)  # the unscaled gradient of <x @ w.T, t>
    assert np.allclose(stepped, step, rtol=1e-4, atol=1e-5), "the step did not use the unscaled gradient"
    assert scale1 == 2048.0, f"scale after a finite step {scale1}, expected 2048 (growth interval reached)"
    assert np.array_equal(skipped, stepped), "a step with inf gradients changed the parameters"
    assert scale2 == 1024.0, f"scale after an inf step {scale2}, expected 1024 (backoff)"


KERNELS = [
    Kernel("torch.optim.Adamax", "optimizer", _quadratic, dtypes=FLOATS, setup=_opt_setup(lr=0.05),
           reference=_adamax_ref, **paper(30, 3)),
    Kernel("torch.optim.Rprop", "optimizer", _quadratic, dtypes=FLOATS, setup=_opt_setup(),
           reference=_rprop_ref, **paper(10, 1)),
    Kernel("torch.optim.LBFGS", "optimizer", _lstsq, dtypes=FLOATS, setup=_lbfgs_setup,
           reference=np.linalg.solve,
           # An iterative solver stops once the loss stops changing (tolerance_change), not at
           # machine precision: in float64 it stops ~1e-7 from the minimiser.
           tol={"float32": (1e-3, 1e-4), "float64": (1e-5, 1e-6)},
           **paper(40, 5), note="least squares 0.5*|Ax-b|^2, strong Wolfe line search"),
    # One size: a scheduler updates a learning rate, whatever the size of the parameters.
    Kernel("torch.optim.lr_scheduler.ExponentialLR", "optimizer", nothing(), dtypes=("float32", "float64"),
           setup=_exponential_lr_setup, reference=lambda: [0.1 * 0.9**10], **paper(40, 5)),
    Kernel("torch.optim.Adam", "optimizer", _quadratic, dtypes=FLOATS, setup=_opt_setup(lr=0.05),
           reference=_adam_ref),
    Kernel("torch.distributed.algorithms.ddp_comm_hooks.powerSGD_hook.PowerSGDState", "optimizer", _linear_inputs,
           dtypes=FLOATS, setup=_powersgd_setup, check=_check_powersgd,
           note="rank-1 PowerSGD on a one-rank DDP Linear: exact gradients until start_powerSGD_iter, then rank 1"),
    # CUDA-only: on the cpu backend torch disables the scaler (with a warning) and load_state_dict
    # silently does nothing, so the case fails, honestly.
    Kernel("torch.cuda.amp.GradScaler.load_state_dict", "optimizer", _scaler_inputs, dtypes=("float32",),
           setup=_scaler_setup, check=_check_scaler, device_only="cuda",
           note="restore a checkpointed scaler, then a finite step (scale grows) and an inf step (skipped)"),
]
