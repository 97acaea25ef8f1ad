"""The suite's words: frameworks, backends, device kinds, input sizes, dtypes and categories.

Every layer reads these; this module imports nothing of the project's.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Framework:
    """One framework the suite knows: its catalog folder name, the prefix its qualified API names
    start with (``tf.linalg.eig``), the module that prefix names, and its adapter module (imported
    only in a worker: ``portability.runner.backends``)."""

    name: str
    prefix: str
    module: str
    adapter: str


#: The one table of frameworks; its order is the order of every listing.
FRAMEWORKS: dict[str, Framework] = {
    f.name: f for f in (
        Framework("torch", "torch", "torch", "portability.runner.backends.torch"),
        Framework("jax", "jax", "jax", "portability.runner.backends.jax"),
        Framework("tensorflow", "tf", "tensorflow", "portability.runner.backends.tensorflow"),
    )
}
#: ``xla-cpu`` is PyTorch through torch_xla on the host CPU (``PJRT_DEVICE=CPU``): every op lowered
#: by XLA as on a TPU and run on the CPU, ops without a lowering falling back to the host as they do
#: on a TPU. It is not a TPU: it says which ops a TPU run cannot lower, not how a TPU computes.
BACKENDS = ("cpu", "gpu", "tpu", "tpu-compile", "xla-cpu")
#: The hardware each backend's work runs on: a backend on the host shares its CPUs (``pytest -n``
#: needs no device per worker for it).
RUNS_ON: dict[str, str] = {"cpu": "cpu", "gpu": "gpu", "tpu": "tpu", "tpu-compile": "cpu", "xla-cpu": "cpu"}
#: Backends that compile each case for a device without running it, and the device kind they target.
#: Their cases are never shown as runs on that device: nothing ran.
COMPILE_ONLY: dict[str, str] = {"tpu-compile": "tpu"}
#: The TPU ``--backend=tpu-compile`` compiles for by default: one v5e chip ("TPU v5 lite"), the TPU a
#: user can rent today one chip at a time (Cloud TPU v5litepod-1, Colab), and one chip because a case
#: runs on one device. Any name ``jax.experimental.topologies`` accepts can be given (``v4:2x2x1``...).
DEFAULT_TPU_TOPOLOGY = "v5e:1x1"
#: Execution modes: ``eager`` calls the API as it is written; ``compiled`` compiles the whole call
#: as each framework's users do (``torch.compile(fullgraph=True)``, ``jax.jit``,
#: ``tf.function(jit_compile=True)``) and times it against eager in the same worker.
MODES = ("eager", "compiled")
DEFAULT_MODE = "eager"
#: Device kinds an API can be tied to (``Kernel.device_only``).
DEVICE_KINDS = ("cuda", "rocm", "xpu", "mps", "tpu")
#: Input sizes: ``small`` is quick (CI, smoke tests); ``medium`` (the default) is large enough that
#: device compute, not dispatch, dominates a case: around 1M elements or 512x512 matrices.
SIZES = ("small", "medium")
DEFAULT_SIZE = "medium"
FLOAT_DTYPES = ("float16", "bfloat16", "float32", "float64")
DTYPES = (*FLOAT_DTYPES, "complex64", "complex128", "int8", "int16", "int32", "int64", "uint8", "bool")
#: Default tolerances (rtol, atol) per dtype. atol is relative to the largest reference magnitude
#: of the output, so the check is scale-free: |out - ref| <= rtol*|ref| + atol*max|ref|.
DEFAULT_TOL: dict[str, tuple[float, float]] = {
    "float16": (1e-2, 2e-3),
    "bfloat16": (4e-2, 1e-2),
    "float32": (1e-4, 1e-5),
    "float64": (1e-7, 1e-10),
    "complex64": (1e-4, 1e-5),
    "complex128": (1e-7, 1e-10),
}
CATEGORIES = (
    "creation", "elementwise", "reduction", "linalg", "fft", "special", "random", "nn", "module",
    "optimizer", "distribution", "shape", "indexing", "control", "io", "utility", "autodiff", "graph",
)
