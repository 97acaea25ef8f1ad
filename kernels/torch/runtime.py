"""Runtime utilities from the usage sample: grad mode, checkpoints, data loading, hooks, mixed
precision and distributed helpers, exercised the way training scripts use them.

Each kernel runs the utility around a computation on the case's device and checks its effect:
values against NumPy, and bookkeeping (flags, counts, scales) exactly. Distributed APIs run in
their single-process form: a one-rank process group on an in-memory store (no network).
"""

import shutil
import tempfile
import weakref
from collections import OrderedDict
from pathlib import Path

import numpy as np

from portability.catalog import SIDE, VEC, Keep, Kernel, matmul, pair, raises

FLOATS = ("float32", "float64", "float16", "bfloat16")
#: Dot products of a few hundred terms: half-precision outputs round once, accumulation is wider.
DOT_TOL = {"float16": (2e-2, 3e-3), "bfloat16": (5e-2, 1.5e-2)}


def _scratch_dir(owner):
    """A temporary directory removed when ``owner`` (the timed callable) is freed."""
    path = tempfile.mkdtemp(prefix="portability-")
    weakref.finalize(owner, shutil.rmtree, path, ignore_errors=True)
    return Path(path)


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


# -- torch.load ------------------------------------------------------------------------------------

def _checkpoint_inputs(rng):
    n = rng.pick(64, 1024)
    return {"w": np.round(rng.standard_normal((n, n)) * 8) / 4, "b": np.round(rng.standard_normal(n) * 8) / 4}


def _load_setup(c, w, b):
    torch = c.fw
    state = {"model": {"weight": w, "bias": b, "weight_view": w[1:3]}, "step": 7, "name": "layer",
             "history": [0.5, 0.25]}

    def run():
        loaded = c.fn(path, map_location=c.device, weights_only=True)
        model = loaded["model"]
        shared = model["weight_view"].untyped_storage().data_ptr() == model["weight"].untyped_storage().data_ptr()
        return model["weight"], model["bias"], model["weight_view"], loaded["step"], loaded["name"], \
            loaded["history"], shared

    path = _scratch_dir(run) / "checkpoint.pt"
    torch.save(state, path)
    return run


def _load_ref(w, b):
    return w, b, w[1:3], 7, "layer", [0.5, 0.25], True


# -- DataLoader ------------------------------------------------------------------------------------

BATCH = 64


def _samples(rng):
    # Not a multiple of BATCH: the last batch is a partial one.
    n = rng.pick(500, 8100)
    return {"x": np.round(rng.standard_normal((n, rng.pick(16, 128))) * 8), "idx": Keep(np.arange(n))}


def _loader_setup(c, x, idx):
    torch = c.fw
    # Datasets live on the host; batches go to the device in the training loop.
    ds = torch.utils.data.TensorDataset(x.cpu(), idx.cpu())

    def run():
        loader = c.fn(ds, batch_size=BATCH, shuffle=True, generator=torch.Generator().manual_seed(0))
        xs, ids, sizes = [], [], []
        for bx, bi in loader:
            xs.append(bx.to(c.device, non_blocking=True))
            ids.append(bi.to(c.device, non_blocking=True))
            sizes.append(len(bi))
        seen = torch.cat(ids)
        order = torch.argsort(seen)
        shuffled = bool((seen != torch.arange(len(seen), device=seen.device)).any())
        return torch.cat(xs)[order], seen[order], sizes, len(loader), shuffled

    return run


def _loader_ref(x, idx):
    n = len(idx)
    sizes = [BATCH] * (n // BATCH) + ([n % BATCH] if n % BATCH else [])
    return x, idx, sizes, len(sizes), True


# -- distributed: a one-rank process group ---------------------------------------------------------

def _init_group(dist):
    # backend=None: gloo for CPU tensors, NCCL for CUDA ones where torch has it.
    dist.init_process_group(store=dist.HashStore(), rank=0, world_size=1)


#: How many live timed callables use the group this file set up (None: it set up none).
_GROUP_USERS: dict[str, int | None] = {"count": None}


def _group_for(c, owner):
    """A one-rank group while ``owner`` (the timed callable) lives: set up by the first user,
    torn down when the last is freed; a group set up by anyone else is used and left alone."""
    dist = c.fw.distributed
    if not dist.is_initialized():
        _init_group(dist)
        _GROUP_USERS["count"] = 0
    elif _GROUP_USERS["count"] is None:
        return
    _GROUP_USERS["count"] += 1
    weakref.finalize(owner, _release_group, dist)


def _release_group(dist):
    _GROUP_USERS["count"] -= 1
    if _GROUP_USERS["count"] == 0:
        _GROUP_USERS["count"] = None
        if dist.is_initialized():
            dist.destroy_process_group()


def _is_initialized_call(c):
    dist = c.fw.distributed
    before = c.fn()
    _init_group(dist)
    try:
        during = c.fn()
    finally:
        dist.destroy_process_group()
    return [before, during, c.fn()]


def _all_gather_setup(c, x, w):
    xr = x.detach().clone().requires_grad_(True)

    def run():
        xr.grad = None
        # the group passed explicitly: the function's default is the world group that existed when
        # torch.distributed.nn was first imported, stale once that group is destroyed and remade
        gathered = c.fn(xr, group=c.fw.distributed.group.WORLD)
        (gathered[0] * w).sum().backward()  # all_gather is differentiable: the gradient comes back
        return [g.detach() for g in gathered], xr.grad, len(gathered)

    _group_for(c, run)
    return run


def _all_gather_object_setup(c, x):
    def run():
        record = {"loss": [0.5, 0.25], "step": 3, "tensor": x, "tag": "rank0"}
        gathered = [None]
        c.fn(gathered, record)
        got = gathered[0]
        return got["tensor"], got["loss"], got["step"], got["tag"], len(gathered)

    _group_for(c, run)
    return run


# -- torch.cuda.FloatTensor ------------------------------------------------------------------------

def _float_tensor_call(c, values):
    # accelerate's Megatron loop: torch.cuda.FloatTensor([0.0]) accumulators. A CUDA-only legacy
    # constructor: a CPU-only build raises "Torch not compiled with CUDA enabled"; with CUDA, a cpu
    # case gets a cuda tensor (host_fallback's mirror image). Both are honest failures.
    total = c.fn([0.0])
    for v in values:
        total = total + c.fn([v])
    return c.fn(values), total, c.fn(2, 3).shape


# -- torch.cuda.amp.GradScaler.load_state_dict -----------------------------------------------------

#: A scaler's state as a checkpoint holds it: scale 1024, one good step towards a growth interval of 2.
STATE = {"scale": 1024.0, "growth_factor": 2.0, "backoff_factor": 0.5, "growth_interval": 2, "_growth_tracker": 1}
LR = 0.1


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


# -- torch.utils.hooks.RemovableHandle -------------------------------------------------------------

def _handle_call(c, x):
    handle_type = c.fn
    hooks, extra = OrderedDict(), OrderedDict()  # handles keep weak references: a plain dict has none

    def register(fn, **kwargs):
        handle = handle_type(hooks, **kwargs)
        hooks[handle.id] = fn
        return handle

    def apply(t):
        for fn in hooks.values():
            t = fn(t)
        return t

    first, second = register(lambda t: t * 2), register(lambda t: t + 1)
    register(lambda t: t - 3)
    second.remove()
    second.remove()  # removing twice is harmless
    with register(lambda t: t * t):  # a handle is a context manager: removed on exit
        inside = apply(x)
    after = apply(x)
    both = register(lambda t: t, extra_dict=extra)
    extra[both.id] = "state"
    both.remove()
    lin = c.fw.nn.Linear(4, 4)
    forward = lin.register_forward_hook(lambda *args: None)
    flags = [first.id < second.id < both.id, len(hooks) == 2, both.id not in extra,
             isinstance(forward, handle_type)]
    return inside, after, flags


def _handle_ref(x):
    y = x * 2 - 3
    return y * y, y, [True] * 4


KERNELS = [
    Kernel("torch.no_grad", "autodiff", matmul(SIDE, SIDE, SIDE), dtypes=FLOATS, setup=_no_grad_setup,
           reference=lambda a, b: (a @ b, a @ b, [True] * 8), tol=DOT_TOL,
           note="as a context manager (with enable_grad nested) and as a decorator"),
    Kernel("torch.load", "io", _checkpoint_inputs, dtypes=(*FLOATS, "int64"), setup=_load_setup,
           reference=_load_ref, note="a torch.save'd checkpoint dict, map_location the case's device, weights_only"),
    Kernel("torch.utils.data.DataLoader", "io", _samples, dtypes=("float32", "int64"), setup=_loader_setup,
           reference=_loader_ref, note="shuffled host batches moved to the device; every sample seen once"),
    # One size: a flag lookup; the group is set up and torn down around it.
    Kernel("torch.distributed.is_initialized", "utility", lambda rng: {}, dtypes=("float32",),
           call=_is_initialized_call, reference=lambda: [False, True, False]),
    Kernel("torch.distributed.nn.functional.all_gather", "utility",
           pair(VEC, names=("x", "w")),
           dtypes=FLOATS, setup=_all_gather_setup, reference=lambda x, w: ([x], w, 1),
           note="one rank: gathers its own tensor; the backward returns the gradient"),
    Kernel("torch.distributed.all_gather_object", "utility", lambda rng: {"x": rng.standard_normal(16)},
           dtypes=("float32",), setup=_all_gather_object_setup,
           reference=lambda x: (x, [0.5, 0.25], 3, "rank0", 1), note="accelerate's gather of Python records"),
    Kernel("torch.cuda.FloatTensor", "creation", lambda rng: {"values": [0.5, 1.25, -2.0]}, dtypes=("float32",),
           call=_float_tensor_call, reference=lambda values: (np.array(values), np.array([sum(values)]), (2, 3)),
           device_only="cuda"),
    # CUDA-only: on the cpu backend torch disables the scaler (with a warning) and load_state_dict
    # silently does nothing, so the case fails, honestly.
    Kernel("torch.cuda.amp.GradScaler.load_state_dict", "optimizer", _scaler_inputs, dtypes=("float32",),
           setup=_scaler_setup, check=_check_scaler, device_only="cuda",
           note="restore a checkpointed scaler, then a finite step (scale grows) and an inf step (skipped)"),
    Kernel("torch.utils.hooks.RemovableHandle", "utility", lambda rng: {"x": rng.standard_normal((16, 16))},
           dtypes=("float32",), call=_handle_call, reference=_handle_ref,
           note="accelerate's hook registry: handles by id, remove(), as a context manager, extra_dict"),
]
