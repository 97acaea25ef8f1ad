"""Finding, importing and validating catalog files (``kernels/<framework>/<category>.py``)."""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

from portability.catalog.kernel import CatalogError, Kernel, Unchecked
from portability.vocabulary import CATEGORIES, DEVICE_KINDS, DTYPES, FRAMEWORKS


def validate(kernel: Any, framework: str, where: str) -> None:
    """Raise ``CatalogError`` naming the entry for anything the harness could not run."""
    if not isinstance(kernel, Kernel):
        raise CatalogError(f"{where}: KERNELS holds {type(kernel).__name__!s}, not a Kernel")
    name = f"{where}: entry {kernel.api!r}"
    prefix = FRAMEWORKS[framework].prefix
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
    if kernel.out_dtype is None:
        raise CatalogError(f"{name}: out_dtype=None would switch the output dtype check off silently; "
                           "give the dtype, same(...), or unchecked('why')")
    if isinstance(kernel.out_dtype, Unchecked) and not kernel.out_dtype.reason.strip():
        raise CatalogError(f"{name}: unchecked() needs the reason the output dtype is not checked")
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
    before = {f.module for f in FRAMEWORKS.values() if f.module in sys.modules}
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        del sys.modules[modname]
        raise CatalogError(f"{path}: import failed: {type(exc).__name__}: {exc}") from exc
    imported = sorted(f.module for f in FRAMEWORKS.values() if f.module in sys.modules and f.module not in before)
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
