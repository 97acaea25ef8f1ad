"""The report's function tables: one row per function, a verdict cell per run column that opens
onto its cases. Every string from a run file is escaped here before it becomes HTML."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from html import escape
from typing import Any

from portability import outcomes
from portability.records import CaseRecord
from portability.results import storage
from portability.results.report.data import Column
from portability.results.summary import target
from portability.stats import format_seconds as _fmt_s
from portability.usage import inventory
from portability.vocabulary import COMPILE_ONLY


def case_details(cases: Sequence[CaseRecord]) -> str:
    """The cases behind a verdict cell, as escaped HTML: outcome, error lines, timings, repro."""
    items = []
    for c in sorted(cases, key=lambda c: (outcomes.is_success(c["outcome"]), c["key"])):
        t = c.get("timing") or {}
        r = c.get("ratio") or {}
        lines = [str(c.get("message") or "")]
        tb = [x for x in str(c.get("traceback") or "").splitlines() if x.strip()]
        lines += tb[-4:]
        error = "\n".join(x for x in lines if x)[:1200]
        ratio = (f"; {r['ratio']:.2f}x the {escape(str(r.get('reference', '')))} "
                 f"(CI {r.get('ci_low', 0):.2f}-{r.get('ci_high', 0):.2f})" if r.get("ratio") else "")
        compiled = c.get("compile")
        if compiled and c["backend"] in COMPILE_ONLY:
            when = (f"compiled for {escape(str(compiled.get('device_kind', '?')))} in "
                    f"{_fmt_s(compiled.get('compile_s'))} (traced {_fmt_s(compiled.get('trace_s'))}, lowered "
                    f"{_fmt_s(compiled.get('lower_s'))}); nothing ran")
        elif c["backend"] in COMPILE_ONLY:
            when = "not compiled; nothing ran"
        else:
            when = (f"median {_fmt_s(t.get('median_s'))}, IQR {_fmt_s(t.get('iqr_s'))}, "
                    f"first call {_fmt_s(t.get('first_call_s'))}{ratio}")
        items.append(
            f"<li class='case'><code class='outcome'>{escape(c['outcome'])}</code> "
            f"{escape(c['dtype'])} {escape(c.get('variant') or '')}"
            f"<div class='timing'>{when}</div>"
            + (f"<pre class='error'>{escape(error)}</pre>" if error else "")
            + f"<pre class='repro'>{escape(str(c.get('repro') or ''))}</pre></li>"
        )
    return "<ul class='cases'>" + "".join(items) + "</ul>"


def verdict_cell(verdict: str, cases: Sequence[CaseRecord]) -> str:
    failed = sum(1 for c in cases if outcomes.is_failure(c["outcome"]))
    label = f"{verdict} ({failed}/{len(cases)} fail)" if failed else verdict
    if verdict in (outcomes.FN_PASS, outcomes.FN_COMPILES, outcomes.FN_UNAVAILABLE):
        return f"<span class='v {escape(verdict)}'>{escape(label)}</span>"
    shown = [c for c in cases if c["outcome"] not in (outcomes.PASS, outcomes.COMPILED)]
    return (f"<details class='v {escape(verdict)}'><summary>{escape(label)}</summary>"
            f"{case_details(shown)}</details>")


def function_rows(columns: Sequence[Column]) -> tuple[list[str], list[list[Any]]]:
    """The function table: one row per framework x function, a verdict cell per column."""
    by_fn: dict[tuple[str, str], dict[Column, list[CaseRecord]]] = defaultdict(lambda: defaultdict(list))
    meta: dict[tuple[str, str], CaseRecord] = {}
    for col in columns:
        for c in col.run.cases:
            if target(c) != col.backend:
                continue
            key = (c["framework"], c["api"])
            by_fn[key][col].append(c)
            meta.setdefault(key, c)
    header = ["framework", "function", "category", "decile", "paper", "sample", *[c.label for c in columns],
              "worst ratio"]
    rows = []
    for key in sorted(by_fn):
        fw, api = key
        c0 = meta[key]
        u = c0.get("usage") or {}  # our frequency table's calls and decile, as the run recorded them
        cells = []
        ratios = []
        for col in columns:
            cases = by_fn[key].get(col, [])
            if not cases:
                cells.append("<span class='v none'>-</span>")
                continue
            cells.append(verdict_cell(outcomes.function_verdict(c["outcome"] for c in cases), cases))
            ratios += [r for c in cases if (r := (c.get("ratio") or {}).get("ratio"))]
        rows.append([
            escape(fw), f"<code>{escape(api)}</code>", escape(str(c0.get("category") or "")),
            u.get("decile") if u.get("decile") is not None else "",
            f"yes (decile {c0['decile']})" if c0.get("paper") else "",
            escape(str(u.get("sampled") or "")), *cells,
            # text, not a float: itables renders float columns with a function it evaluates, which the page's
            # script policy forbids; DataTables still sorts numeric text as numbers
            f"{max(ratios):.2f}" if ratios else "",
        ])
    return header, rows


def paper_functions(runs: Sequence[storage.Run], columns: Sequence[Column]) -> tuple[list[str], list[list[Any]]]:
    """Per function of the paper's sample: the paper's verdicts beside ours on each column."""
    header = ["framework", "paper name", "our API", "paper GPU (T4)", "paper TPU", *[c.label for c in columns]]
    verdicts: dict[tuple[Column, str], list[str]] = defaultdict(list)
    for col in columns:
        for c in col.run.cases:
            if target(c) == col.backend:
                verdicts[(col, c["api"])].append(c["outcome"])
    tagged = {(c["framework"], c["api"]): c.get("paper_name") or "" for col in columns for c in col.run.cases
              if c.get("paper")}
    rows = []
    for row in inventory.paper_rows():
        ours = inventory.paper_api(row, ((api, name) for (fw, api), name in tagged.items() if fw == row.framework))
        cells = []
        for col in columns:
            got = verdicts.get((col, ours or ""), [])
            cells.append(escape(outcomes.function_verdict(got)) if got else "-")
        rows.append([escape(row.framework), escape(row.api_name), f"<code>{escape(ours or '-')}</code>",
                     escape(row.verdict_gpu), escape(row.verdict_tpu), *cells])
    return header, rows
