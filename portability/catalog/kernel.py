"""The catalog entry: ``Kernel``, what its builders receive (``Draw``), and the small helpers every
catalog file uses. Catalog files import them from ``portability.catalog``.
"""

from __future__ import annotations

import shutil
import tempfile
import weakref
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from portability.vocabulary import DEFAULT_SIZE, DEFAULT_TOL, SIZES

Builder = Callable[[Any], Mapping[str, Any]]


class Draw:
    """What an input builder receives: a seeded ``numpy.random.Generator`` (its methods are
    reachable directly: ``rng.standard_normal(...)``) and the run's input size."""

    def __init__(self, rng: Any, size: str = DEFAULT_SIZE) -> None:
        if size not in SIZES:
            raise ValueError(f"unknown size {size!r}; valid: {', '.join(SIZES)}")
        self.rng = rng
        self.size = size

    def __getattr__(self, name: str) -> Any:
        return getattr(self.rng, name)

    def pick(self, small: Any, medium: Any) -> Any:
        """``rng.pick(64, 512)``: the value for this run's size."""
        return small if self.size == "small" else medium

    def dims(self, *shape: int | tuple[int, int]) -> tuple[int, ...]:
        """A shape whose entries are ints or ``(small, medium)`` pairs."""
        return tuple(self.pick(*d) if isinstance(d, tuple) else d for d in shape)


class CatalogError(Exception):
    """A malformed catalog entry or module; the message names the file and the entry."""


@dataclass(frozen=True)
class Keep:
    """An input array passed to the framework with its own dtype, not the case's."""

    value: Any


@dataclass(frozen=True)
class Unchecked:
    """``out_dtype`` of an entry whose output dtype is not checked, with the reason (``unchecked``)."""

    reason: str


def unchecked(reason: str) -> Unchecked:
    """``out_dtype=unchecked("converts to the call's target dtype; the check reads it")``: the output
    dtype check is off for this entry, and the entry says why (the catalog refuses a bare None)."""
    return Unchecked(reason)


@dataclass(frozen=True)
class Kernel:
    """One catalog entry: one public framework API and how to exercise and check it.

    ``call(ctx, **inputs)`` runs the API once and returns its output; it defaults to
    ``ctx.fn(*inputs.values())``. ``setup(ctx, **inputs)``, when given, runs untimed and returns
    the zero-argument callable that is timed (construct a module, then time its forward pass).
    Exactly how the output is checked: ``reference`` (a NumPy/SciPy function of the float64
    inputs), else ``check`` (a property check that raises ``AssertionError``, required for
    random functions), else the same API on the CPU in float64 (float32 where float64 is refused).
    The output checked is the first call's; the timed rounds that follow call the same thunk
    again, so an object with state (an optimizer) should reset it per call if every round is to
    do the same work.
    """

    api: str
    category: str
    inputs: Builder | Mapping[str, Builder]
    dtypes: Sequence[str] = ("float32",)
    call: Callable[..., Any] | None = None
    setup: Callable[..., Callable[[], Any]] | None = None
    reference: Callable[..., Any] | None = None
    check: Callable[..., None] | None = None
    canonical: Callable[[Any], Any] | None = None
    #: "same": floating outputs keep the case dtype; a dtype name; a mapping case dtype -> dtype;
    #: ``unchecked("why")``: the output dtype is not checked, for a reason the entry states (an API
    #: whose purpose is to change the dtype). Never None: that would switch the check off silently.
    out_dtype: str | Mapping[str, str] | Unchecked | None = "same"
    tol: Mapping[str, tuple[float, float]] = field(default_factory=dict)
    random: bool = False
    tags: Sequence[str] = ()
    frequency: int | None = None
    decile: int | None = None
    #: The paper's own name for the function (``sampled_functions.csv`` api_name) where it is not
    #: the last part of ``api`` (the paper mined bare names: ``decode``, ``cuda``).
    paper_name: str = ""
    #: For an API the installed framework no longer has: the version that removed it and what
    #: replaces it ("removed in tensorflow 2.16; use tf.keras.layers.X"). Its cases are fail:missing.
    removed: str = ""
    #: For an API that only works on one kind of device ("cuda", "xpu", "tpu"): on other backends its
    #: cases fail honestly (a finding), and the catalog self-test, which runs on the CPU, checks only
    #: that its inputs build and that it fails in the framework, not in the harness.
    device_only: str = ""
    #: Why this API fails on the CPU in every dtype, when that is the framework's behaviour and not
    #: the kernel's (``jax.numpy.int64`` is int32 unless x64 is on): the self-test treats it like
    #: ``device_only`` and flags it if it starts to pass.
    cpu_failure: str = ""
    #: Why this API means nothing inside a compiled program (a transfer to the host: under jit it
    #: returns its traced input unchanged): on a compile-only backend its cases are ``unavailable``
    #: with this reason rather than compiled.
    host_only: str = ""
    note: str = ""

    @property
    def variants(self) -> dict[str, Builder]:
        if isinstance(self.inputs, Mapping):
            return dict(self.inputs)
        return {"default": self.inputs}

    @property
    def paper(self) -> bool:
        return "paper" in self.tags

    def tolerance(self, dtype: str) -> tuple[float, float]:
        return self.tol.get(dtype, DEFAULT_TOL.get(dtype, (0.0, 0.0)))

    def expected_dtype(self, dtype: str) -> str | None:
        if self.out_dtype is None or isinstance(self.out_dtype, Unchecked):
            return None
        if isinstance(self.out_dtype, Mapping):
            return self.out_dtype.get(dtype)
        return dtype if self.out_dtype == "same" else self.out_dtype

    def seed(self, variant: str) -> int:
        """Stable across processes and runs (unlike ``hash``)."""
        return zlib.crc32(f"{self.api}|{variant}".encode())


def paper(decile: int, frequency: int, name: str = "") -> dict[str, Any]:
    """Metadata of a function from the paper's sample: ``Kernel(..., **paper(90, 120))``; ``name``
    is the paper's api_name where it differs from the last part of the qualified API."""
    return {"tags": ("paper",), "decile": decile, "frequency": frequency, "paper_name": name}


#: The floating dtypes most entries sweep: ``Kernel(..., dtypes=FLOATS)``.
FLOATS = ("float32", "float64", "float16", "bfloat16")


def tmpdir(owner: object, prefix: str) -> str:
    """A fresh directory, removed when ``owner`` (the timed callable) is garbage-collected: for APIs
    that write files (checkpoints, summaries, saved models)."""
    path = tempfile.mkdtemp(prefix=prefix)
    weakref.finalize(owner, shutil.rmtree, path, ignore_errors=True)
    return path


def same(*dtypes: str) -> dict[str, str]:
    """``out_dtype`` mapping for a kernel whose output keeps its dtype in exactly these cases."""
    return {d: d for d in dtypes}


def copy_params(module: Any, **params: Any) -> Any:
    """Copy builder arrays into a torch module's parameters and buffers (already on the case's
    device and dtype) without recording gradients: ``copy_params(nn.Linear(4, 4), weight=w, bias=b)``."""
    import torch  # only ever called inside the worker, where torch is imported

    with torch.no_grad():
        for name, value in params.items():
            getattr(module, name).copy_(value)
    return module


def raises(exc_type: type[BaseException] | tuple[type[BaseException], ...], fn: Callable[..., Any], *args: Any,
           **kwargs: Any) -> bool:
    """Whether ``fn(*args, **kwargs)`` raises ``exc_type``: for checks that an API refuses bad input."""
    try:
        fn(*args, **kwargs)
    except exc_type:
        return True
    return False


#: Every process group ``one_rank_group`` made, kept referenced after destroy_process_group. Without
#: this the catalog self-test's worker aborted, during a later case, on a torch thread with no Python
#: frame ("terminate called ... Resource deadlock avoided"): a group's last reference dropped on one of
#: its own threads makes its destructor join that thread. A retired one-rank group costs a few idle threads.
_RETIRED_GROUPS: list[Any] = []


def _retire(dist: Any, group: Any) -> None:
    _RETIRED_GROUPS.append(group)
    dist.destroy_process_group()


def one_rank_group(c: Any, owner: object) -> None:
    """torch.distributed in its single-process form: a one-rank process group on an in-memory store
    (no network) for the life of ``owner`` (the timed callable), unless one is already up."""
    dist = c.fw.distributed
    if not dist.is_initialized():
        # backend=None: gloo for CPU tensors, NCCL for CUDA ones where torch has it.
        dist.init_process_group(store=dist.HashStore(), rank=0, world_size=1)
        weakref.finalize(owner, _retire, dist, dist.group.WORLD)


def strict_placement(tf: Any) -> Any:
    """A TF1 session config with TF1's strict placement. TF2's default session config allows soft
    placement, which would move an op with no kernel on the case's device to the host unseen (session
    outputs are NumPy arrays, with no device to check); the paper also ran with soft placement off."""
    return tf.compat.v1.ConfigProto(allow_soft_placement=False)


def strict_session(c: Any, graph: Any) -> Any:
    """A TF1 session on ``graph`` with strict placement (``strict_placement``)."""
    return c.fw.compat.v1.Session(graph=graph, config=strict_placement(c.fw))


def strict_graph(c: Any) -> tuple[Any, Any]:
    """A fresh TF1 ``tf.Graph`` and a strict session on it (``strict_session``)."""
    graph = c.fw.Graph()
    return graph, strict_session(c, graph)


def step_graph(c: Any) -> tuple[Any, Any]:
    """A fresh TF1 graph holding a global step, and the op that advances it by one: the training loop
    a ``tf.compat.v1.train`` hook watches. The kernel adds its own ops under ``with
    graph.as_default(), tf.device(c.device)`` and makes its hook under ``graph.as_default()``."""
    tf = c.fw
    graph = tf.Graph()
    with graph.as_default(), tf.device(c.device):
        train = tf.compat.v1.assign_add(tf.compat.v1.train.create_global_step(), 1)
    return graph, train


def monitored_steps(c: Any, graph: Any, train: Any, hook: Any, steps: int, scaffold: Any = None) -> None:
    """Run ``train`` ``steps`` times in a TF1 ``MonitoredSession`` with ``hook``, strict placement
    (``strict_placement``). Opening the session initialises the graph's variables, which hooks see
    as step 0."""
    tf = c.fw
    with graph.as_default():
        creator = tf.compat.v1.train.ChiefSessionCreator(scaffold=scaffold, config=strict_placement(tf))
        with tf.compat.v1.train.MonitoredSession(creator, hooks=[hook]) as sess:
            for _ in range(steps):
                sess.run(train)


def block_mean(x: Any, block: Sequence[int]) -> Any:
    """Means over non-overlapping blocks of ``x``'s trailing dimensions (each divisible by its block):
    the NumPy reference of average pooling with kernel = stride = ``block``."""
    x = np.asarray(x)
    lead = x.shape[: x.ndim - len(block)]
    split: list[int] = []
    for size, b in zip(x.shape[len(lead):], block, strict=True):
        split += [size // b, b]
    return x.reshape(*lead, *split).mean(axis=tuple(len(lead) + 2 * i + 1 for i in range(len(block))))
