"""The outcome taxonomy (README "Outcomes"; where each is decided: docs/architecture.md) and the per-function verdict.

Pure: no framework, no I/O. Case outcomes are strings so they can be stored and compared as
they are written in run files: ``pass``, ``slowdown``, ``fail:<category>``, ``unavailable``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

PASS = "pass"
SLOWDOWN = "slowdown"
UNAVAILABLE = "unavailable"
#: A compile-only backend's success: the case compiled for the target; nothing ran, so there are no
#: numerics and no timing, and it is never a pass.
COMPILED = "compiled"

#: Failure categories, in the order the summary lists them when counts tie.
FAILURE_CATEGORIES = (
    "not_implemented",
    # a compiler needs array values fixed that the call only knows at run time: an output shape
    # (``nonzero``, boolean masks) or Python control flow that depends on them
    "data_dependent",
    "dtype",
    "numerical",
    "host_fallback",
    "oom",
    "timeout",
    "crash",
    "missing",
    "error",
    # JAX in its default configuration (``--jax-x64 off``) computes a 64-bit case in 32 bits: the
    # framework's setting, the same on every backend, kept apart from the dtype support of hardware
    "downcast",
)

CASE_OUTCOMES = (PASS, SLOWDOWN, COMPILED, *(f"fail:{c}" for c in FAILURE_CATEGORIES), UNAVAILABLE)

# Function verdicts: the paper's definitions, plus "unavailable" for a function none of whose
# cases could run on the backend (that is not a verdict on the function, and never a pass), and
# "compiles" on a compile-only backend for a function all of whose cases compiled.
FN_PASS = "pass"
FN_SLOWDOWN = "slowdown"
FN_COMPILES = "compiles"
FN_PARTIAL = "partial_failure"
FN_COMPLETE = "complete_failure"
FN_UNAVAILABLE = "unavailable"
FUNCTION_VERDICTS = (FN_PASS, FN_SLOWDOWN, FN_COMPILES, FN_PARTIAL, FN_COMPLETE, FN_UNAVAILABLE)

#: How our categories map onto the paper's five (Mince et al. 2023, section 3).
PAPER_CATEGORY = {
    "not_implemented": "Not Implemented",
    "missing": "Not Implemented",
    "dtype": "Type Failure",
    "timeout": "Timeout",
    "oom": "Memory Issue",
    "numerical": "Float Precision Error",
}


def fail(category: str) -> str:
    if category not in FAILURE_CATEGORIES:
        raise ValueError(f"unknown failure category {category!r}; valid: {', '.join(FAILURE_CATEGORIES)}")
    return f"fail:{category}"


def is_success(outcome: str) -> bool:
    """Pass, slowdown or compiled: the case did what it was asked to on its backend."""
    return outcome in (PASS, SLOWDOWN, COMPILED)


def is_failure(outcome: str) -> bool:
    return outcome.startswith("fail:")


def category_of(outcome: str) -> str | None:
    """``"fail:dtype"`` -> ``"dtype"``; ``None`` for anything that is not a failure."""
    return outcome.split(":", 1)[1] if is_failure(outcome) else None


def function_verdict(outcomes: Iterable[str]) -> str:
    """The verdict of one function on one backend from the outcomes of its cases.

    Unavailable cases are left out; a function with no case left is ``unavailable``.
    """
    ran = [o for o in outcomes if o != UNAVAILABLE]
    if not ran:
        return FN_UNAVAILABLE
    failed = sum(1 for o in ran if is_failure(o))
    if failed == len(ran):
        return FN_COMPLETE
    if failed:
        return FN_PARTIAL
    if any(o == SLOWDOWN for o in ran):
        return FN_SLOWDOWN
    if any(o == COMPILED for o in ran):
        return FN_COMPILES
    return FN_PASS


def top_categories(outcomes: Iterable[str], n: int = 3) -> list[tuple[str, int]]:
    """The ``n`` most frequent failure categories among case outcomes, most frequent first."""
    counts = Counter(c for o in outcomes if (c := category_of(o)))
    order = {c: i for i, c in enumerate(FAILURE_CATEGORIES)}
    return sorted(counts.items(), key=lambda kv: (-kv[1], order.get(kv[0], 99)))[:n]
