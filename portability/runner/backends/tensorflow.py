"""TensorFlow adapter: ``/CPU:0``, ``/GPU:0``, ``/TPU:0`` (the TPU system initialised first).

Soft device placement stays as TensorFlow ships it (on): an op with no kernel for the requested
device then runs on the host, and the output-device check reports ``fail:host_fallback``.
"""

from __future__ import annotations

import gc
import os
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from typing import Any

# Start-up chatter (oneDNN notices, CUDA probing) goes to the worker log anyway; keep warnings.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from portability.runner.backends import Compiled, no_compile_target  # noqa: E402
from portability.verdicts import first_line  # noqa: E402


def _tpu_devices() -> list[Any]:
    """Initialise a TPU system if one is attached (a TPU VM), else nothing."""
    if not os.environ.get("TPU_NAME") and not os.path.exists("/dev/accel0") and not os.path.exists("/dev/vfio"):
        return []
    try:
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu=os.environ.get("TPU_NAME", "local"))
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
        return list(tf.config.list_logical_devices("TPU"))
    except Exception:
        return []


#: Ops every TPU runs in float32: if TensorFlow refuses to lower one of them for XLA_TPU_JIT, its
#: TPU op registry is missing and every refusal it would report is false.
def _sanity_ops() -> dict[str, tuple[Callable[..., Any], list[Any]]]:
    f32 = tf.float32
    return {
        "Cast": (lambda x: tf.cast(x, tf.int32), [tf.TensorSpec([8], f32)]),
        "Greater": (lambda x, y: tf.greater(x, y), [tf.TensorSpec([8], f32)] * 2),
        "MatMul": (lambda a, b: tf.matmul(a, b), [tf.TensorSpec([128, 128], f32)] * 2),
        "Conv2D": (lambda x, w: tf.nn.conv2d(x, w, 1, "SAME"),
                   [tf.TensorSpec([1, 16, 16, 8], f32), tf.TensorSpec([3, 3, 8, 8], f32)]),
    }


def _tpu_registry_problem() -> str:
    """Why TensorFlow cannot compile for a TPU here, found by lowering the sanity ops for one."""
    for name, (fn, specs) in _sanity_ops().items():
        try:
            tf.function(fn, jit_compile=True).experimental_get_compiler_ir(*specs)(stage="hlo", platform_name="TPU")
        except Exception as exc:  # noqa: BLE001 - any refusal of a sanity op says the same
            return (f"tensorflow {tf.__version__} has no TPU op registry: {name} in float32, which every TPU runs, "
                    f"is refused for XLA_TPU_JIT ({first_line(str(exc), 160)}); the tensorflow-tpu build has one "
                    "but needs libtpu 0.0.21, which cannot share an environment with jax's libtpu 0.0.42 "
                    "(docs/tpu-compile-findings.md)")
    # The registry is there (a tensorflow-tpu environment), but its lowering stops before the TPU
    # compiler proper (stage="hlo"; "optimized_hlo" needs a TPU): not a compile, so not offered.
    return (f"tensorflow {tf.__version__} lowers the sanity ops for XLA_TPU_JIT, but without a TPU it stops "
            "before the TPU compiler (stage hlo only), which is not what tpu-compile means")


class Adapter:
    framework = "tensorflow"
    scope_calls = True

    def __init__(self, options: Mapping[str, Any] | None = None) -> None:
        # Made explicit from the variables ``portability.runner.cpus`` sets, so that ``threads`` reports
        # them; only possible before the runtime starts (listing logical devices starts it).
        for name, setter in (("TF_NUM_INTRAOP_THREADS", tf.config.threading.set_intra_op_parallelism_threads),
                             ("TF_NUM_INTEROP_THREADS", tf.config.threading.set_inter_op_parallelism_threads)):
            if os.environ.get(name, "").isdigit():
                setter(int(os.environ[name]))
        for gpu in tf.config.list_physical_devices("GPU"):
            # Grow on demand rather than taking the whole GPU at start-up.
            tf.config.experimental.set_memory_growth(gpu, True)
        self._names = {"cpu": "/CPU:0"}
        self._desc = {"cpu": "/CPU:0"}
        gpus = tf.config.list_logical_devices("GPU")
        if gpus:
            self._names["gpu"] = "/GPU:0"
            details = tf.config.experimental.get_device_details(tf.config.list_physical_devices("GPU")[0])
            self._desc["gpu"] = f"/GPU:0 {details.get('device_name', '')}".strip()
        if _tpu_devices():
            self._names["tpu"] = "/TPU:0"
            self._desc["tpu"] = "/TPU:0"
        self._tpu_registry = "not requested"
        if "tpu-compile" in (options or {}).get("backends", ()):
            self._tpu_registry = _tpu_registry_problem()

    def visible(self) -> dict[str, str]:
        return dict(self._desc)

    def unavailable_reason(self, backend: str) -> str:
        if backend == "gpu":
            if not tf.test.is_built_with_cuda():
                return f"tensorflow {tf.__version__} is a CPU-only build"
            return "tf.config.list_physical_devices('GPU') is empty"
        if backend == "tpu":
            return "no TPU system found (TPU_NAME unset and no /dev/accel*)"
        if backend == "tpu-compile":
            return self._tpu_registry
        if backend == "xla-cpu":
            return ("PyTorch through torch_xla only: TensorFlow compiles with XLA on its own devices "
                    "(--mode compiled: tf.function(jit_compile=True))")
        return "unknown backend"

    def versions(self) -> dict[str, str]:
        v = {"tensorflow": tf.__version__}
        build = tf.sysconfig.get_build_info()
        for key in ("cuda_version", "cudnn_version"):
            if build.get(key):
                v[key.replace("_version", "")] = str(build[key])
        return v

    def numerics(self) -> dict[str, Any]:
        return {
            "tf_tensor_float_32_execution": bool(tf.config.experimental.tensor_float_32_execution_enabled()),
            "tf_soft_device_placement": bool(tf.config.get_soft_device_placement()),
        }

    def threads(self) -> int | None:
        return int(tf.config.threading.get_intra_op_parallelism_threads()) or None

    def timing_settings(self) -> dict[str, Any]:
        return {}

    def device(self, backend: str) -> Any:
        return self._names[backend]

    def placement(self, device: Any) -> AbstractContextManager[Any]:
        return tf.device(device)

    def to_device(self, array: np.ndarray, device: Any) -> Any:
        with tf.device(device):
            # identity copies the host constant onto the device named by the scope.
            return tf.identity(tf.constant(array))

    def is_array(self, value: Any) -> bool:
        return isinstance(value, (tf.Tensor, tf.Variable)) and not isinstance(value, tf.RaggedTensor)

    def device_kind(self, array: Any) -> str:
        name = array.device or ""
        for token, kind in (("device:GPU", "gpu"), ("device:TPU", "tpu"), ("device:CPU", "cpu")):
            if token in name:
                return kind
        return name or "cpu"

    def dtype_name(self, array: Any) -> str:
        return str(array.dtype.name)

    def to_numpy(self, array: Any) -> np.ndarray:
        out = np.asarray(array.numpy())
        return out.astype(np.float32) if out.dtype.name == "bfloat16" else out

    def sync(self, output: Any) -> None:
        # Eager ops on the CPU are synchronous; on an accelerator wait for the device without
        # copying the output to the host.
        if len(self._names) > 1:
            tf.test.experimental.sync_devices()

    def seed(self, seed: int) -> None:
        tf.random.set_seed(seed)

    def host_fallbacks(self) -> list[str] | None:
        return None

    def jit_unavailable(self, backend: str) -> str:
        return ""

    def jit(self, thunk: Callable[[], Any], program: Callable[..., Any],
            args: Sequence[Any]) -> tuple[Callable[[], Any], dict[str, Any]]:
        # As users compile with XLA: the eager call traced into a graph, every op compiled by XLA
        # (no op may stay outside: jit_compile=True refuses what XLA cannot lower). Its tensors
        # are captured as inputs, not folded in as constants. Traced and compiled at the first call.
        compiled: Callable[[], Any] = tf.function(thunk, jit_compile=True)
        return compiled, {}

    def compile_targets(self) -> dict[str, dict[str, str]]:
        return {}

    def compile(self, backend: str, fn: Callable[..., Any], args: Sequence[np.ndarray]) -> Compiled:
        return no_compile_target(self.framework, backend)

    def free(self) -> None:
        gc.collect()
