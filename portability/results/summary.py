"""Per framework x backend summary of a run: pure functions over case records."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from portability import outcomes


@dataclass
class Row:
    framework: str
    backend: str
    verdicts: dict[str, str] = field(default_factory=dict)  # api -> function verdict
    case_outcomes: list[str] = field(default_factory=list)
    timed_against: set[str] = field(default_factory=set)  # slowdown references seen

    def count(self, verdict: str) -> int:
        return sum(1 for v in self.verdicts.values() if v == verdict)

    @property
    def functions(self) -> int:
        return len(self.verdicts)

    @property
    def assessed(self) -> int:
        """Functions with at least one case that ran: the denominator of the percentages."""
        return self.functions - self.count(outcomes.FN_UNAVAILABLE)


def function_verdicts(records: Iterable[Mapping[str, Any]]) -> list[Row]:
    """Group cases by framework, backend and function; one ``Row`` per framework x backend."""
    grouped: dict[tuple[str, str], dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    refs: dict[tuple[str, str], set[str]] = defaultdict(set)
    for r in records:
        key = (r["framework"], r["backend"])
        grouped[key][r["api"]].append(r["outcome"])
        if r.get("ratio"):
            refs[key].add(r["ratio"].get("reference", "?"))
    rows = []
    for (fw, backend), fns in sorted(grouped.items()):
        row = Row(fw, backend, {api: outcomes.function_verdict(o) for api, o in sorted(fns.items())})
        row.case_outcomes = [o for os_ in fns.values() for o in os_]
        row.timed_against = refs[(fw, backend)]
        rows.append(row)
    return rows


def _pct(n: int, d: int) -> str:
    return f"{n} ({100 * n / d:.0f}%)" if d else str(n)


HEADER = ("framework", "backend", "functions", "pass", "slowdown", "partial", "complete", "unavailable",
          "most frequent failures (cases)")


def table(rows: Sequence[Row]) -> list[list[str]]:
    out = []
    for row in rows:
        d = row.assessed
        slow = _pct(row.count(outcomes.FN_SLOWDOWN), d) if row.timed_against else "n/a"
        top = ", ".join(f"{c} {n}" for c, n in outcomes.top_categories(row.case_outcomes)) or "-"
        out.append([
            row.framework, row.backend, str(row.functions), _pct(row.count(outcomes.FN_PASS), d), slow,
            _pct(row.count(outcomes.FN_PARTIAL), d), _pct(row.count(outcomes.FN_COMPLETE), d),
            str(row.count(outcomes.FN_UNAVAILABLE)), top,
        ])
    return out


def format_table(header: Sequence[str], body: Sequence[Sequence[str]]) -> list[str]:
    widths = [max(len(str(x)) for x in col) for col in zip(header, *body, strict=True)]
    lines = ["  ".join(str(h).ljust(w) for h, w in zip(header, widths, strict=True)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in body]
    return lines


def render(records: Sequence[Mapping[str, Any]]) -> list[str]:
    """The terminal summary: the table, then notes on what was not assessed."""
    rows = function_verdicts(records)
    if not rows:
        return ["no cases ran"]
    lines = format_table(HEADER, table(rows))
    untimed = sorted({f"{r.framework}/{r.backend}" for r in rows if not r.timed_against})
    if untimed:
        lines.append(
            "slowdown n/a: no timing reference for " + ", ".join(untimed)
            + " (a cpu run needs --baseline RUN_DIR; an accelerator run is timed against the host cpu)"
        )
    harness = [r for r in records if str(r.get("message", "")).startswith("harness error")]
    if harness:
        lines.append(f"harness errors: {len(harness)} cases (bugs in the suite, not the framework): "
                     + ", ".join(r["key"] for r in harness[:5]))
    unverified = sum(1 for r in records if str(r.get("check", "")).startswith("unverified"))
    if unverified:
        lines.append(f"{unverified} passing cases had no numerical reference (check: unverified)")
    return lines


def expectation_lines(records: Sequence[Mapping[str, Any]], expected: Mapping[str, str]) -> list[str]:
    """What ``--expectations`` made of the run: expected failures, new failures, fixed cases."""
    failing = [r for r in records if outcomes.is_failure(r["outcome"])]
    new = [r for r in failing if r["key"] not in expected]
    fixed = [r for r in records if r["key"] in expected and not outcomes.is_failure(r["outcome"])
             and r["outcome"] != outcomes.UNAVAILABLE]
    changed = [r for r in failing if r["key"] in expected and expected[r["key"]] != r["outcome"]]
    lines = [f"expectations: {len(failing) - len(new)} expected failures, {len(new)} new failures, "
             f"{len(fixed)} fixed (listed, now {'/'.join(sorted({r['outcome'] for r in fixed})) or 'pass'})"]
    lines += [f"  new failure: {r['key']}  {r['outcome']}" for r in new[:20]]
    lines += [f"  fixed: {r['key']}  was {expected[r['key']]}, now {r['outcome']}" for r in fixed[:20]]
    lines += [f"  still failing, for another reason: {r['key']}  was {expected[r['key']]}, now {r['outcome']}"
              for r in changed[:20]]
    return lines
