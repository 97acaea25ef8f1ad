"""The portability matrix that opens the report: per framework, every function's verdict on every
target (backend x mode) of every run, and of the other environment of an ``--against`` run, beside
the study's verdicts where it has them, with the cases behind each cell.

Plain data for the page's script (``build`` returns what is embedded as JSON); nothing here writes
HTML. A failing cell says whether the failure is a **portability failure** (the function fails on
this target in a case that passes on the target it is compared with: the run's reference backend,
or the eager call for a compiled target) or a **limitation** (it fails there too, or this is the
reference itself), by the same rule as the summary's portability and modes views.

Every case of every cell travels with the page, so the JSON is kept small: repeated strings (outcomes,
messages, repro commands with the case's id cut out, key suffixes) are stored once in ``strings`` and
cases refer to them by index; times are in microseconds to three significant digits.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from portability import outcomes
from portability.records import CaseRecord
from portability.results import history, storage, summary
from portability.results.report.data import short_id
from portability.usage import inventory
from portability.vocabulary import COMPILE_ONLY, DEFAULT_MODE, FRAMEWORKS

#: Cell classes in the order of the legend; a cell holds the index (-1: no case on that target).
CLASSES = ("pass", "slowdown", "compiles", "port-partial", "port-complete", "lim-partial", "lim-complete",
           "unavailable")
LEGEND = {
    "pass": "pass",
    "slowdown": "slowdown (slower than its reference beyond the threshold)",
    "compiles": "compiles (compile-only target: nothing ran)",
    "port-partial": "portability failure, some cases (they pass on the reference)",
    "port-complete": "portability failure, every case",
    "lim-partial": "fails on the reference too, some cases (a limitation of the framework)",
    "lim-complete": "fails on the reference too, every case",
    "unavailable": "unavailable (cannot be expressed there)",
}
#: The study's per-function verdicts (its sample of about 64 functions per framework) as cell classes.
PAPER_CLASSES = {"pass": "pass", "partial_failure": "port-partial", "complete_failure": "port-complete"}
#: The placeholder for a case's pytest id in a stored repro template.
ID_MARK = "\x00"
_FAILING = {outcomes.FN_PARTIAL: "partial", outcomes.FN_COMPLETE: "complete"}
#: the most targets a framework's sentence speaks of
MAX_PARTS = 4
_NAMES = {"torch": "PyTorch", "jax": "JAX", "tensorflow": "TensorFlow"}


def cell_class(verdict: str, portability_failure: bool) -> str:
    """The matrix class of a function verdict on a target (``portability_failure``: the function fails
    there in a case that passes on the target it is compared with)."""
    if verdict in _FAILING:
        return f"{'port' if portability_failure else 'lim'}-{_FAILING[verdict]}"
    return verdict  # pass, slowdown, compiles, unavailable: the verdict's own name


@dataclass(frozen=True)
class MatrixColumn:
    """One target of one side (a run, or the other environment of an against run) for one framework."""

    framework: str
    run_id: str
    against: bool
    version: str
    target: str
    #: the target its failures are compared with (None: it is the reference, or nothing to compare)
    reference: str | None

    def as_dict(self) -> dict[str, Any]:
        side = " (against)" if self.against else ""
        compile_only = summary.split_target(self.target)[0] in COMPILE_ONLY
        return {"target": self.target, "version": self.version, "run": self.run_id + side,
                "label": f"{self.target} · {self.version}{side} · {short_id(self.run_id)}",
                "reference": self.reference, "compile_only": compile_only}


class _Strings:
    """A table of distinct strings, referred to by index."""

    def __init__(self) -> None:
        self.items: list[str] = []
        self._index: dict[str, int] = {}

    def __call__(self, text: str | None) -> int:
        if not text:
            return -1
        if text not in self._index:
            self._index[text] = len(self.items)
            self.items.append(text)
        return self._index[text]


def _us(seconds: Any) -> float:
    """Seconds as microseconds, three significant digits (what the page shows); 0: none."""
    return float(f"{seconds * 1e6:.3g}") if isinstance(seconds, (int, float)) and seconds > 0 else 0


def _sig(x: Any) -> float:
    """Three significant digits; 0: none (a ratio or bound is never 0)."""
    return float(f"{x:.3g}") if isinstance(x, (int, float)) else 0


def error_text(c: Mapping[str, Any]) -> str:
    """A failed case's message and the last lines of its traceback, cut to 1,200 characters."""
    lines = [str(c.get("message") or "")]
    lines += [x for x in str(c.get("traceback") or "").splitlines() if x.strip()][-4:]
    return "\n".join(x for x in lines if x)[:1200]


def _extra(c: Mapping[str, Any], a_record: Mapping[str, Any] | None) -> str:
    """What else a reader of the cell needs: where a compile-only case compiled for, the ops that fell
    back to the host, the change an against run drew."""
    parts = []
    compiled = c.get("compile")
    if c["backend"] in COMPILE_ONLY:
        parts.append(f"compiled for {compiled.get('device_kind', '?')}; nothing ran" if isinstance(compiled, Mapping)
                     else "not compiled; nothing ran")
    fallbacks = c.get("host_fallbacks")
    if fallbacks:
        parts.append("fell back to the host: " + ", ".join(map(str, fallbacks)))
    change = (a_record or {}).get("change")
    if isinstance(change, Mapping) and change.get("change") not in (None, "unchanged"):
        parts.append(f"against the first environment: {change.get('change')}"
                     + (f" ({change.get('detail')})" if change.get("detail") else ""))
    return "; ".join(parts)


class _Cases:
    """The cases of the page, each a short list: [key suffix, outcome, repro template, error text,
    median us, ratio, ci low, ci high, ratio reference, first call us, extra, compile us] (strings as
    indices into the string table, -1 none; numbers 0 none), trailing nones cut. A cell's cases are
    added one after the other, so a cell refers to them as (first index, count)."""

    def __init__(self, strings: _Strings) -> None:
        self.strings = strings
        self.rows: list[list[Any]] = []

    def add(self, c: Mapping[str, Any], a_record: Mapping[str, Any] | None, against: str | None) -> int:
        s = self.strings
        repro = str((a_record or c).get("repro") or "")
        if repro and against:
            repro += f" --against {against}"
        ident = str(c.get("id") or "")
        template = repro.replace(ident, ID_MARK, 1) if ident and ident.endswith(c["key"]) else repro
        t = c.get("timing") or {}
        r = c.get("ratio") or {}
        row: list[Any] = [
            s(c["key"][len(c["api"]):] if c["key"].startswith(c["api"]) else c["key"]),
            s(c["outcome"]), s(template), s(error_text(c) if outcomes.is_failure(c["outcome"])
                                             or c["outcome"] == outcomes.UNAVAILABLE else ""),
            _us(t.get("median_s")), _sig(r.get("ratio")), _sig(r.get("ci_low")), _sig(r.get("ci_high")),
            s(str(r.get("reference") or "")), _us(t.get("first_call_s")), s(_extra(c, a_record)),
            _us((c.get("compile") or {}).get("compile_s") if c["backend"] in COMPILE_ONLY else None),
        ]
        while row and row[-1] in (0, -1):
            row.pop()
        self.rows.append(row)
        return len(self.rows) - 1


def _file_prefix(c: Mapping[str, Any]) -> str:
    ident = str(c.get("id") or "")
    return ident[: -len(c["key"])] if ident.endswith(c["key"]) else ""


def _columns(side: history.Side) -> list[MatrixColumn]:
    backends = (side.meta.get("options") or {}).get("backends")
    reference = summary.reference_backend(side.cases, backends)
    out = []
    for t in sorted({summary.target(c) for c in side.cases}, key=summary.target_order):
        backend, mode = summary.split_target(t)
        ref = backend if mode != DEFAULT_MODE else (None if t == reference else reference)
        out.append(MatrixColumn(side.framework, side.run_id, side.against, side.version, t, ref))
    return out


def build(runs: Sequence[storage.Run]) -> dict[str, Any]:
    """The matrix of these runs, as the page's script reads it (see the module docstring)."""
    strings = _Strings()
    cases = _Cases(strings)
    sides = history.sides(runs, unknown="version unknown")
    by_run = {run.run_id: run for run in runs}
    frameworks = []
    order = list(FRAMEWORKS)
    for fw in sorted({s.framework for s in sides}, key=lambda f: (order.index(f) if f in order else len(order), f)):
        frameworks.append(_framework(fw, [s for s in sides if s.framework == fw], by_run, cases, strings))
    return {"classes": list(CLASSES), "legend": LEGEND, "strings": strings.items, "cases": cases.rows,
            "frameworks": frameworks, "id_mark": ID_MARK}


def _framework(fw: str, fw_sides: Sequence[history.Side], by_run: Mapping[str, storage.Run], cases: _Cases,
               strings: _Strings) -> dict[str, Any]:
    columns: list[MatrixColumn] = []
    cells: dict[str, list[list[int]]] = {}  # api -> per column [class, first case, number of cases]
    info: dict[str, CaseRecord] = {}
    counts: list[Counter[str]] = []
    compared: list[tuple[history.Side, list[MatrixColumn], dict[str, summary.PortabilityRow]]] = []
    for side in fw_sides:
        side_columns = _columns(side)
        pairs = [(c.target, c.reference) for c in side_columns if c.reference is not None]
        views = {row.target: row for row in summary.compare_targets(side.cases, pairs)}
        compared.append((side, side_columns, views))
        a_records: dict[str, CaseRecord] = {}
        against_python = None
        if side.against:
            a_records = {c["key"]: c for c in by_run[side.run_id].cases}
            against_python = str((side.meta.get("against") or {}).get("python") or "PYTHON")
        grouped: dict[str, dict[str, list[CaseRecord]]] = defaultdict(lambda: defaultdict(list))
        for c in side.cases:
            grouped[summary.target(c)][c["api"]].append(c)
            info.setdefault(c["api"], c)
        for col in side_columns:
            i = len(columns)
            columns.append(col)
            view = views.get(col.target)
            count: Counter[str] = Counter()
            for api, cs in grouped[col.target].items():
                verdict = outcomes.function_verdict(c["outcome"] for c in cs)
                cls = cell_class(verdict, view is not None and api in view.portability)
                count[cls] += 1
                ids = [cases.add(c, a_records.get(c["key"]), against_python)
                       for c in sorted(cs, key=lambda c: (outcomes.is_success(c["outcome"]), c["key"]))]
                cells.setdefault(api, [])
                row = cells[api]
                row.extend([[-1, 0, 0]] * (i - len(row)))
                row.append([CLASSES.index(cls), ids[0], len(ids)])
            counts.append(count)
    for row in cells.values():
        row.extend([[-1, 0, 0]] * (len(columns) - len(row)))
    paper = _paper_cells(fw, info)
    rows: list[dict[str, Any]] = []
    for api, row in cells.items():
        c0 = info[api]
        usage = c0.get("usage") or {}
        calls = usage.get("calls") if isinstance(usage, Mapping) else None
        rows.append({
            "api": api, "category": str(c0.get("category") or ""),
            "calls": int(calls) if isinstance(calls, int) else int(c0.get("frequency") or 0),
            "decile": usage.get("decile") if isinstance(usage, Mapping) else None,
            "file": strings(_file_prefix(c0)), "paper": paper.get(api),
            "cells": row,
        })
    rows.sort(key=lambda r: (str(r["category"]), -int(r["calls"] or 0), str(r["api"])))
    return {"framework": fw, "columns": [c.as_dict() for c in columns],
            "counts": [dict(c) for c in counts], "rows": rows,
            "sentence": sentence(fw, columns, counts, compared),
            "paper_columns": ["study GPU (T4)", "study TPU"] if paper else []}


def _paper_cells(fw: str, info: Mapping[str, CaseRecord]) -> dict[str, list[str]]:
    """api -> the study's [GPU, TPU] verdicts, for the functions of its sample that the catalog has."""
    tagged = [(api, str(c.get("paper_name") or "")) for api, c in info.items() if c.get("paper")]
    out = {}
    for row in inventory.paper_rows():
        if row.framework != fw:
            continue
        api = inventory.paper_api(row, tagged)
        if api is not None:
            out[api] = [row.verdict_gpu, row.verdict_tpu]
    return out


def sentence(fw: str, columns: Sequence[MatrixColumn], counts: Sequence[Mapping[str, int]],
             compared: Sequence[tuple[history.Side, Sequence[MatrixColumn], Mapping[str, summary.PortabilityRow]]],
             ) -> str:
    """One sentence a reader takes away from a framework's matrix, generated from the data: per target
    compared with another (``compared``: each side, its columns, and the comparison of each target),
    how many functions fail only there and mostly why (with the most used of them); targets where
    nothing could be expressed, with the reason; what an against run changed."""
    name = _NAMES.get(fw, fw)
    fw_sides = [side for side, _, _ in compared]
    versions = sorted({s.version for s in fw_sides}, key=history.version_key)
    parts: list[str] = []
    clean: list[str] = []  # targets where no function fails only there
    for side, side_columns, rows in compared:
        version = f" ({side.version})" if len(versions) > 1 else ""
        for col in side_columns:
            count = counts[columns.index(col)]
            if set(count) == {"unavailable"}:
                reasons = Counter(str(c.get("message") or "?").split("\n")[0] for c in side.cases
                                  if summary.target(c) == col.target)
                reason = reasons.most_common(1)[0][0]
                cut = reason[:100] + ("..." if len(reason) > 100 else "")
                parts.append(f"{col.target}{version} cannot be asked ({cut})")
                continue
            row = rows.get(col.target)
            if row is None or not row.compared:
                continue
            n, d = len(row.portability), len(row.compared)
            if not n:
                clean.append(f"{col.target}{version}")
                continue
            other = "eager" if summary.split_target(col.target)[1] != DEFAULT_MODE else f"on {row.reference}"
            parts.append(f"{n} of {d} functions fail only on {col.target}{version} (not {other}), mostly "
                         f"{row.categories()[0][0]} ({', '.join(row.examples(row.portability, 3))})")
        changes = Counter(str(ch.get("change")) for c in side.cases if isinstance(ch := c.get("change"), Mapping))
        if changes and not side.against:
            other = next((s.version for s in fw_sides if s.against and s.run_id == side.run_id), "?")
            shown = [f"{changes[k]} {k}" for k in ("failure introduced", "failure fixed", "failure changed",
                                                   "slower", "faster") if changes[k]]
            parts.append(f"{other} against {side.version}, side by side: " + (", ".join(shown) or "no change"))
    # several runs of the same targets say the same: each thing once, with how often
    said = Counter(parts)
    parts = [p + (f" (in {said[p]} runs)" if said[p] > 1 else "") for p in dict.fromkeys(parts)]
    if len(parts) > MAX_PARTS:  # the table below has the rest
        parts = [*parts[:MAX_PARTS], f"and {len(parts) - MAX_PARTS} more in the table below"]
    if clean:
        parts.append("no function fails only on " + ", ".join(dict.fromkeys(clean)))
    if not parts:
        assessed = sum(v for c in counts for k, v in c.items() if k != "unavailable")
        failing = sum(v for c in counts for k, v in c.items() if k.endswith(("partial", "complete")))
        where = ", ".join(sorted({c.target for c in columns}, key=summary.target_order))
        parts.append(f"{failing} of {assessed} functions fail on {where} in some case; no second target to "
                     "compare with")
    return f"{name} {' / '.join(versions)}: " + "; ".join(parts) + "."
