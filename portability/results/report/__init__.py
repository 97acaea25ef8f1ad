"""The HTML portability report, built only from stored run files (``portability report``).

One self-contained page that works offline: charts are matplotlib SVG inlined in the page, the
function tables are DataTables through itables in its offline mode (its JavaScript bundle
inlined once), and the page is a Jinja2 template with autoescaping. Every string that comes from
a run file (error messages above all) is escaped before it reaches the page.
"""

from __future__ import annotations

import io
import json
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from html import escape
from importlib import resources
from pathlib import Path
from statistics import median
from typing import Any

from portability import outcomes
from portability.results import compare, storage, summary
from portability.results.frames import accelerator
from portability.usage import inventory

VERDICT_ORDER = {v: i for i, v in enumerate(
    (outcomes.FN_COMPLETE, outcomes.FN_PARTIAL, outcomes.FN_SLOWDOWN, outcomes.FN_PASS, outcomes.FN_UNAVAILABLE))}


@dataclass(frozen=True)
class Column:
    """One backend of one run: a column of verdicts in the function table."""

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


# -- the parts of the page -------------------------------------------------------------------------

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
                                     "functions": row.functions, "assessed": d, "timed": bool(row.timed_against)}
            for key, verdict in (("pass", outcomes.FN_PASS), ("slowdown", outcomes.FN_SLOWDOWN),
                                 ("partial", outcomes.FN_PARTIAL), ("complete", outcomes.FN_COMPLETE),
                                 ("unavailable", outcomes.FN_UNAVAILABLE)):
                n = row.count(verdict)
                entry[key] = n
                entry[f"{key}_pct"] = round(100 * n / d, 1) if d and key != "unavailable" else None
            entry["top"] = ", ".join(f"{c} {n}" for c, n in outcomes.top_categories(row.case_outcomes))
            out.append(entry)
    return out


def _svg(fig: Any) -> str:
    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight")
    text = buf.getvalue()
    return text[text.index("<svg"):]


def category_chart(runs: Sequence[storage.Run]) -> str | None:
    """Failing cases per category, stacked, one bar per run x framework x backend."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    bars: dict[str, Counter[str]] = {}
    for run in runs:
        for c in run.cases:
            cat = outcomes.category_of(c["outcome"])
            key = f"{c['framework']} / {c['backend']} · {short_id(run.run_id)}"
            bars.setdefault(key, Counter())
            if cat:
                bars[key][cat] += 1
    if not any(bars.values()):
        return None
    labels = sorted(bars)
    fig, ax = plt.subplots(figsize=(9, 0.45 * len(labels) + 1.2))
    left = [0] * len(labels)
    colors = plt.get_cmap("tab10")
    for i, cat in enumerate(outcomes.FAILURE_CATEGORIES):
        values = [bars[label][cat] for label in labels]
        if any(values):
            ax.barh(labels, values, left=left, label=cat, color=colors(i))
            left = [a + b for a, b in zip(left, values, strict=True)]
    ax.set_xlabel("failing cases")
    ax.invert_yaxis()
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    svg = _svg(fig)
    plt.close(fig)
    return svg


def ratio_chart(runs: Sequence[storage.Run]) -> str | None:
    """Time ratios against the reference, one strip per run x framework x backend, log scale."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    groups: dict[str, list[float]] = defaultdict(list)
    for run in runs:
        for c in run.cases:
            r = (c.get("ratio") or {}).get("ratio")
            if r:
                groups[f"{c['framework']} / {c['backend']} vs {c['ratio'].get('reference', '?')} · "
                       f"{short_id(run.run_id)}"].append(float(r))
    if not groups:
        return None
    labels = sorted(groups)
    fig, ax = plt.subplots(figsize=(9, 0.5 * len(labels) + 1.4))
    ax.boxplot([groups[k] for k in labels], orientation="horizontal", tick_labels=labels, showfliers=True)
    ax.set_xscale("log")
    ax.axvline(1.0, color="grey", linewidth=0.8)
    ax.axvline(10.0, color="red", linestyle="--", label="10x slower")
    ax.set_xlabel("time ratio, case / reference (log scale)")
    ax.legend(loc="lower right", fontsize=8)
    ax.invert_yaxis()
    fig.tight_layout()
    svg = _svg(fig)
    plt.close(fig)
    return svg


def _fmt_s(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds >= 1:
        return f"{seconds:.3g} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.3g} ms"
    return f"{seconds * 1e6:.3g} µs"


def case_details(cases: Sequence[dict[str, Any]]) -> str:
    """The cases behind a verdict cell, as escaped HTML: outcome, error lines, timings, repro."""
    items = []
    for c in sorted(cases, key=lambda c: (c["outcome"] == outcomes.PASS, c["id"])):
        t = c.get("timing") or {}
        r = c.get("ratio") or {}
        lines = [str(c.get("message") or "")]
        tb = [x for x in str(c.get("traceback") or "").splitlines() if x.strip()]
        lines += tb[-4:]
        error = "\n".join(x for x in lines if x)[:1200]
        ratio = (f"; {r['ratio']:.2f}x the {escape(str(r.get('reference', '')))} "
                 f"(CI {r.get('ci_low', 0):.2f}-{r.get('ci_high', 0):.2f})" if r.get("ratio") else "")
        items.append(
            f"<li class='case'><code class='outcome'>{escape(c['outcome'])}</code> "
            f"{escape(c['dtype'])} {escape(c.get('variant') or '')}"
            f"<div class='timing'>median {_fmt_s(t.get('median_s'))}, IQR {_fmt_s(t.get('iqr_s'))}, "
            f"first call {_fmt_s(t.get('first_call_s'))}{ratio}</div>"
            + (f"<pre class='error'>{escape(error)}</pre>" if error else "")
            + f"<pre class='repro'>{escape(str(c.get('repro') or ''))}</pre></li>"
        )
    return "<ul class='cases'>" + "".join(items) + "</ul>"


def verdict_cell(verdict: str, cases: Sequence[dict[str, Any]]) -> str:
    failed = sum(1 for c in cases if outcomes.is_failure(c["outcome"]))
    label = f"{verdict} ({failed}/{len(cases)} fail)" if failed else verdict
    if verdict in (outcomes.FN_PASS, outcomes.FN_UNAVAILABLE):
        return f"<span class='v {escape(verdict)}'>{escape(label)}</span>"
    shown = [c for c in cases if c["outcome"] != outcomes.PASS]
    return (f"<details class='v {escape(verdict)}'><summary>{escape(label)}</summary>"
            f"{case_details(shown)}</details>")


def function_rows(columns: Sequence[Column]) -> tuple[list[str], list[list[Any]]]:
    """The function table: one row per framework x function, a verdict cell per column."""
    by_fn: dict[tuple[str, str], dict[Column, list[dict[str, Any]]]] = defaultdict(lambda: defaultdict(list))
    meta: dict[tuple[str, str], dict[str, Any]] = {}
    for col in columns:
        for c in col.run.cases:
            if c["backend"] != col.backend:
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
            ratios += [c["ratio"]["ratio"] for c in cases if (c.get("ratio") or {}).get("ratio")]
        rows.append([
            escape(fw), f"<code>{escape(api)}</code>", escape(str(c0.get("category") or "")),
            u.get("decile") if u.get("decile") is not None else "",
            f"yes (decile {c0['decile']})" if c0.get("paper") else "",
            escape(str(u.get("sampled") or "")), *cells,
            round(max(ratios), 2) if ratios else "",
        ])
    return header, rows


def paper_comparison(runs: Sequence[storage.Run]) -> list[dict[str, Any]]:
    """Per framework x backend: the paper's failure rates beside ours (functions with any failure)."""
    figs = paper_figures()["failure_rates"]
    ours = summary_matrix(runs)
    rows = []
    for fig in figs:
        rows.append({"source": "paper", "framework": fig["framework"], "backend": fig["backend"],
                     "where": fig["device"], "functions": fig["functions"],
                     "complete": fig["complete"], "partial": fig["partial"], "any": fig["any"],
                     "any_pct": round(100 * fig["any"] / fig["functions"], 1)})
    for o in ours:
        if not o["assessed"]:
            continue
        failing = o["complete"] + o["partial"]
        rows.append({"source": "this run", "framework": o["framework"], "backend": o["backend"],
                     "where": f"{o['backend']} · {short_id(o['run'])}", "functions": o["assessed"],
                     "complete": o["complete"], "partial": o["partial"], "any": failing,
                     "any_pct": round(100 * failing / o["assessed"], 1)})
    return sorted(rows, key=lambda r: (r["framework"], r["backend"], r["source"] != "paper"))


def paper_functions(runs: Sequence[storage.Run], columns: Sequence[Column]) -> tuple[list[str], list[list[Any]]]:
    """Per function of the paper's sample: the paper's verdicts beside ours on each column."""
    header = ["framework", "paper name", "our API", "paper GPU (T4)", "paper TPU", *[c.label for c in columns]]
    verdicts: dict[tuple[Column, str], list[str]] = defaultdict(list)
    for col in columns:
        for c in col.run.cases:
            if c["backend"] == col.backend:
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


def cross_hardware(columns: Sequence[Column]) -> list[dict[str, Any]]:
    """The paper's cross-hardware view for every pair of accelerator columns of one framework."""
    accel = [c for c in columns if c.backend != "cpu"]
    out = []
    for i, a in enumerate(accel):
        for b in accel[i + 1:]:
            if a.backend == b.backend and a.run.run_id == b.run.run_id:
                continue
            for fw in sorted({c["framework"] for c in a.run.cases} & {c["framework"] for c in b.run.cases}):
                fa = _per_function(a, fw)
                fb = _per_function(b, fw)
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
    cases: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for c in col.run.cases:
        if c["framework"] == fw and c["backend"] == col.backend and c["outcome"] != outcomes.UNAVAILABLE:
            cases[c["api"]].append(c)
    result = {}
    for api, cs in cases.items():
        fails = any(outcomes.is_failure(c["outcome"]) for c in cs)
        times = [t for c in cs if (t := (c.get("timing") or {}).get("median_s"))]
        result[api] = (fails, median(times) if times else None)
    return result


# -- the page ------------------------------------------------------------------------------------

def _datatable(header: Sequence[str], rows: Sequence[Sequence[Any]], table_id: str, page: int = 25) -> str:
    import pandas as pd
    from itables import to_html_datatable

    frame = pd.DataFrame(list(rows), columns=list(header))
    html: str = to_html_datatable(
        frame, connected=False, allow_html=True, display_logo_when_loading=False, table_id=table_id,
        pageLength=page, lengthMenu=[10, 25, 100, 1000], layout={"topStart": "pageLength", "topEnd": "search",
                                                                 "bottomStart": "info", "bottomEnd": "paging"},
        classes="display compact", column_filters="header", scrollX=True,
        maxBytes=0, maxColumns=0,  # never downsample: every function is in the table
    )
    return html


def _itables_init() -> str:
    from itables.javascript import generate_init_offline_itables_html
    from itables.options import dt_bundle

    html: str = generate_init_offline_itables_html(dt_bundle)
    return html


def render(runs: Sequence[storage.Run], compare_pair: tuple[storage.Run, storage.Run] | None = None) -> str:
    """The report page for these runs (and the comparison of a BASE/NEW pair, if given)."""
    from jinja2 import Environment, select_autoescape
    from markupsafe import Markup

    columns = [Column(run.run_id, b, run) for run in runs for b in sorted({c["backend"] for c in run.cases})]
    fheader, frows = function_rows(columns)
    pheader, prows = paper_functions(runs, columns)
    changes: dict[str, Any] | None = None
    if compare_pair is not None:
        base, new = compare_pair
        mismatch = compare.timing_mismatch(base.meta, new.meta)
        found = compare.compare_runs(base.cases, new.cases, timing_mismatch=mismatch)
        changes = {"base": base.run_id, "new": new.run_id, "rows": found, "counts": compare.counts(found)}
    env = Environment(autoescape=select_autoescape(default=True, default_for_string=True))
    template = env.from_string(resources.files(__package__).joinpath("templates/report.html").read_text())
    return template.render(
        generated=datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        runs=runs_table(runs), matrix=summary_matrix(runs),
        category_svg=Markup(category_chart(runs) or ""), ratio_svg=Markup(ratio_chart(runs) or ""),
        itables_init=Markup(_itables_init()),
        functions=Markup(_datatable(fheader, frows, "functions-table")),
        paper=paper_comparison(runs), paper_figures=paper_figures(),
        paper_functions=Markup(_datatable(pheader, prows, "paper-functions-table", page=10)),
        cross=cross_hardware(columns), accelerator_columns=[c.label for c in columns if c.backend != "cpu"],
        changes=changes, compare_changes=compare.CHANGES,
    )


def write(run_dirs: Iterable[Path | str], out: Path,
          compare_pair: tuple[Path | str, Path | str] | None = None) -> Path:
    """Read the runs (``RunFileError`` names a bad one), render, and write the page atomically."""
    runs = [storage.read_run(p) for p in run_dirs]
    pair = (storage.read_run(compare_pair[0]), storage.read_run(compare_pair[1])) if compare_pair else None
    html = render(runs, pair)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(html, encoding="utf-8")
    tmp.replace(out)
    return out
