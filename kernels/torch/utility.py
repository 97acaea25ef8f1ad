"""torch utilities: shape, dtype and pointer queries, devices and streams, distributed helpers and hooks.

A device query is asked about the case's device and its answer compared with what torch reports elsewhere;
CUDA-only APIs fail, honestly, where there is none. Distributed APIs run in their single-process form: a one-
rank process group on an in-memory store (no network).
"""

import weakref
from collections import OrderedDict

import ml_dtypes
import numpy as np
import scipy.special as sp

from portability.catalog import BIG_SIDE, FLOATS, VEC, Keep, Kernel, normal, nothing, pair, paper, raises

PAIRS = (("a", "b"), ("a", "c"), ("a", "d"), ("e", "f"), ("e", "g"), ("e", "h"), ("g", "g"), ("h", "a"))
#: How many live timed callables use the group this file set up (None: it set up none).
_GROUP_USERS: dict[str, int | None] = {"count": None}
N = (BIG_SIDE, BIG_SIDE)  # 64x64 at small, 1024x1024 at medium
#: Sums of a few hundred terms: half-precision outputs round once, accumulation is wider.
SUM_TOL = {"float16": (2e-2, 3e-3), "bfloat16": (5e-2, 1.5e-2)}


def _grid(*shape):
    """Values on a coarse grid with zeros: exact in every dtype, interesting for ints and bools."""
    return lambda rng: {"x": np.round(rng.standard_normal(rng.dims(*shape)) * 4)}


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


def _shapes(rng):
    return {k: rng.standard_normal(s) for k, s in SHAPES.items()}


def _is_same_size_call(ctx, **t):
    return [ctx.fn(t[p], t[q]) for p, q in PAIRS]


def _is_same_size_ref(*arrays):
    t = dict(zip(SHAPES, arrays, strict=True))
    return [t[p].shape == t[q].shape for p, q in PAIRS]


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


# -- distributed: a one-rank process group ---------------------------------------------------------

def _init_group(dist):
    # backend=None: gloo for CPU tensors, NCCL for CUDA ones where torch has it.
    dist.init_process_group(store=dist.HashStore(), rank=0, world_size=1)


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


# -- Tensor.item -----------------------------------------------------------------------------------

def _item_call(c, x):
    kind = float if x.is_floating_point() else int
    values = [c.fn(x[1, 2]), c.fn(x.max()), c.fn(x.sum()), c.fn((x > 0).any())]  # loss.item() and friends
    types = [type(v) is t for v, t in zip(values, (kind, kind, kind, bool), strict=True)]
    return values, types, raises(RuntimeError, c.fn, x[0])  # more than one element


def _item_ref(x):
    return [x[1, 2], x.max(), x.sum(), bool((x > 0).any())], [True] * 4, True


# -- LongTensor.size -------------------------------------------------------------------------------

ROWS = [[101, 7592, 2088, 102], [101, 2023, 102, 0], [101, 102, 0, 0]]


def _long_tensor_size_call(c):
    torch = c.fw
    ids = torch.LongTensor(ROWS).to(c.device)  # the legacy constructor builds on the host
    empty = torch.LongTensor(3, 0)
    return ids, [c.fn(ids), c.fn(ids, 0), c.fn(ids, -1), c.fn(empty), c.fn(ids[:, None]), c.fn(ids) == ids.shape]


def _long_tensor_size_ref():
    ids = np.array(ROWS)
    return ids, [(3, 4), 3, 4, (3, 0), (3, 1, 4), True]


KERNELS = [
    # One size: a shape query does the same work whatever the tensor holds.
    Kernel("torch.Tensor.size", "utility", _grid(8, 16, 32), dtypes=("float32", "int64"),
           reference=lambda x: x.shape, **paper(100, 4571),
           note="returns torch.Size, a tuple of Python ints"),
    Kernel("torch.finfo", "utility", _scores, dtypes=FLOATS, call=_finfo_call, reference=_finfo_ref,
           note="eps/max/min/tiny/bits of every float dtype vs NumPy and ml_dtypes; finfo(dtype).min as a mask fill"),
    # One size each: device queries do the same work whatever the data.
    Kernel("torch.cuda.is_available", "utility", nothing(), dtypes=("float32",), call=_is_available_call,
           reference=lambda: [True] * 4, note="consistent with device_count and with the case's device"),
    # CUDA-only: on a CPU-only build set_device raises (AttributeError: torch._C has no _cuda_setDevice,
    # where other CUDA calls say "Torch not compiled with CUDA enabled"), so the cpu case fails, honestly.
    Kernel("torch.cuda.set_device", "utility", nothing(), dtypes=("float32",), call=_set_device_call,
           reference=lambda: [True, True], device_only="cuda",
           note="set_device(local_rank): 'cuda' tensors then land on that GPU"),
    # CUDA-only: "Torch not compiled with CUDA enabled" on a CPU-only build; a failure, honestly.
    Kernel("torch.cuda.get_device_properties", "utility", nothing(), dtypes=("float32",),
           call=_properties_call, reference=lambda: [True] * 5, device_only="cuda",
           note="name, compute capability, memory, SMs; consistent with the other torch.cuda queries"),
    Kernel("torch.device", "utility", nothing(), dtypes=("float32",), call=_device_call,
           reference=lambda: (np.ones(3), [True] * 15), **paper(100, 2138, name="cuda"),
           note="the mined name 'cuda' (upstream tests constructed cuda devices): the case's own device type"),
    Kernel("torch.Tensor.data_ptr", "utility", {"strided": _ptr_inputs, "sparse_csr": _csr_inputs},
           dtypes=("float32", "int64"), call=_data_ptr_call, reference=_data_ptr_ref,
           **paper(80, 34), note="view offsets against storage_offset; copies vs aliases; CSR has no data_ptr"),
    Kernel("torch.Tensor.is_same_size", "utility", _shapes, dtypes=("float32",), call=_is_same_size_call,
           reference=_is_same_size_ref, **paper(40, 4)),
    Kernel("torch.Stream.synchronize", "utility", normal(BIG_SIDE, BIG_SIDE, scale=1 / 8),
           dtypes=("float32",), setup=_stream_setup, reference=lambda x: (x @ x @ x, True),
           **paper(90, 103),
           note="torch.Stream: the device-generic form of the paper's torch.cuda.Stream.synchronize"),
    # One size: a flag lookup; the group is set up and torn down around it.
    Kernel("torch.distributed.is_initialized", "utility", nothing(), dtypes=("float32",),
           call=_is_initialized_call, reference=lambda: [False, True, False]),
    Kernel("torch.distributed.nn.functional.all_gather", "utility",
           pair(VEC, names=("x", "w")),
           dtypes=FLOATS, setup=_all_gather_setup, reference=lambda x, w: ([x], w, 1),
           note="one rank: gathers its own tensor; the backward returns the gradient"),
    Kernel("torch.distributed.all_gather_object", "utility", lambda rng: {"x": rng.standard_normal(16)},
           dtypes=("float32",), setup=_all_gather_object_setup,
           reference=lambda x: (x, [0.5, 0.25], 3, "rank0", 1), note="accelerate's gather of Python records"),
    Kernel("torch.utils.hooks.RemovableHandle", "utility", lambda rng: {"x": rng.standard_normal((16, 16))},
           dtypes=("float32",), call=_handle_call, reference=_handle_ref,
           note="accelerate's hook registry: handles by id, remove(), as a context manager, extra_dict"),
    Kernel("torch.Tensor.item", "utility", _grid(*N), dtypes=(*FLOATS, "int64"), call=_item_call,
           reference=_item_ref, tol=SUM_TOL, note="Python numbers of the right type from device scalars"),
    # One size: a shape query does the same work whatever the tensor holds.
    Kernel("torch.LongTensor.size", "utility", nothing(), dtypes=("int64",), call=_long_tensor_size_call,
           reference=_long_tensor_size_ref, out_dtype="int64",
           note="token ids built by the legacy torch.LongTensor constructor, then moved to the device"),
]
