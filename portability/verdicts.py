"""Outcome of a case from what happened: pure functions over exception text and check results.

Frameworks signal the same failure in many words. The rules below are matched in order against
``"<ExceptionType>: <message>"``; the first that matches wins. Each rule was written from a
message a framework really raises (``tests/test_classify.py`` holds them, one per row).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from portability import outcomes

# (category, regex). Order matters: memory first (an OOM inside an unimplemented path is still
# an OOM), then dtype refusals, then missing kernels/lowerings. DESIGN.md lists "not implemented
# for" under not_implemented, which is how torch words a kernel missing for a dtype
# ('"cholesky_cpu" not implemented for \'Half\''); explicit dtype refusals go to dtype.
_RULES: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (cat, re.compile(rx, re.IGNORECASE | re.DOTALL))
    for cat, rx in (
        ("oom", r"^(MemoryError|OutOfMemoryError|ResourceExhaustedError)\b"),
        ("oom", r"out of memory|\bOOM when allocating|RESOURCE_EXHAUSTED|can't allocate memory"
                r"|failed to allocate|not enough memory"),
        ("dtype", r"low precision dtypes? not supported|unsupported dtype|dtype .{0,40}(is )?not supported"
                  r"|not supported for (the )?(dtype|type)|does not support (dtype|the dtype|\w*float|half|bfloat)"
                  r"|expected scalar type|is not in the list of allowed values"
                  r"|(requires|only supports|expects|must be|must have) (either )?(a )?"
                  r"(floating|float|complex|integer|real)[- ]?(point )?(dtype|type|input|tensor)"
                  r"|not supported for the input types|dtypes? .{0,40}not (implemented|available)"
                  r"|unsupported (element|data) ?type|type .{0,30}not supported|does not accept dtype"
                  r"|input dtype must be|could not infer output dtype|to have the same dtype"
                  r"|requires tf\.(b?float|complex|u?int)\d*|components have incorrect types"
                  r"|does not support (matrices|tensors|inputs) of type|\bnot inexact\b"
                  r"|dtype=.{0,60} is not (handled|supported)|only .{0,40}inputs are supported"
                  r"|(doesn't|does not|only) handles? types? other than|must be (either )?(float|double)"
                  r"|cannot be converted to type \S+ without overflow"
                  r"|expected .{0,40}to be (half|float|double)[\w ,]{0,40}tensors? but got"
                  r"|the only supported types are|must have dtype in \["
                  r"|is only supported for (half|float|double|floating)"),
        ("not_implemented", r"^(NotImplementedError|UnimplementedError|NotFoundError: Could not find device)\b"),
        ("not_implemented", r"not implemented for|could not find device for node|no registered .{0,80}opkernel"
                            r"|could not run '[^']+' with arguments from the|mlir translation rule .{0,80}not found"
                            r"|\bUNIMPLEMENTED\b|not (yet )?implemented|no kernel image is available"
                            r"|is not supported on (this |the )?(device|platform|backend|cpu|gpu|tpu)"
                            r"|not currently (implemented|supported) for the \w+ device|lowering .{0,60}not"
                            r"|could not satisfy (explicit )?device specification|no opkernel was registered"
                            r"|not compiled with (cuda|rocm|xpu|mps)( enabled)?"
                            # a CPU-only torch build lacks the CUDA entry points themselves
                            r"|has no attribute '_cuda_\w+'"),
    )
)


def classify_exception(exc_type: str, message: str) -> str:
    """Failure category for an exception raised by framework code: one of
    ``outcomes.FAILURE_CATEGORIES`` (never ``timeout``/``crash``/``missing``/``host_fallback``,
    which come from the harness's own observations)."""
    text = f"{exc_type}: {message}"
    for category, rx in _RULES:
        if rx.search(text):
            return category
    return "error"


def first_line(message: str, limit: int = 300) -> str:
    """The first non-empty line of an error message, shortened: what run files keep."""
    for line in message.splitlines():
        if line.strip():
            line = line.strip()
            return line if len(line) <= limit else line[: limit - 1] + "…"
    return ""


@dataclass(frozen=True)
class Verdict:
    outcome: str
    message: str


def case_outcome(facts: Mapping[str, Any]) -> Verdict:
    """The outcome of one case from the facts a worker reported (see ``worker.run_case``).

    The order is the order of the checks in DESIGN.md: an exception decides alone; then where
    the output lives, its dtype, and its values. Slowdown is decided afterwards by the caller,
    which holds the timing reference (``timing.slowdown``).
    """
    terminated = facts.get("terminated")
    if terminated:
        return Verdict(outcomes.fail(terminated["reason"]), terminated["message"])

    error = facts.get("error")
    if error:
        stage = error.get("stage", "call")
        text = f"{error['type']}: {first_line(error['message'])}"
        if stage == "resolve":
            return Verdict(outcomes.fail("missing"), error["message"])
        if stage == "harness":  # our bug, not the framework's behaviour: never classified further
            return Verdict(outcomes.fail("error"), f"harness error: {text}")
        return Verdict(outcomes.fail(classify_exception(error["type"], error["message"])), text)

    requested = facts["backend"]
    used = facts.get("devices_used") or []
    wrong = sorted({d for d in used if d != requested})
    if wrong:
        return Verdict(
            outcomes.fail("host_fallback"),
            f"output on {', '.join(wrong)} instead of the requested {requested}",
        )

    dtype = facts.get("dtype_check")
    if dtype and not dtype["ok"]:
        return Verdict(
            outcomes.fail("dtype"),
            f"expected output dtype {dtype['expected']}, got {dtype['got']} (silently changed)",
        )

    numerics = facts.get("numerics")
    if numerics and not numerics["ok"]:
        return Verdict(outcomes.fail("numerical"), numerics["message"])

    return Verdict(outcomes.PASS, "")
