"""Compare two stored runs case by case (``portability compare BASE NEW``), asv style.

Pure: reads case records, returns changes. Each case id present in either run gets one change:

- ``failure introduced``: passed (or slowed down) in BASE, fails in NEW;
- ``failure fixed``: failed in BASE, passes in NEW;
- ``failure changed``: fails in both, for another reason (``fail:dtype`` -> ``fail:not_implemented``);
- ``slower`` / ``faster``: passes in both, and the bootstrap interval of the median time ratio
  NEW/BASE, computed from the stored samples, lies beyond threshold x noise (or below its inverse);
- ``not significant``: passes in both, the times differ, but not beyond that;
- ``unchanged``: the same outcome (failures with the same category), no significant time change;
- ``not comparable``: the case is in one run only, unavailable in either, lacks timing samples,
  or the runs' timings were taken under different conditions, input sizes or CPU threads per
  worker (``timing_mismatch``; outcomes still compare, times do not).

A regression (what ``--fail-on regression`` exits non-zero on) is a failure introduced or a case
slower beyond the threshold. The noise factor is the machine's run-to-run timing noise, the same
allowance as ``--baseline-noise`` (identical runs differ by up to 2x per case on a noisy VM).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

from portability import outcomes
from portability.options import DEFAULT_BASELINE_NOISE, DEFAULT_THRESHOLD
from portability.runner import timing

INTRODUCED = "failure introduced"
FIXED = "failure fixed"
CHANGED = "failure changed"
SLOWER = "slower"
FASTER = "faster"
NOT_SIGNIFICANT = "not significant"
UNCHANGED = "unchanged"
NOT_COMPARABLE = "not comparable"
CHANGES = (INTRODUCED, FIXED, CHANGED, SLOWER, FASTER, NOT_SIGNIFICANT, UNCHANGED, NOT_COMPARABLE)
REGRESSIONS = (INTRODUCED, SLOWER)


@dataclass(frozen=True)
class CaseChange:
    id: str
    framework: str
    api: str
    dtype: str
    backend: str
    change: str
    base: str | None  # outcome in BASE (None: not there)
    new: str | None
    detail: str
    ratio: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def run_conditions(meta: dict[str, Any]) -> dict[str, Any]:
    """What a run's timings depend on besides the code: its input size and CPU threads per worker.
    Runs from before ``--cpu-threads`` existed used the frameworks' own thread counts (``all``)."""
    opts = meta.get("options") or {}
    threads = opts.get("cpu_threads", None)
    return {"size": opts.get("size", "medium"), "cpu threads": "all" if threads is None else threads}


def timing_mismatch(base_meta: dict[str, Any], new_meta: dict[str, Any]) -> str | None:
    """Why the two runs' times cannot be compared (one line), or None when they can."""
    base, new = run_conditions(base_meta), run_conditions(new_meta)
    differ = [f"{k} {base[k]} vs {new[k]}" for k in base if base[k] != new[k]]
    return f"timed under different conditions: {', '.join(differ)}" if differ else None


def _samples(case: dict[str, Any]) -> list[float] | None:
    return (case.get("timing") or {}).get("samples_s") or None


def compare_case(base: dict[str, Any] | None, new: dict[str, Any] | None, threshold: float, noise: float,
                 timing_mismatch: str | None = None) -> CaseChange:
    any_case = new or base
    assert any_case is not None
    b: str | None = (base or {}).get("outcome")
    n: str | None = (new or {}).get("outcome")

    def change(kind: str, detail: str, r: timing.Ratio | None = None) -> CaseChange:
        return CaseChange(
            id=any_case["id"], framework=any_case["framework"], api=any_case["api"], dtype=any_case["dtype"],
            backend=any_case["backend"], change=kind, base=b, new=n, detail=detail,
            ratio=r.ratio if r else None, ci_low=r.low if r else None, ci_high=r.high if r else None,
        )

    if base is None or new is None or b is None or n is None:
        return change(NOT_COMPARABLE, "only in NEW" if base is None else "only in BASE")
    if outcomes.UNAVAILABLE in (b, n):
        return change(NOT_COMPARABLE, "backend unavailable in one run")
    b_fail, n_fail = outcomes.is_failure(b), outcomes.is_failure(n)
    if n_fail and not b_fail:
        return change(INTRODUCED, str(new.get("message") or n))
    if b_fail and not n_fail:
        return change(FIXED, f"was {b}: {base.get('message') or ''}".rstrip(": "))
    if b_fail and n_fail:
        return change(CHANGED, f"{b} -> {n}: {new.get('message') or ''}") if b != n else change(UNCHANGED, "")
    # passes (or slowdowns) on both sides: compare times
    if timing_mismatch:
        return change(NOT_COMPARABLE, timing_mismatch)
    ts, bs = _samples(new), _samples(base)
    if not ts or not bs:
        return change(NOT_COMPARABLE, "no timing samples")
    r = timing.ratio_ci(ts, bs)
    bar = threshold * noise
    text = f"{r.ratio:.2f}x (95% CI {r.low:.2f}-{r.high:.2f}x)"
    if r.low > bar:
        return change(SLOWER, f"{text} slower, beyond {bar:g}x", r)
    if r.high < 1 / bar:
        return change(FASTER, f"{text}, faster beyond 1/{bar:g}", r)
    if r.low > 1 or r.high < 1:
        return change(NOT_SIGNIFICANT, f"{text}, within the noise allowance {bar:g}x", r)
    if b == n:
        return change(UNCHANGED, "", r)
    return change(NOT_SIGNIFICANT, f"{b} -> {n}, {text}", r)


def compare_runs(
    base_cases: Iterable[dict[str, Any]], new_cases: Iterable[dict[str, Any]], *,
    threshold: float = DEFAULT_THRESHOLD, noise: float = DEFAULT_BASELINE_NOISE, timing_mismatch: str | None = None,
) -> list[CaseChange]:
    """One change per case id in either run, ordered by id."""
    base = {c["id"]: c for c in base_cases}
    new = {c["id"]: c for c in new_cases}
    return [compare_case(base.get(i), new.get(i), threshold, noise, timing_mismatch)
            for i in sorted(set(base) | set(new))]


def counts(changes: Iterable[CaseChange]) -> dict[str, int]:
    found = Counter(c.change for c in changes)
    return {k: found.get(k, 0) for k in CHANGES}


def regressions(changes: Iterable[CaseChange]) -> list[CaseChange]:
    return [c for c in changes if c.change in REGRESSIONS]


def render(changes: list[CaseChange], base_label: str, new_label: str, show_unchanged: bool = False) -> list[str]:
    """The terminal table: counts, then every change that is not 'unchanged'."""
    lines = [f"compare BASE {base_label} -> NEW {new_label}: {len(changes)} cases"]
    lines.append("  " + ", ".join(f"{k} {v}" for k, v in counts(changes).items()))
    shown = [c for c in changes if show_unchanged or c.change != UNCHANGED]
    if not shown:
        lines.append("no changes")
        return lines
    width = max(len(c.change) for c in shown)
    for c in sorted(shown, key=lambda c: (CHANGES.index(c.change), c.id)):
        lines.append(f"{c.change:<{width}}  {c.id}  {c.base or '-'} -> {c.new or '-'}  {c.detail}"[:400].rstrip())
    return lines
