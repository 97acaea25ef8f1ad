"""torch.distributed APIs from the usage sample, in their single-process form: a one-rank process
group on an in-memory store (gloo for CPU tensors, NCCL for CUDA ones; no network).

DistributedDataParallel is checked by the gradients it produces (accumulated under no_sync, then
all-reduced), PowerSGD by what its compression must do to them, and the distributed checkpoint by
a save/load round trip in a temporary directory.
"""

import shutil
import tempfile
import weakref
from pathlib import Path

import numpy as np

from portability.catalog import Kernel, copy_params
from portability.vocabulary import DEFAULT_TOL

FLOATS = ("float32", "float64", "float16", "bfloat16")
#: Dot products of a few hundred terms: half-precision outputs round once, accumulation is wider.
DOT_TOL = {"float16": (2e-2, 3e-3), "bfloat16": (5e-2, 1.5e-2)}


#: Every process group made here, kept referenced after destroy_process_group. Without this the
#: catalog self-test's worker aborted, during a later case, on a torch thread with no Python frame
#: ("terminate called ... Resource deadlock avoided"): a group's last reference dropped on one of
#: its own threads makes its destructor join that thread. A retired one-rank group costs a few idle threads.
_RETIRED = []


def _retire(dist, group):
    _RETIRED.append(group)
    dist.destroy_process_group()


def _group_for(c, owner):
    """A one-rank group for the life of ``owner`` (the timed callable), unless one is already up."""
    dist = c.fw.distributed
    if not dist.is_initialized():
        # backend=None: gloo for CPU tensors, NCCL for CUDA ones where torch has it.
        dist.init_process_group(store=dist.HashStore(), rank=0, world_size=1)
        weakref.finalize(owner, _retire, dist, dist.group.WORLD)


def _scratch_dir(owner):
    """A temporary directory removed when ``owner`` (the timed callable) is freed."""
    path = tempfile.mkdtemp(prefix="portability-")
    weakref.finalize(owner, shutil.rmtree, path, ignore_errors=True)
    return Path(path)


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

    _group_for(c, run)
    ddp = c.fn(model, device_ids=_device_ids(c))
    return run


def _ddp_ref(x, t, w1, b1, w2, b2):
    h = np.tanh(x @ w1.T + b1)
    dh = (t @ w2) * (1 - h * h)
    grads = [dh.T @ x, dh.sum(axis=0), t.T @ h, t.sum(axis=0)]
    return h @ w2.T + b2, [2 * g for g in grads], [True, True]  # two micro-batches accumulated


# -- distributed.checkpoint.save_state_dict --------------------------------------------------------

def _checkpoint_inputs(rng):
    n = rng.pick(64, 1024)
    return {"w": rng.standard_normal((n, n)), "b": rng.standard_normal(n)}


def _save_state_dict_setup(c, w, b):
    torch = c.fw
    dcp = torch.distributed.checkpoint

    def run():
        state = {"model": {"weight": w, "bias": b}, "step": torch.tensor(7, device=c.device)}
        # accelerate's FSDP checkpointing: save_state_dict(state_dict=..., storage_writer=FileSystemWriter(dir))
        c.fn(state_dict=state, storage_writer=dcp.FileSystemWriter(path))
        fresh = {"model": {"weight": torch.zeros_like(w), "bias": torch.zeros_like(b)},
                 "step": torch.tensor(0, device=c.device)}
        dcp.load(fresh, storage_reader=dcp.FileSystemReader(path))
        model = fresh["model"]
        flags = [(path / ".metadata").exists(), model["weight"].device == w.device, model["weight"].dtype == w.dtype]
        return model["weight"], model["bias"], fresh["step"], flags

    _group_for(c, run)
    path = _scratch_dir(run)
    return run


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

    _group_for(c, run)
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


KERNELS = [
    Kernel("torch.nn.parallel.DistributedDataParallel", "module", _mlp_inputs, dtypes=FLOATS, setup=_ddp_setup,
           reference=_ddp_ref, tol=DOT_TOL,
           note="one rank: a micro-batch under no_sync, then one that all-reduces; gradients of both accumulate"),
    Kernel("torch.distributed.checkpoint.save_state_dict", "io", _checkpoint_inputs, dtypes=FLOATS,
           setup=_save_state_dict_setup, reference=lambda w, b: (w, b, 7, [True] * 3),
           note="deprecated alias of dcp.save: a nested state dict saved to a directory, loaded back in place"),
    Kernel("torch.distributed.algorithms.ddp_comm_hooks.powerSGD_hook.PowerSGDState", "optimizer", _linear_inputs,
           dtypes=FLOATS, setup=_powersgd_setup, check=_check_powersgd,
           note="rank-1 PowerSGD on a one-rank DDP Linear: exact gradients until start_powerSGD_iter, then rank 1"),
]
