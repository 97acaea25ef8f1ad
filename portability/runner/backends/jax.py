"""JAX adapter: backends are JAX platforms, resolved with ``jax.devices('cpu'|'gpu'|'tpu')``.

Float64 stays off unless the user enables it (``JAX_ENABLE_X64=1``), as in a default JAX
install: a float64 case then comes back as float32, which the dtype check reports.
"""

from __future__ import annotations

import gc
import os
from contextlib import AbstractContextManager
from typing import Any

# Without this JAX takes 75% of a GPU's memory at start-up, leaving nothing to the other
# frameworks' workers on the same device. Set before jax is imported; a user's value wins.
os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")

import jax  # noqa: E402
import jaxlib  # noqa: E402
import numpy as np  # noqa: E402

_PLATFORM_KIND = {"cpu": "cpu", "gpu": "gpu", "cuda": "gpu", "rocm": "gpu", "METAL": "gpu", "tpu": "tpu"}


class Adapter:
    framework = "jax"
    scope_calls = True

    def __init__(self) -> None:
        self._devices: dict[str, Any] = {}
        self._reasons: dict[str, str] = {}
        for backend in ("cpu", "gpu", "tpu"):
            try:
                self._devices[backend] = jax.devices(backend)[0]
            except RuntimeError as exc:
                self._reasons[backend] = str(exc).splitlines()[0] if str(exc) else type(exc).__name__

    def visible(self) -> dict[str, str]:
        return {b: f"{d.platform}:{d.id} {d.device_kind}" for b, d in self._devices.items()}

    def unavailable_reason(self, backend: str) -> str:
        return self._reasons.get(backend, "unknown backend")

    def versions(self) -> dict[str, str]:
        v = {"jax": jax.__version__, "jaxlib": jaxlib.__version__}  # type: ignore[attr-defined]
        for backend, dev in self._devices.items():
            if backend != "cpu":
                v[f"{backend}_runtime"] = str(getattr(dev.client, "platform_version", ""))
        return v

    def numerics(self) -> dict[str, Any]:
        return {
            "jax_enable_x64": bool(getattr(jax.config, "jax_enable_x64")),  # noqa: B009 - untyped flag
            "jax_default_matmul_precision": getattr(jax.config, "jax_default_matmul_precision"),  # noqa: B009
        }

    def threads(self) -> int | None:
        return None

    def device(self, backend: str) -> Any:
        return self._devices[backend]

    def placement(self, device: Any) -> AbstractContextManager[Any]:
        return jax.default_device(device)

    def to_device(self, array: np.ndarray, device: Any) -> Any:
        return jax.device_put(array, device)

    def is_array(self, value: Any) -> bool:
        return isinstance(value, jax.Array)

    def device_kind(self, array: Any) -> str:
        kinds = {_PLATFORM_KIND.get(d.platform, d.platform) for d in array.devices()}
        return kinds.pop() if len(kinds) == 1 else "+".join(sorted(kinds))

    def dtype_name(self, array: Any) -> str:
        return str(array.dtype)

    def to_numpy(self, array: Any) -> np.ndarray:
        if jax.dtypes.issubdtype(array.dtype, jax.dtypes.prng_key):  # type: ignore[attr-defined]
            array = jax.random.key_data(array)  # typed keys have no NumPy form; their data does
        out = np.asarray(jax.device_get(array))
        return out.astype(np.float32) if out.dtype.name == "bfloat16" else out

    def sync(self, output: Any) -> None:
        jax.block_until_ready(output)

    def seed(self, seed: int) -> None:
        """JAX has no global random state: kernels build keys from ``ctx.seed``."""

    def free(self) -> None:
        gc.collect()
