"""PyTorch adapter: cpu -> ``cpu``, gpu -> ``cuda`` (CUDA or ROCm) or ``mps``, tpu -> ``xla`` (torch_xla)."""

from __future__ import annotations

import gc
import importlib.util
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from typing import Any

import numpy as np
import torch

from portability.runner.backends import Compiled, no_compile_target
from portability.verdicts import first_line


def _xla_device_type() -> str | None:
    """The torch_xla runtime's device type ("TPU", "CUDA", "CPU"), or None without torch_xla."""
    if importlib.util.find_spec("torch_xla") is None:
        return None
    try:
        import torch_xla.runtime as xr

        return str(xr.device_type())
    except Exception:
        return None


class Adapter:
    framework = "torch"
    scope_calls = False

    def __init__(self, options: Mapping[str, Any] | None = None) -> None:
        self._xla_type = _xla_device_type()
        self._no_compiler: str | None = None

    def visible(self) -> dict[str, str]:
        seen = {"cpu": "cpu"}
        if torch.cuda.is_available():
            seen["gpu"] = f"cuda:0 {torch.cuda.get_device_name(0)}"
        elif getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            seen["gpu"] = "mps"
        if self._xla_type == "TPU":
            seen["tpu"] = "xla (TPU)"
        return seen

    def unavailable_reason(self, backend: str) -> str:
        if backend == "gpu":
            built = torch.version.cuda or torch.version.hip
            if not built:
                return f"torch {torch.__version__} is a CPU-only build"
            return f"torch built for CUDA/ROCm {built}, but torch.cuda.is_available() is False"
        if backend == "tpu":
            if self._xla_type is None:
                return "torch_xla is not installed"
            return f"torch_xla sees device type {self._xla_type}, not TPU"
        if backend == "tpu-compile":
            # torch_xla compiles through a live PJRT device: it has no compile-only TPU client like
            # jax.experimental.topologies, and it pins its own torch (torch-xla 2.9.0 needs torch 2.9.0)
            return ("PyTorch reaches a TPU only through torch_xla, which compiles for a TPU it is running on; "
                    "no compile-only TPU target" + ("" if self._xla_type else ", and torch_xla is not installed"))
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
        return v

    def numerics(self) -> dict[str, Any]:
        return {
            "torch_float32_matmul_precision": torch.get_float32_matmul_precision(),
            "torch_cuda_matmul_allow_tf32": bool(torch.backends.cuda.matmul.allow_tf32),
            "torch_cudnn_allow_tf32": bool(torch.backends.cudnn.allow_tf32),
        }

    def threads(self) -> int | None:
        return int(torch.get_num_threads())

    def device(self, backend: str) -> Any:
        if backend == "cpu":
            return torch.device("cpu")
        if backend == "gpu":
            return torch.device("cuda", 0) if torch.cuda.is_available() else torch.device("mps")
        if backend == "tpu":
            import torch_xla.core.xla_model as xm

            return xm.xla_device()
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
            return "tpu" if self._xla_type == "TPU" else "gpu" if self._xla_type in ("CUDA", "GPU") else "cpu"
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
        if self._xla_type is not None:
            import torch_xla.core.xla_model as xm

            # Lazy tensors: mark_step compiles and launches the pending graph; wait for it to finish.
            xm.mark_step()
            xm.wait_device_ops()

    def seed(self, seed: int) -> None:
        torch.manual_seed(seed)

    def jit_unavailable(self) -> str:
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
