"""Per framework x target summary of a run: pure functions over case records.

A target is a backend and an execution mode: ``cpu`` (eager, as every run before modes) or
``cpu compiled``. The portability view compares each eager backend with the reference backend;
the modes view compares each backend's compiled cases with its eager ones.
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from portability import outcomes
from portability.vocabulary import BACKENDS, COMPILE_ONLY, DEFAULT_MODE, MODES


@dataclass
class Row:
    framework: str
    backend: str
    verdicts: dict[str, str] = field(default_factory=dict)  # api -> function verdict
    case_outcomes: list[str] = field(default_factory=list)
    timed_against: set[str] = field(default_factory=set)  # slowdown references seen
    #: APIs tied to one kind of device (``torch.cuda.*``): their verdicts, counted apart from the rest
    device_specific: dict[str, str] = field(default_factory=dict)

    def count(self, verdict: str) -> int:
        return sum(1 for v in self.verdicts.values() if v == verdict)

    @property
    def functions(self) -> int:
        return len(self.verdicts)

    @property
    def assessed(self) -> int:
        """Functions with at least one case that ran: the denominator of the percentages."""
        return self.functions - self.count(outcomes.FN_UNAVAILABLE)


def target(record: Mapping[str, Any]) -> str:
    """Where and how a case ran: its backend, followed by its mode where that is not eager."""
    mode = record.get("mode") or DEFAULT_MODE
    return record["backend"] if mode == DEFAULT_MODE else f"{record['backend']} {mode}"


def split_target(name: str) -> tuple[str, str]:
    """``"cpu compiled"`` -> ``("cpu", "compiled")``; ``"cpu"`` -> ``("cpu", "eager")``."""
    backend, _, mode = name.partition(" ")
    return backend, mode or DEFAULT_MODE


def target_order(name: str) -> tuple[int, int]:
    backend, mode = split_target(name)
    return (BACKENDS.index(backend) if backend in BACKENDS else len(BACKENDS),
            MODES.index(mode) if mode in MODES else len(MODES))


def function_verdicts(records: Iterable[Mapping[str, Any]]) -> list[Row]:
    """Group cases by framework, target and function; one ``Row`` per framework x target (``Row.backend``
    names the target). Functions tied to one kind of device are kept apart in ``Row.device_specific``."""
    grouped: dict[tuple[str, str], dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    refs: dict[tuple[str, str], set[str]] = defaultdict(set)
    tied: set[str] = set()
    for r in records:
        key = (r["framework"], target(r))
        grouped[key][r["api"]].append(r["outcome"])
        if r.get("ratio"):
            refs[key].add(r["ratio"].get("reference", "?"))
        if r.get("device_only"):
            tied.add(r["api"])
    rows = []
    for (fw, backend), fns in sorted(grouped.items(), key=lambda kv: (kv[0][0], target_order(kv[0][1]))):
        verdicts = {api: outcomes.function_verdict(o) for api, o in sorted(fns.items())}
        row = Row(fw, backend, {a: v for a, v in verdicts.items() if a not in tied})
        row.device_specific = {a: v for a, v in verdicts.items() if a in tied}
        row.case_outcomes = [o for api, os_ in fns.items() if api not in tied for o in os_]
        row.timed_against = refs[(fw, backend)]
        rows.append(row)
    return rows


def _pct(n: int, d: int) -> str:
    return f"{n} ({100 * n / d:.0f}%)" if d else str(n)


HEADER = ("framework", "target", "functions", "pass (compiles)", "slowdown", "partial", "complete", "unavailable",
          "device-specific", "most frequent failures (cases)")


def table(rows: Sequence[Row]) -> list[list[str]]:
    """One line per framework x backend. On a compile-only backend the pass column counts functions
    that compile (``compiles``), marked so, and slowdown is n/a: nothing ran."""
    out = []
    for row in rows:
        d = row.assessed
        compile_only = split_target(row.backend)[0] in COMPILE_ONLY
        slow = _pct(row.count(outcomes.FN_SLOWDOWN), d) if row.timed_against and not compile_only else "n/a"
        good = _pct(row.count(outcomes.FN_COMPILES), d) + " compile" if compile_only else _pct(
            row.count(outcomes.FN_PASS), d)
        top = ", ".join(f"{c} {n}" for c, n in outcomes.top_categories(row.case_outcomes)) or "-"
        out.append([
            row.framework, row.backend, str(row.functions), good, slow,
            _pct(row.count(outcomes.FN_PARTIAL), d), _pct(row.count(outcomes.FN_COMPLETE), d),
            str(row.count(outcomes.FN_UNAVAILABLE)), str(len(row.device_specific)), top,
        ])
    return out


@dataclass
class PortabilityRow:
    """One framework on one target backend against the reference backend, function by function over the
    cases (input variant x dtype) both ran: a **portability failure** fails on the target in a case that
    passes on the reference; a function that fails on the target only where the reference fails too
    **fails on both**, a limitation of the framework. Device-specific APIs are left out."""

    framework: str
    target: str
    reference: str
    compared: set[str] = field(default_factory=set)  # functions with a case that ran on both
    portability: dict[str, list[str]] = field(default_factory=dict)  # api -> categories of its failing cases
    both: dict[str, list[str]] = field(default_factory=dict)
    frequency: dict[str, int] = field(default_factory=dict)
    #: time ratios (target / reference) of its compared cases, where they were timed against the
    #: reference in the same worker (a compiled case against its eager call)
    time_ratios: list[float] = field(default_factory=list)

    @property
    def time_reference(self) -> str | None:
        """The ratio reference that times a target against this reference in one worker."""
        return "eager call" if split_target(self.target)[0] == self.reference else None

    @property
    def median_ratio(self) -> float | None:
        return statistics.median(self.time_ratios) if self.time_ratios else None

    def categories(self) -> list[tuple[str, int]]:
        """Failure categories of the portability failures, by functions, most frequent first."""
        counts = Counter(c for cats in self.portability.values() for c in set(cats))
        order = {c: i for i, c in enumerate(outcomes.FAILURE_CATEGORIES)}
        return sorted(counts.items(), key=lambda kv: (-kv[1], order.get(kv[0], 99)))

    def examples(self, apis: Iterable[str], n: int = 3) -> list[str]:
        """The most used of ``apis`` (usage frequency, then name)."""
        return sorted(apis, key=lambda a: (-self.frequency.get(a, 0), a))[:n]


def reference_backend(records: Iterable[Mapping[str, Any]], backends: Sequence[str] | None = None) -> str | None:
    """The run's reference: the first of its ``--backend`` list, else cpu where it ran, else the first backend."""
    if backends:
        return backends[0]
    seen = sorted({r["backend"] for r in records}, key=target_order)
    return seen[0] if seen else None


def compare_targets(records: Sequence[Mapping[str, Any]], pairs: Iterable[tuple[str, str]]) -> list[PortabilityRow]:
    """For each (target, reference) pair of targets, every framework with cases on the target, compared
    case by case (input variant x dtype) with the reference."""
    by: dict[tuple[str, str, str], dict[tuple[str, str], Mapping[str, Any]]] = defaultdict(dict)
    tied = {r["api"] for r in records if r.get("device_only")}
    frequency: dict[str, int] = {}
    for r in records:
        frequency[r["api"]] = max(frequency.get(r["api"], 0), int(r.get("frequency") or 0))
        by[(r["framework"], target(r), r["api"])][(r.get("variant") or "default", r.get("dtype", ""))] = r
    rows: dict[tuple[str, str], PortabilityRow] = {}
    for tgt, reference in pairs:
        for fw in sorted({f for f, t, _ in by if t == tgt}):
            row = rows.setdefault((fw, tgt), PortabilityRow(fw, tgt, reference))
            row.frequency = frequency
            for (f, t, api), cases in by.items():
                if f != fw or t != tgt or api in tied:
                    continue
                ref = by.get((fw, reference, api), {})
                for case, record in cases.items():
                    before = ref.get(case)
                    outcome = record["outcome"]
                    if before is None or outcomes.UNAVAILABLE in (before["outcome"], outcome):
                        continue
                    row.compared.add(api)
                    ratio = record.get("ratio") or {}
                    if ratio.get("reference") == row.time_reference and isinstance(ratio.get("ratio"), (int, float)):
                        row.time_ratios.append(float(ratio["ratio"]))
                    category = outcomes.category_of(outcome)
                    if category is None:
                        continue
                    bucket = row.portability if outcomes.is_success(before["outcome"]) else row.both
                    bucket.setdefault(api, []).append(category)
            for api in row.portability:
                row.both.pop(api, None)
    return sorted(rows.values(), key=lambda r: (r.framework, target_order(r.target)))


def portability_view(records: Sequence[Mapping[str, Any]], reference: str) -> list[PortabilityRow]:
    """Every framework x eager backend other than ``reference``, compared case by case with it."""
    targets = {target(r) for r in records if (r.get("mode") or DEFAULT_MODE) == DEFAULT_MODE}
    return compare_targets(records, [(t, reference) for t in sorted(targets - {reference}, key=target_order)])


def modes_view(records: Sequence[Mapping[str, Any]]) -> list[PortabilityRow]:
    """Every framework x backend's compiled cases against its eager ones: a function that passes eager
    and fails compiled is a portability failure of the mode; its time ratios are compiled / eager."""
    compiled = {target(r) for r in records if (r.get("mode") or DEFAULT_MODE) != DEFAULT_MODE}
    return compare_targets(records, [(t, split_target(t)[0]) for t in sorted(compiled, key=target_order)])


PORTABILITY_HEADER = ("framework", "target", "compared", "portability failures", "fail on both",
                      "portability failures by category (functions)", "examples")


def portability_table(rows: Sequence[PortabilityRow]) -> list[list[str]]:
    out = []
    for row in rows:
        d = len(row.compared)
        cats = ", ".join(f"{c} {n}" for c, n in row.categories()) or "-"
        out.append([row.framework, row.target, str(d), _pct(len(row.portability), d), _pct(len(row.both), d),
                    cats, ", ".join(row.examples(row.portability)) or "-"])
    return out


MODES_HEADER = ("framework", "compiled", "compared", "fail compiled only", "fail on both",
                "compiled-only failures by category (functions)", "median time compiled/eager (cases)", "examples")


def modes_table(rows: Sequence[PortabilityRow]) -> list[list[str]]:
    out = []
    for row in rows:
        d = len(row.compared)
        cats = ", ".join(f"{c} {n}" for c, n in row.categories()) or "-"
        ratio = f"{row.median_ratio:.2f}x ({len(row.time_ratios)})" if row.median_ratio is not None else "-"
        out.append([row.framework, row.target, str(d), _pct(len(row.portability), d), _pct(len(row.both), d),
                    cats, ratio, ", ".join(row.examples(row.portability)) or "-"])
    return out


def format_table(header: Sequence[str], body: Sequence[Sequence[str]]) -> list[str]:
    widths = [max(len(str(x)) for x in col) for col in zip(header, *body, strict=True)]
    lines = ["  ".join(str(h).ljust(w) for h, w in zip(header, widths, strict=True)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in body]
    return lines


def render(records: Sequence[Mapping[str, Any]], backends: Sequence[str] | None = None) -> list[str]:
    """The terminal summary: the table, the portability view where a run has two backends, then
    notes on what was not assessed. ``backends``: the run's ``--backend`` list (its first is the
    reference of the portability view)."""
    rows = function_verdicts(records)
    if not rows:
        return ["no cases ran"]
    lines = format_table(HEADER, table(rows))
    reference = reference_backend(records, backends)
    view = portability_view(records, reference) if reference else []
    compared = [r for r in view if r.compared]
    if compared:
        lines.append("")
        lines.append(f"portability against {reference}: functions failing on the target in a case that passes on "
                     f"{reference}; failing on both is the framework's limitation, counted apart")
        lines += format_table(PORTABILITY_HEADER, portability_table(compared))
    modes = [r for r in modes_view(records) if r.compared]
    if modes:
        lines.append("")
        lines.append("compiled against eager: functions failing compiled in a case that passes eager are "
                     "portability failures of the mode; times are compiled / eager, timed in one worker")
        lines += format_table(MODES_HEADER, modes_table(modes))
    for row in view:
        if not row.compared:
            reason = next((str(r.get("message") or "") for r in records if r["framework"] == row.framework
                           and r["backend"] == row.target and r["outcome"] == outcomes.UNAVAILABLE), "")
            lines.append(f"{row.framework} on {row.target}: nothing to compare with {reference}"
                         + (f" ({reason})" if reason else ""))
    untimed = sorted({f"{r.framework}/{r.backend}" for r in rows if not r.timed_against
                      and r.backend not in COMPILE_ONLY})
    if untimed:
        lines.append(
            "slowdown n/a: no timing reference for " + ", ".join(untimed)
            + " (a cpu run needs --baseline RUN_DIR; an accelerator run is timed against the host cpu)"
        )
    compiled_only = sorted({r.backend for r in rows if r.backend in COMPILE_ONLY})
    if compiled_only:
        lines.append(f"{', '.join(compiled_only)}: compiled for the chip with its real compiler, nothing ran: "
                     "no numerics, no timing, no run-time memory; 'compile' is never a pass")
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
