"""The catalog format: one ``Kernel`` per public framework API, declared in ``kernels/<framework>/*.py``.

A catalog module defines ``KERNELS = [Kernel(...), ...]`` and must not import its framework at
module level: the pytest process collects the catalog without importing any framework; the
worker that runs a case hands the framework to the kernel's callables through ``Ctx``.

Input builders are NumPy functions of a seeded ``numpy.random.Generator``. Their floating-point
arrays are cast to the case's dtype on the way to the device (wrap an array in ``Keep`` to pass
it unchanged); the reference sees the same values, rounded to that dtype, in float64.
"""

from __future__ import annotations

import importlib.util
import re
import sys
import zlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

#: Frameworks, the prefix their qualified API names start with, and the module that prefix names.
FRAMEWORKS: dict[str, tuple[str, str]] = {
    "torch": ("torch", "torch"),
    "jax": ("jax", "jax"),
    "tensorflow": ("tf", "tensorflow"),
}
BACKENDS = ("cpu", "gpu", "tpu")
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
    #: None: the output dtype is not checked (the kernel's own check covers it).
    out_dtype: str | Mapping[str, str] | None = "same"
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
        if self.out_dtype is None:
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


def validate(kernel: Any, framework: str, where: str) -> None:
    """Raise ``CatalogError`` naming the entry for anything the harness could not run."""
    if not isinstance(kernel, Kernel):
        raise CatalogError(f"{where}: KERNELS holds {type(kernel).__name__!s}, not a Kernel")
    name = f"{where}: entry {kernel.api!r}"
    prefix = FRAMEWORKS[framework][0]
    if not isinstance(kernel.api, str) or not re.fullmatch(rf"{prefix}(\.[A-Za-z_][A-Za-z0-9_]*)+", kernel.api):
        raise CatalogError(f"{name}: api must be a qualified name starting with '{prefix}.'")
    if kernel.category not in CATEGORIES:
        raise CatalogError(f"{name}: unknown category {kernel.category!r}; valid: {', '.join(CATEGORIES)}")
    if isinstance(kernel.dtypes, str) or not kernel.dtypes:
        raise CatalogError(f"{name}: dtypes must be a non-empty sequence of dtype names")
    for d in kernel.dtypes:
        if d not in DTYPES:
            raise CatalogError(f"{name}: unknown dtype {d!r}; valid: {', '.join(DTYPES)}")
    if len(set(kernel.dtypes)) != len(kernel.dtypes):
        raise CatalogError(f"{name}: dtypes repeat")
    for vname, builder in kernel.variants.items():
        if not callable(builder):
            raise CatalogError(f"{name}: input builder {vname!r} is not callable")
        if not re.fullmatch(r"[A-Za-z0-9_.]+", vname):
            raise CatalogError(f"{name}: variant name {vname!r} may hold only letters, digits, '_' and '.'")
    for attr in ("call", "setup", "reference", "check", "canonical"):
        value = getattr(kernel, attr)
        if value is not None and not callable(value):
            raise CatalogError(f"{name}: {attr} is not callable")
    if kernel.call is not None and kernel.setup is not None:
        raise CatalogError(f"{name}: give call or setup, not both")
    if kernel.random and kernel.check is None:
        raise CatalogError(f"{name}: a random kernel needs a property check (check=...)")
    for d in kernel.tol:
        if d not in DTYPES:
            raise CatalogError(f"{name}: tolerance for unknown dtype {d!r}")
    if kernel.device_only and kernel.device_only not in DEVICE_KINDS:
        raise CatalogError(f"{name}: device_only {kernel.device_only!r}; valid: {', '.join(DEVICE_KINDS)}")
    if kernel.decile is not None and kernel.decile not in range(10, 101, 10):
        raise CatalogError(f"{name}: decile must be one of 10, 20, ..., 100")


def framework_of(path: Path) -> str | None:
    """``kernels/torch/linalg.py`` -> ``"torch"``; None for files outside a catalog folder."""
    if path.suffix != ".py" or path.name.startswith("_") or path.parent.parent.name != "kernels":
        return None
    fw = path.parent.name
    return fw if fw in FRAMEWORKS else None


def load_module(path: Path) -> ModuleType:
    """Import a catalog file by path under a private name (``kernels`` is not a package)."""
    framework = framework_of(path)
    modname = f"_portability_kernels.{framework}.{path.stem}"
    if modname in sys.modules and getattr(sys.modules[modname], "__file__", None) == str(path):
        return sys.modules[modname]
    spec = importlib.util.spec_from_file_location(modname, path)
    if spec is None or spec.loader is None:
        raise CatalogError(f"{path}: cannot be imported")
    module = importlib.util.module_from_spec(spec)
    sys.modules[modname] = module
    before = {m for _, m in FRAMEWORKS.values() if m in sys.modules}
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        del sys.modules[modname]
        raise CatalogError(f"{path}: import failed: {type(exc).__name__}: {exc}") from exc
    imported = sorted(m for _, m in FRAMEWORKS.values() if m in sys.modules and m not in before)
    if imported:
        # The pytest process must stay free of frameworks (their runtimes belong in the workers).
        del sys.modules[modname]
        raise CatalogError(f"{path}: imports {imported[0]} at module level; reach it through ctx.fw / ctx.fn")
    return module


def load_kernels(path: Path) -> list[Kernel]:
    """The validated kernels of one catalog file."""
    framework = framework_of(path)
    if framework is None:
        raise CatalogError(f"{path}: not a catalog file (expected kernels/<framework>/<name>.py)")
    module = load_module(path)
    kernels = getattr(module, "KERNELS", None)
    if not isinstance(kernels, (list, tuple)):
        raise CatalogError(f"{path}: defines no KERNELS list")
    seen: set[str] = set()
    for k in kernels:
        validate(k, framework, str(path))
        if k.api in seen:
            raise CatalogError(f"{path}: entry {k.api!r} appears twice")
        seen.add(k.api)
    return list(kernels)


def find_kernel(path: Path, api: str) -> Kernel:
    for k in load_kernels(path):
        if k.api == api:
            return k
    raise CatalogError(f"{path}: no entry {api!r}")


@dataclass(frozen=True)
class Case:
    """One kernel x dtype x input variant x backend: one pytest item, one line in cases.jsonl."""

    path: str
    framework: str
    api: str
    dtype: str
    variant: str
    backend: str

    @property
    def param(self) -> str:
        parts = [self.dtype] + ([self.variant] if self.variant != "default" else []) + [self.backend]
        return "-".join(parts)


def cases(
    path: Path, kernel: Kernel, backends: Sequence[str], dtypes: Sequence[str] | None
) -> Iterator[Case]:
    """The cases of a kernel, in a stable order: dtype, then variant, then backend."""
    framework = framework_of(path)
    assert framework is not None
    for dtype in kernel.dtypes:
        if dtypes and dtype not in dtypes:
            continue
        for variant in kernel.variants:
            for backend in backends:
                yield Case(str(path), framework, kernel.api, dtype, variant, backend)
