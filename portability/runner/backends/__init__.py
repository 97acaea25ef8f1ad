"""Backend adapters: one module per framework, each importing its framework lazily.

The pytest process never imports a framework: it asks ``installed()`` (a module lookup, no
import) and leaves everything else to the worker processes, which call ``load(name)``.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from portability.records import CompileFacts
from portability.vocabulary import FRAMEWORKS


class StageError(Exception):
    """An exception raised while a stage of a case ran; ``stage`` says which (inputs, setup, call;
    for a compile-only backend trace, lower, compile)."""

    def __init__(self, stage: str, exc: BaseException) -> None:
        super().__init__(str(exc))
        self.stage = stage
        self.exc = exc


@dataclass
class Compiled:
    """What compiling a case for a compile-only backend gave: the compiler's facts, the dtypes of the
    program's outputs, and the host callbacks the program makes (their names)."""

    facts: CompileFacts
    output_dtypes: list[str]
    callbacks: list[str] = field(default_factory=list)


class Backend(Protocol):
    """What the worker needs from a framework. Backend names are ``portability.vocabulary.BACKENDS``."""

    framework: str
    #: Whether timed calls run inside ``placement`` too. TensorFlow needs its device scope; torch's
    #: ``with torch.device(...)`` intercepts every torch call in Python (microseconds each), so torch
    #: kernels pass ``device=ctx.device`` to factories and are timed without it.
    scope_calls: bool

    def visible(self) -> dict[str, str]:
        """Backend name -> device description, for every backend this framework can use here."""

    def unavailable_reason(self, backend: str) -> str:
        """Why ``backend`` is not visible (what was looked for), for the user."""

    def versions(self) -> dict[str, str]:
        """Framework (and runtime: CUDA, cuDNN, XLA) versions."""

    def numerics(self) -> dict[str, Any]:
        """Numerics flags that change results: JAX x64, TF32, soft device placement."""

    def threads(self) -> int | None:
        """The framework's CPU intra-op thread count as it reports it; None where it has no such
        setting (JAX sizes its pool from the CPU affinity, see ``portability.runner.cpus``)."""

    def timing_settings(self) -> dict[str, Any]:
        """Framework settings the worker chose so that its calls are timed as one thread's work (JAX's
        CPU async dispatch, off on one pinned CPU), for ``run.json``."""

    def device(self, backend: str) -> Any:
        """The framework's device object for a backend name."""

    def placement(self, device: Any) -> AbstractContextManager[Any]:
        """Context in which ops without explicit inputs (factories) land on ``device``."""

    def to_device(self, array: np.ndarray, device: Any) -> Any:
        """A framework array on ``device`` with ``array``'s values and dtype."""

    def is_array(self, value: Any) -> bool:
        """Whether ``value`` is one of the framework's arrays (a leaf of an output)."""

    def device_kind(self, array: Any) -> str:
        """``cpu``, ``gpu`` or ``tpu``: where an output array lives."""

    def dtype_name(self, array: Any) -> str:
        """The array's dtype as a catalog dtype name (``float32``, ``bfloat16``...)."""

    def to_numpy(self, array: Any) -> np.ndarray:
        """A host copy; bfloat16 comes back as float32 values."""

    def sync(self, output: Any) -> None:
        """Block until the work producing ``output`` is done on the device, without a host copy."""

    def seed(self, seed: int) -> None:
        """Seed the framework's global random state (where it has one)."""

    def free(self) -> None:
        """Release cached device memory between cases."""

    def host_fallbacks(self) -> list[str] | None:
        """The ops run on the host CPU instead of the device since the last call, as the framework
        counts them (torch_xla's fallback counters, cleared by the call); None where nothing counts
        them. The worker asks before a case's first call and after it."""

    def jit_unavailable(self, backend: str) -> str:
        """Why ``--mode compiled`` cannot run on ``backend`` here ("" when it can): a compiler the
        framework needs and does not find (torch's inductor needs a C++ compiler on the CPU)."""

    def jit(self, thunk: Callable[[], Any], program: Callable[..., Any],
            args: Sequence[Any]) -> tuple[Callable[[], Any], dict[str, Any]]:
        """``--mode compiled``: the case compiled as this framework's users compile a function, and
        what compiling it took (seconds per stage, where the framework says). ``thunk`` is the eager
        call, its setup done; ``program`` the whole call, setup included, as a function of the case's
        input arrays ``args`` (on the device). Compiling may wait for the first call; an error raised
        while it is done ahead is a ``StageError`` naming the stage (trace, lower, compile)."""

    def compile_targets(self) -> dict[str, dict[str, str]]:
        """For each visible compile-only backend: the compiler, its version, the topology and the chip."""

    def compile(self, backend: str, fn: Callable[..., Any], args: Sequence[np.ndarray]) -> Compiled:
        """Compile ``fn`` for a compile-only backend's device, its arguments given by the shapes and
        dtypes of ``args``; nothing runs. Raises ``StageError`` (trace, lower, compile)."""


def installed() -> list[str]:
    """Frameworks importable here, found without importing them."""
    return [fw for fw, f in FRAMEWORKS.items() if importlib.util.find_spec(f.module) is not None]


def load(framework: str, options: Mapping[str, Any] | None = None) -> Backend:
    """Import the adapter (and with it the framework): only ever called in a worker. ``options``:
    ``Settings.worker_options`` (the backends asked for, the TPU topology, JAX's x64)."""
    module = importlib.import_module(FRAMEWORKS[framework].adapter)
    backend: Backend = module.Adapter(options or {})
    return backend


def no_compile_target(framework: str, backend: str) -> Compiled:
    """``Backend.compile`` of a framework that reaches no compile-only backend (never visible, so
    never asked): a harness error if it is."""
    raise RuntimeError(f"{framework} cannot compile for {backend}")
