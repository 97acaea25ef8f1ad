"""PyTorch adapter: cpu -> ``cpu``, gpu -> ``cuda`` (CUDA or ROCm) or ``mps``, tpu -> ``xla``
(torch_xla on a TPU), xla-cpu -> ``xla`` (torch_xla on the host CPU, ``PJRT_DEVICE=CPU``)."""

from __future__ import annotations

import gc
import importlib.util
import os
from collections.abc import Callable, Mapping, MutableMapping, Sequence
from contextlib import AbstractContextManager
from typing import Any

import numpy as np
import torch
from torch.utils import _pytree

from portability.runner.backends import Compiled, no_compile_target
from portability.verdicts import first_line

#: The backends torch reaches through torch_xla, and the PJRT device type each needs.
XLA_BACKENDS = {"tpu": "TPU", "xla-cpu": "CPU"}
#: Where torch_xla's device of each PJRT type is, in the suite's words (``Backend.device_kind``).
XLA_KINDS = {"TPU": "tpu", "CPU": "xla-cpu", "CUDA": "gpu", "GPU": "gpu"}
NO_TORCH_XLA = ("torch_xla is not installed: it needs its own torch (torch-xla 2.9.0 pins torch 2.9.0), "
                "so it has its own environment, tox -e xla")


def xla_start(asked: Sequence[str], environ: MutableMapping[str, str]) -> bool:
    """Whether a torch worker starts torch_xla: only when a backend of the run goes through it
    (importing it costs seconds and starts its runtime). xla-cpu without tpu sets
    ``PJRT_DEVICE=CPU`` unless the user set one (then torch_xla runs where they said, and xla-cpu
    is unavailable unless that is the CPU)."""
    wanted = {XLA_BACKENDS[b] for b in asked if b in XLA_BACKENDS}
    if wanted == {"CPU"}:
        environ.setdefault("PJRT_DEVICE", "CPU")
    return bool(wanted)


def xla_unavailable(backend: str, device_type: str | None, reason: str) -> str:
    """Why a torch_xla backend is not visible: torch_xla missing or not started (``reason``), or
    running on another device type than the backend needs."""
    if device_type is None:
        return reason
    if backend == "xla-cpu":
        return (f"torch_xla runs on {device_type} here (PJRT_DEVICE={os.environ.get('PJRT_DEVICE', 'unset')}); "
                "xla-cpu is torch_xla on the CPU: PJRT_DEVICE=CPU")
    return f"torch_xla sees device type {device_type}, not TPU"


def fallback_ops(executed: Sequence[str], counters: Sequence[str]) -> list[str]:
    """The ops torch_xla ran on the CPU because XLA has no lowering for them: its
    ``executed_fallback_ops()``, with the ``aten::`` counters it keeps for each (one per op that
    fell back), sorted and each once."""
    return sorted({*executed, *(c for c in counters if c.startswith("aten::"))})


class Adapter:
    framework = "torch"
    scope_calls = False

    def __init__(self, options: Mapping[str, Any] | None = None) -> None:
        self._xla_type: str | None = None
        self._xla_reason = "not asked for (--backend)"
        self._no_compiler: str | None = None
        start = xla_start(tuple((options or {}).get("backends", ())), os.environ)
        if importlib.util.find_spec("torch_xla") is None:
            self._xla_reason = NO_TORCH_XLA
        elif start:
            try:
                import torch_xla.runtime as xr

                self._xla_type = str(xr.device_type())
            except Exception as exc:
                self._xla_reason = f"torch_xla did not start: {type(exc).__name__}: {first_line(str(exc))}"

    def visible(self) -> dict[str, str]:
        seen = {"cpu": "cpu"}
        if torch.cuda.is_available():
            seen["gpu"] = f"cuda:0 {torch.cuda.get_device_name(0)}"
        elif getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            seen["gpu"] = "mps"
        if self._xla_type == "TPU":
            seen["tpu"] = "xla (TPU)"
        elif self._xla_type == "CPU":
            seen["xla-cpu"] = f"{self.device('xla-cpu')} (torch_xla, PJRT CPU)"
        return seen

    def unavailable_reason(self, backend: str) -> str:
        if backend == "gpu":
            built = torch.version.cuda or torch.version.hip
            if not built:
                return f"torch {torch.__version__} is a CPU-only build"
            return f"torch built for CUDA/ROCm {built}, but torch.cuda.is_available() is False"
        if backend in XLA_BACKENDS:
            return xla_unavailable(backend, self._xla_type, self._xla_reason)
        if backend == "tpu-compile":
            # torch_xla compiles through a live PJRT device: it has no compile-only TPU client like
            # jax.experimental.topologies, and it pins its own torch (torch-xla 2.9.0 needs torch 2.9.0)
            missing = ", and torch_xla is not installed" if self._xla_reason == NO_TORCH_XLA else ""
            return ("PyTorch reaches a TPU only through torch_xla, which compiles for a TPU it is running on; "
                    "no compile-only TPU target" + missing)
        return "unknown backend"

    def versions(self) -> dict[str, str]:
        v: dict[str, str] = {"torch": str(torch.__version__)}
        if torch.version.cuda:
            v["cuda"] = str(torch.version.cuda)
            if torch.backends.cudnn.is_available():
                v["cudnn"] = str(torch.backends.cudnn.version())
        if torch.version.hip:
            v["hip"] = str(torch.version.hip)
        if self._xla_type is not None:
            import torch_xla

            v["torch_xla"] = str(torch_xla.__version__)
            v["xla_device_type"] = self._xla_type
        return v

    def numerics(self) -> dict[str, Any]:
        return {
            "torch_float32_matmul_precision": torch.get_float32_matmul_precision(),
            "torch_cuda_matmul_allow_tf32": bool(torch.backends.cuda.matmul.allow_tf32),
            "torch_cudnn_allow_tf32": bool(torch.backends.cudnn.allow_tf32),
        }

    def threads(self) -> int | None:
        return int(torch.get_num_threads())

    def timing_settings(self) -> dict[str, Any]:
        return {}

    def device(self, backend: str) -> Any:
        if backend == "cpu":
            return torch.device("cpu")
        if backend == "gpu":
            return torch.device("cuda", 0) if torch.cuda.is_available() else torch.device("mps")
        if backend in XLA_BACKENDS:
            import torch_xla

            return torch_xla.device()
        raise ValueError(f"unknown backend {backend!r}")

    def placement(self, device: Any) -> AbstractContextManager[Any]:
        # torch.device is a context manager that sets the default device of factory functions.
        return device

    def to_device(self, array: np.ndarray, device: Any) -> Any:
        if array.dtype.name == "bfloat16":  # ml_dtypes.bfloat16: torch has no NumPy bridge for it
            return torch.from_numpy(array.astype(np.float32)).to(device=device, dtype=torch.bfloat16)
        # ascontiguousarray makes 0-d arrays 1-d: keep the shape
        return torch.from_numpy(np.ascontiguousarray(array).reshape(array.shape)).to(device)

    def is_array(self, value: Any) -> bool:
        return isinstance(value, torch.Tensor)

    def device_kind(self, array: Any) -> str:
        kind = array.device.type
        if kind in ("cuda", "mps"):
            return "gpu"
        if kind == "xla":
            return XLA_KINDS.get(self._xla_type or "", "xla")
        return "cpu" if kind == "cpu" else kind

    def dtype_name(self, array: Any) -> str:
        return str(array.dtype).removeprefix("torch.")

    def to_numpy(self, array: Any) -> np.ndarray:
        t = array.detach()
        if t.layout != torch.strided:
            t = t.to_dense()
        t = t.cpu()
        if t.dtype == torch.bfloat16:
            t = t.float()
        return t.resolve_conj().resolve_neg().numpy()

    def sync(self, output: Any) -> None:
        if torch.cuda.is_initialized():
            torch.cuda.synchronize()
        elif getattr(torch, "mps", None) is not None and torch.backends.mps.is_available():
            torch.mps.synchronize()
        if self._xla_type is not None and self._lazy(output):
            import torch_xla
            import torch_xla.core.xla_model as xm

            # Lazy tensors: sync compiles (or finds compiled) the pending graph and launches it;
            # wait for it to finish.
            torch_xla.sync()
            xm.wait_device_ops()

    def _lazy(self, output: Any) -> bool:
        """Whether an output may leave work pending on torch_xla's device: it holds an XLA tensor, or
        no tensor at all (a call that only updated tensors in place). A host case's tensors never
        pay for a sync (16 us each on the CPU, in every timed call)."""
        leaves = [x for x in _pytree.tree_leaves(output) if isinstance(x, torch.Tensor)]
        return not leaves or any(x.device.type == "xla" for x in leaves)

    def seed(self, seed: int) -> None:
        torch.manual_seed(seed)

    def host_fallbacks(self) -> list[str] | None:
        if self._xla_type is None:
            return None
        import torch_xla.debug.metrics as met

        ops = fallback_ops(met.executed_fallback_ops(), met.counter_names())
        met.clear_all()
        return ops

    def jit_unavailable(self, backend: str) -> str:
        if backend in XLA_BACKENDS:
            # torch_xla traces every call into a graph that XLA compiles (cached per graph): the
            # backend is a compiled path already; torch.compile's inductor generates CPU or CUDA code
            return ("torch_xla compiles every call with XLA already (lazy tensors); --mode compiled "
                    "(torch.compile with inductor) is for the eager backends")
        if self._no_compiler is None:
            # inductor compiles the kernels it generates for the CPU with a C++ compiler ($CXX, else g++ ...)
            try:
                from torch._inductor import cpp_builder

                cpp_builder.get_cpp_compiler()
                self._no_compiler = ""
            except Exception as exc:
                self._no_compiler = (f"torch.compile's inductor needs a C++ compiler on the CPU and finds none "
                                     f"({type(exc).__name__}: {first_line(str(exc))})")
        return self._no_compiler

    def jit(self, thunk: Callable[[], Any], program: Callable[..., Any],
            args: Sequence[Any]) -> tuple[Callable[[], Any], dict[str, Any]]:
        import torch._dynamo

        # Each case compiles afresh: dynamo caches compiled code per Python code object, and every
        # case's call is the same lambda of the harness, whose cache would fill (cache_size_limit)
        # and quietly fall back to eager. fullgraph: a graph break is an error, not a silent eager
        # fallback; dynamic=False: the shapes are the case's.
        torch._dynamo.reset()
        compiled: Callable[[], Any] = torch.compile(thunk, fullgraph=True, dynamic=False)
        return compiled, {}

    def compile_targets(self) -> dict[str, dict[str, str]]:
        return {}

    def compile(self, backend: str, fn: Callable[..., Any], args: Sequence[np.ndarray]) -> Compiled:
        return no_compile_target(self.framework, backend)

    def free(self) -> None:
        gc.collect()
        if torch.cuda.is_initialized():
            torch.cuda.empty_cache()
