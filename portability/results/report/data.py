"""What the report shows, as plain data computed from run files: the runs, the summary matrix, the
comparison with the study, and the cross-hardware view. Nothing here writes HTML."""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import resources
from statistics import median
from typing import Any

from portability import outcomes, verdicts
from portability.records import CaseRecord
from portability.results import compare, history, storage, summary
from portability.results.frames import accelerator
from portability.vocabulary import COMPILE_ONLY

VERDICT_ORDER = {v: i for i, v in enumerate(
    (outcomes.FN_COMPLETE, outcomes.FN_PARTIAL, outcomes.FN_SLOWDOWN, outcomes.FN_PASS, outcomes.FN_COMPILES,
     outcomes.FN_UNAVAILABLE))}


@dataclass(frozen=True)
class Column:
    """One target (a backend, and its mode where not eager: ``summary.target``) of one run: a column
    of verdicts in the function table."""

    run_id: str
    backend: str
    run: storage.Run = field(compare=False, hash=False, repr=False)

    @property
    def label(self) -> str:
        return f"{self.backend} · {short_id(self.run.run_id)}"


def short_id(run_id: str) -> str:
    """``20261124T062918Z-vm-6d201e`` -> ``11-24 06:29 6d201e`` (date, time, the id's own suffix)."""
    m = re.match(r"(\d{4})(\d\d)(\d\d)T(\d\d)(\d\d)\d\dZ-.*-([0-9a-f]+)$", run_id)
    return f"{m[2]}-{m[3]} {m[4]}:{m[5]} {m[6]}" if m else run_id


def paper_figures() -> dict[str, Any]:
    text = resources.files("portability").joinpath("data/paper_figures.json").read_text()
    data: dict[str, Any] = json.loads(text)
    return data


def runs_table(runs: Sequence[storage.Run]) -> list[dict[str, Any]]:
    rows = []
    for run in runs:
        m = run.meta
        machine = m.get("machine") or {}
        versions = ", ".join(
            f"{fw} {(info.get('versions') or {}).get(fw, '?')}" for fw, info in (m.get("frameworks") or {}).items())
        rows.append({
            "run": run.run_id, "status": run.status, "started": m.get("started"), "ended": m.get("ended"),
            "machine": f"{machine.get('cpu') or '?'} ({machine.get('cpu_count', '?')} CPUs, "
                       f"{machine.get('memory_gib', '?')} GiB)",
            "accelerators": accelerator(m), "frameworks": versions,
            "backends": ", ".join((m.get("options") or {}).get("backends") or []),
            "size": (m.get("options") or {}).get("size", "medium"), "cases": len(run.cases),
            "skipped": run.skipped_lines,
            "threads": compare.run_conditions(m)["cpu threads"],
            "numerics": ", ".join(f"{k}={v}" for k, v in (m.get("numerics") or {}).items()),
        })
    return rows


def summary_matrix(runs: Sequence[storage.Run]) -> list[dict[str, Any]]:
    """Per run x framework x backend: function verdict counts, percentages of the assessed functions."""
    out = []
    for run in runs:
        for row in summary.function_verdicts(run.cases):
            d = row.assessed
            entry: dict[str, Any] = {"run": run.run_id, "framework": row.framework, "backend": row.backend,
                                     "functions": row.functions, "assessed": d,
                                     "timed": bool(row.timed_against) and row.backend not in COMPILE_ONLY,
                                     "compile_only": row.backend in COMPILE_ONLY,
                                     "device_specific": len(row.device_specific)}
            for key, verdict in (("pass", outcomes.FN_PASS), ("compiles", outcomes.FN_COMPILES),
                                 ("slowdown", outcomes.FN_SLOWDOWN),
                                 ("partial", outcomes.FN_PARTIAL), ("complete", outcomes.FN_COMPLETE),
                                 ("unavailable", outcomes.FN_UNAVAILABLE)):
                n = row.count(verdict)
                entry[key] = n
                entry[f"{key}_pct"] = round(100 * n / d, 1) if d and key != "unavailable" else None
            entry["top"] = ", ".join(f"{c} {n}" for c, n in outcomes.top_categories(row.case_outcomes))
            out.append(entry)
    return out


def paper_comparison(runs: Sequence[storage.Run]) -> list[dict[str, Any]]:
    """Per framework x backend: the paper's failure rates beside ours (functions with any failure)."""
    figs = paper_figures()["failure_rates"]
    ours = summary_matrix(runs)
    rows = []
    for fig in figs:
        rows.append({"source": "paper", "run": None, "framework": fig["framework"], "backend": fig["backend"],
                     "where": fig["device"], "functions": fig["functions"],
                     "complete": fig["complete"], "partial": fig["partial"], "any": fig["any"],
                     "any_pct": round(100 * fig["any"] / fig["functions"], 1)})
    chips = {run.run_id: _chips(run) for run in runs}
    for o in ours:
        if not o["assessed"]:
            continue
        failing = o["complete"] + o["partial"]
        where = f"{o['backend']} · {short_id(o['run'])}"
        if o["compile_only"]:  # compiled for the chip, never run on it: said in the label
            chip = chips[o["run"]].get(o["backend"], "?")
            where = f"{o['backend']} ({chip}, compiled, not run) · {short_id(o['run'])}"
        rows.append({"source": "this run", "run": o["run"], "framework": o["framework"], "backend": o["backend"],
                     "where": where, "functions": o["assessed"],
                     "complete": o["complete"], "partial": o["partial"], "any": failing,
                     "any_pct": round(100 * failing / o["assessed"], 1)})
    # a compile-only backend sits beside the study's column for the device it compiles for
    return sorted(rows, key=lambda r: (r["framework"], COMPILE_ONLY.get(r["backend"], r["backend"]),
                                       r["source"] != "paper", r["backend"]))


def _chips(run: storage.Run) -> dict[str, str]:
    """Compile-only backend -> the chip and topology it compiled for, from run.json."""
    targets = run.meta.get("compile_targets") or {}
    return {b: ", ".join(sorted({f"{t.get('chip', '?')} {t.get('topology', '')}".strip() for t in fws.values()}))
            for b, fws in targets.items()}


def portability_rows(runs: Sequence[storage.Run]) -> list[dict[str, Any]]:
    """Per run, framework and target backend: the portability view against the run's reference backend
    (``summary.portability_view``): portability failures and failures on both, kept apart."""
    out = []
    for run in runs:
        backends = (run.meta.get("options") or {}).get("backends")
        reference = summary.reference_backend(run.cases, backends)
        if reference is None:
            continue
        for row in summary.portability_view(run.cases, reference):
            d = len(row.compared)
            if not d:  # the target saw none of the framework's cases (summary.render says why)
                continue
            out.append({
                "run": run.run_id, "framework": row.framework, "reference": reference, "target": row.target,
                "compared": d, "portability": len(row.portability),
                "portability_pct": round(100 * len(row.portability) / d, 1) if d else None,
                "both": len(row.both), "both_pct": round(100 * len(row.both) / d, 1) if d else None,
                "categories": ", ".join(f"{c} {n}" for c, n in row.categories()) or "-",
                "examples": ", ".join(row.examples(row.portability, 5)) or "-",
                "both_examples": ", ".join(row.examples(row.both, 5)) or "-",
            })
    return out


def modes_rows(runs: Sequence[storage.Run]) -> list[dict[str, Any]]:
    """Per run, framework and backend with compiled cases: compiled against eager
    (``summary.modes_view``): failures of the mode, failures both ways, and the time ratios."""
    out = []
    for run in runs:
        for row in summary.modes_view(run.cases):
            d = len(row.compared)
            if not d:
                continue
            out.append({
                "run": run.run_id, "framework": row.framework, "target": row.target, "compared": d,
                "portability": len(row.portability), "portability_pct": round(100 * len(row.portability) / d, 1),
                "both": len(row.both), "both_pct": round(100 * len(row.both) / d, 1),
                "categories": ", ".join(f"{c} {n}" for c, n in row.categories()) or "-",
                "examples": ", ".join(row.examples(row.portability, 5)) or "-",
                "median_ratio": round(row.median_ratio, 2) if row.median_ratio is not None else None,
                "timed": len(row.time_ratios),
                "faster": sum(r < 1 for r in row.time_ratios), "slower": sum(r > 1 for r in row.time_ratios),
            })
    return out


def cross_hardware(columns: Sequence[Column]) -> list[dict[str, Any]]:
    """The paper's cross-hardware view for every pair of accelerator columns of one framework."""
    # a compile-only column has no timings and is not a device run: the portability view covers it;
    # a compiled mode is not hardware: the modes view covers it
    accel = [c for c in columns if c.backend != "cpu" and c.backend not in COMPILE_ONLY and " " not in c.backend]
    out = []
    known: dict[tuple[Column, str], dict[str, tuple[bool, float | None]]] = {}

    def per_function(col: Column, fw: str) -> dict[str, tuple[bool, float | None]]:
        if (col, fw) not in known:  # a column meets every other: read its cases once
            known[(col, fw)] = _per_function(col, fw)
        return known[(col, fw)]

    for i, a in enumerate(accel):
        for b in accel[i + 1:]:
            if a.backend == b.backend and a.run.run_id == b.run.run_id:
                continue
            for fw in sorted({c["framework"] for c in a.run.cases} & {c["framework"] for c in b.run.cases}):
                fa = per_function(a, fw)
                fb = per_function(b, fw)
                common = sorted(set(fa) & set(fb))
                if not common:
                    continue
                fail_one = [f for f in common if fa[f][0] != fb[f][0]]
                both = [f for f in common if not fa[f][0] and not fb[f][0] and fa[f][1] and fb[f][1]]
                ratios = [fb[f][1] / fa[f][1] for f in both]  # type: ignore[operator]
                out.append({
                    "framework": fw, "a": a.label, "b": b.label, "functions": len(common),
                    "fail_on_one": len(fail_one), "fail_on_one_pct": round(100 * len(fail_one) / len(common), 1),
                    "compared": len(ratios),
                    "faster": sum(r < 1 for r in ratios), "slower": sum(r > 1 for r in ratios),
                    "slower_10x": sum(r > 10 for r in ratios),
                    "median_ratio": round(median(ratios), 3) if ratios else None,
                })
    return out


def _per_function(col: Column, fw: str) -> dict[str, tuple[bool, float | None]]:
    """api -> (fails on this column, median of its cases' median times) for one framework."""
    cases: dict[str, list[CaseRecord]] = defaultdict(list)
    for c in col.run.cases:
        if c["framework"] == fw and c["backend"] == col.backend and c["outcome"] != outcomes.UNAVAILABLE:
            cases[c["api"]].append(c)
    result = {}
    for api, cs in cases.items():
        fails = any(outcomes.is_failure(c["outcome"]) for c in cs)
        times: list[float] = [t for c in cs if (t := (c.get("timing") or {}).get("median_s"))]
        result[api] = (fails, median(times) if times else None)
    return result


def history_tables(runs: Sequence[storage.Run]) -> dict[str, Any]:
    """The history section (``history.build``): per framework with runs of two or more versions, a row
    per function x target, a cell per version in release order, the cells that changed from the version
    to their left marked, and the changes between neighbours; ``single``: the frameworks of one version."""
    tables, single = [], []
    for h in history.build(runs):
        if len(h.versions) < 2:
            single.append(f"{h.framework} {h.versions[0]}")
            continue
        changed = h.changed()
        why = {(c.api, c.target, c.after): "; ".join(c.what) for c in h.changes}
        rows = []
        for api, tgt in h.rows():
            cells = []
            for v in h.versions:
                found = h.cells[(api, tgt)].get(v)
                cells.append({"text": found.text if found else "-", "verdict": found.verdict if found else "none",
                              "changed": v in changed.get((api, tgt), ()), "why": why.get((api, tgt, v), ""),
                              "run": found.side.label if found else ""})
            rows.append({"api": api, "target": tgt, "changed": (api, tgt) in changed, "cells": cells})
        tables.append({"framework": h.framework, "rows": rows, "changes": [c.text for c in h.changes],
                       "versions": [{"version": v, "runs": ", ".join(h.runs[v])} for v in h.versions],
                       "notes": h.notes, "changed": len(changed)})
    return {"tables": tables, "single": single, "mark": history.CHANGED_MARK,
            "bar": verdicts.DEFAULT_THRESHOLD * verdicts.DEFAULT_BASELINE_NOISE}
