"""The output checks, pure NumPy: inputs cast to a case's dtype, outputs flattened to leaves and
compared with a reference within a dtype's tolerance, and the output dtype checked."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import ml_dtypes
import numpy as np

from portability.catalog import Keep, Kernel
from portability.runner import backends
from portability.vocabulary import DEFAULT_TOL

_NP_DTYPES: dict[str, Any] = {
    "float16": np.float16,
    "bfloat16": ml_dtypes.bfloat16,
    "float32": np.float32,
    "float64": np.float64,
    "complex64": np.complex64,
    "complex128": np.complex128,
    "int8": np.int8,
    "int16": np.int16,
    "int32": np.int32,
    "int64": np.int64,
    "uint8": np.uint8,
    "bool": np.bool_,
}


def cast_input(value: Any, dtype: str) -> tuple[Any, Any]:
    """(array for the framework, array for the reference) from one builder value.

    Floating arrays take the case dtype; the reference gets the same rounded values widened to
    float64/complex128 so input rounding is not counted as the function's error.
    """
    if isinstance(value, Keep):
        return np.asarray(value.value), np.asarray(value.value)
    if isinstance(value, np.ndarray) and value.dtype.kind in "fc":
        framework_arr = value.astype(_NP_DTYPES[dtype])
        if framework_arr.dtype.kind == "c" or (value.dtype.kind == "c" and dtype.startswith("complex")):
            ref = framework_arr.astype(np.complex128)
        elif dtype in ("float16", "bfloat16", "float32", "float64"):
            ref = framework_arr.astype(np.float64)
        else:
            ref = framework_arr
        return framework_arr, ref
    return value, value


def flatten(adapter: backends.Backend, out: Any) -> list[Any]:
    """Leaves of an output: framework arrays, NumPy arrays and Python scalars, in order."""
    if adapter.is_array(out):
        return [out]
    if isinstance(out, Mapping):
        return [leaf for k in sorted(out, key=str) for leaf in flatten(adapter, out[k])]
    if isinstance(out, (tuple, list)):
        return [leaf for item in out for leaf in flatten(adapter, item)]
    return [out]


def to_host(adapter: backends.Backend, leaves: list[Any]) -> list[Any]:
    return [adapter.to_numpy(x) if adapter.is_array(x) else x for x in leaves]


def host_leaves(out: Any) -> list[Any]:
    """Leaves of a NumPy/Python reference output, shaped like ``flatten``'s."""
    if isinstance(out, Mapping):
        return [leaf for k in sorted(out, key=str) for leaf in host_leaves(out[k])]
    if isinstance(out, (tuple, list)):
        return [leaf for item in out for leaf in host_leaves(item)]
    return [out]


def compare(out: list[Any], ref: list[Any], rtol: float, atol: float) -> dict[str, Any]:
    """Leafwise comparison: exact for integers/booleans, scaled tolerance for floats.

    A float leaf passes when |out - ref| <= rtol*|ref| + atol*max|ref| everywhere, with NaN
    and infinities where the reference has them (and only there).
    """
    if len(out) != len(ref):
        return {"ok": False, "message": f"output has {len(out)} parts, the reference {len(ref)}"}
    worst = 0.0
    for i, (a_raw, b_raw) in enumerate(zip(out, ref, strict=True)):
        a, b = np.asarray(a_raw), np.asarray(b_raw)
        where = f" (part {i})" if len(out) > 1 else ""
        if a.shape != b.shape:
            return {"ok": False, "message": f"shape {a.shape} differs from the reference's {b.shape}{where}"}
        if a.dtype.kind not in "fc" and b.dtype.kind not in "fc":
            if a.dtype.kind in "biu" or b.dtype.kind in "biu":
                if not np.array_equal(a, b):
                    n = int(np.sum(a != b))
                    return {"ok": False, "message": f"{n} of {a.size} values differ from the reference{where}"}
                continue
            if not np.array_equal(a, b) if a.dtype.kind != "O" else a.tolist() != b.tolist():
                return {"ok": False, "message": f"value differs from the reference{where}"}
            continue
        a = a.astype(np.complex128 if a.dtype.kind == "c" or b.dtype.kind == "c" else np.float64)
        b = b.astype(a.dtype)
        a_nan, b_nan = np.isnan(a), np.isnan(b)
        if np.any(a_nan & ~b_nan):
            n = int(np.sum(a_nan & ~b_nan))
            return {"ok": False, "message": f"NaN at {n} of {a.size} elements where the reference has none{where}"}
        if np.any(b_nan & ~a_nan):
            n = int(np.sum(b_nan & ~a_nan))
            return {"ok": False, "message": f"finite at {n} of {a.size} elements where the reference is NaN{where}"}
        finite = np.isfinite(b) & ~b_nan
        if np.any(~finite & ~b_nan & (a != b)):
            return {"ok": False, "message": f"infinities differ from the reference{where}"}
        if not np.any(finite):
            continue
        af, bf = a[finite], b[finite]
        scale = float(np.max(np.abs(bf)))
        err = np.abs(af - bf)
        bound = rtol * np.abs(bf) + atol * scale
        bad = err > bound
        # How much of the tolerance the worst element uses: <= 1 passes.
        used = float(np.max(err / np.maximum(bound, 1e-300)))
        worst = max(worst, used)
        if np.any(bad):
            return {
                "ok": False,
                "message": (
                    f"max |out-ref| = {float(np.max(err)):.3g} exceeds rtol {rtol:g} / atol {atol:g}x{scale:.3g}"
                    f" at {int(np.sum(bad))} of {bf.size} elements{where}"
                ),
                "tolerance_used": used,
            }
    return {"ok": True, "message": "", "tolerance_used": worst}


def unwrap(host: list[Any], leaves: list[Any]) -> Any:
    """A single-leaf output is handed to checks as the array itself, not a one-element list."""
    return host[0] if len(leaves) == 1 else host


def tolerance_dtype(kernel: Kernel, dtype: str, host: list[Any]) -> str:
    """The dtype whose tolerance applies: the case's, or for integer/bool cases with floating
    outputs (uint8 / 2 is float32) the output's, unless the kernel sets one for the case dtype."""
    if dtype in DEFAULT_TOL or dtype in kernel.tol:
        return dtype
    floating = [np.asarray(x).dtype.name for x in host if np.asarray(x).dtype.kind in "fc"]
    return floating[0] if floating else dtype


def reference_dtypes(dtype: str) -> list[str]:
    if dtype.startswith("complex"):
        return ["complex128", "complex64"]
    if dtype in ("float16", "bfloat16", "float32", "float64"):
        return ["float64", "float32"]
    return [dtype]


def dtype_check(kernel: Kernel, dtype: str, got: list[str]) -> dict[str, Any] | None:
    """Did the output keep the dtype it should have? Floating leaves only under "same"."""
    expected = kernel.expected_dtype(dtype)
    if expected is None or not got:
        return None
    if kernel.out_dtype == "same":
        if not dtype.startswith(("float", "bfloat", "complex")):
            return None
        got = [g for g in got if g.startswith(("float", "bfloat", "complex"))]
        if not got:
            return None
    wrong = sorted({g for g in got if g != expected})
    return {"ok": not wrong, "expected": expected, "got": ", ".join(wrong) or expected}


#: Each 64-bit dtype and the 32-bit one a framework that narrows it computes in.
NARROWED = {"float64": "float32", "complex128": "complex64", "int64": "int32", "uint64": "uint32"}


def is_downcast(expected: str, got: str) -> bool:
    """Whether ``got`` (a dtype_check's comma list) is ``expected`` narrowed to 32 bits and nothing else."""
    wrong = [g.strip() for g in got.split(",") if g.strip()]
    return bool(wrong) and NARROWED.get(expected) is not None and all(g == NARROWED[expected] for g in wrong)
