"""Compare two stored runs case by case (``portability compare BASE NEW``), asv style.

Pure: reads case records, returns changes (the rules are ``verdicts.change``). Each case key
present in either run gets one change:

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

from portability import verdicts
from portability.records import CaseRecord
from portability.verdicts import (
    CHANGED,
    CHANGES,
    DEFAULT_BASELINE_NOISE,
    DEFAULT_THRESHOLD,
    FASTER,
    FIXED,
    INTRODUCED,
    NOT_COMPARABLE,
    NOT_SIGNIFICANT,
    REGRESSIONS,
    SLOWER,
    UNCHANGED,
    run_conditions,
    timing_mismatch,
)

__all__ = ["CHANGED", "CHANGES", "FASTER", "FIXED", "INTRODUCED", "NOT_COMPARABLE", "NOT_SIGNIFICANT", "REGRESSIONS",
           "SLOWER", "UNCHANGED", "CaseChange", "compare_case", "compare_runs", "counts", "from_against", "regressions",
           "render", "render_against",
           "run_conditions", "timing_mismatch"]

@dataclass(frozen=True)
class CaseChange:
    key: str
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


def compare_case(base: CaseRecord | None, new: CaseRecord | None, threshold: float, noise: float,
                 timing_mismatch: str | None = None) -> CaseChange:
    """The change of one case (the rule is ``verdicts.change``)."""
    any_case = new or base
    assert any_case is not None
    kind, detail, r = verdicts.change(base, new, threshold, noise, timing_mismatch)
    return CaseChange(
        key=any_case["key"], framework=any_case["framework"], api=any_case["api"], dtype=any_case["dtype"],
        backend=any_case["backend"], change=kind, base=base["outcome"] if base else None,
        new=new["outcome"] if new else None, detail=detail,
        ratio=r.ratio if r else None, ci_low=r.low if r else None, ci_high=r.high if r else None,
    )


def compare_runs(
    base_cases: Iterable[CaseRecord], new_cases: Iterable[CaseRecord], *,
    threshold: float = DEFAULT_THRESHOLD, noise: float = DEFAULT_BASELINE_NOISE, timing_mismatch: str | None = None,
) -> list[CaseChange]:
    """One change per case key in either run, ordered by key. An older run's cases carry the key
    its migration gave them, so a kernel that moved to another catalog file still matches."""
    base = {c["key"]: c for c in base_cases}
    new = {c["key"]: c for c in new_cases}
    return [compare_case(base.get(i), new.get(i), threshold, noise, timing_mismatch)
            for i in sorted(set(base) | set(new))]


def from_against(records: Iterable[CaseRecord]) -> list[CaseChange]:
    """The changes an ``--against`` run drew case by case (A: the record, B: its ``against``)."""
    out = []
    for r in records:
        change, other = r.get("change"), r.get("against")
        if change is None or other is None:
            continue
        out.append(CaseChange(key=r["key"], framework=r["framework"], api=r["api"], dtype=r["dtype"],
                              backend=r["backend"], change=change["change"], base=r["outcome"],
                              new=other.get("outcome"), detail=change["detail"], ratio=change["ratio"],
                              ci_low=change["ci_low"], ci_high=change["ci_high"]))
    return sorted(out, key=lambda c: c.key)


#: What the end of an ``--against`` run lists case by case; the rest is counted only.
LISTED = (INTRODUCED, FIXED, CHANGED, SLOWER, FASTER)


def render_against(changes: list[CaseChange], a_label: str, b_label: str) -> list[str]:
    """The terminal lines of an ``--against`` run: counts, then each case that changed for certain."""
    lines = render([c for c in changes if c.change in LISTED], a_label, b_label)
    lines[0] = f"B {b_label} against A {a_label}: {len(changes)} cases"
    lines[1] = "  " + ", ".join(f"{k} {v}" for k, v in counts(changes).items())
    return lines


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
    for c in sorted(shown, key=lambda c: (CHANGES.index(c.change), c.key)):
        lines.append(f"{c.change:<{width}}  {c.key}  {c.base or '-'} -> {c.new or '-'}  {c.detail}"[:400].rstrip())
    return lines
