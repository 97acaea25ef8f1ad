"""The HTML portability report, built only from stored run files (``portability report``).

One self-contained page that works offline: charts are matplotlib SVG inlined in the page, the
function tables are DataTables through itables in its offline mode (its JavaScript bundle
inlined once), and the page is a Jinja2 template with autoescaping. Every string that comes from
a run file (error messages above all) is escaped before it reaches the page.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import datetime, timezone
from importlib import resources
from pathlib import Path
from typing import Any

from portability.results import compare, storage, summary
from portability.results.report import charts as _charts
from portability.results.report.data import (
    Column,
    cross_hardware,
    history_tables,
    modes_rows,
    paper_comparison,
    paper_figures,
    portability_rows,
    runs_table,
    summary_matrix,
)
from portability.results.report.matrix import build as build_matrix
from portability.results.report.tables import paper_functions

__all__ = ["Column", "cross_hardware", "paper_comparison", "portability_rows", "render", "write"]


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

    columns = [Column(run.run_id, t, run) for run in runs
               for t in sorted({summary.target(c) for c in run.cases}, key=summary.target_order)]
    pheader, prows = paper_functions(runs, columns)
    changes: dict[str, Any] | None = None
    if compare_pair is not None:
        base, new = compare_pair
        mismatch = compare.timing_mismatch(base.meta, new.meta)
        found = compare.compare_runs(base.cases, new.cases, timing_mismatch=mismatch)
        changes = {"base": base.run_id, "new": new.run_id, "rows": found, "counts": compare.counts(found)}
    matrix = build_matrix(runs)
    env = Environment(autoescape=select_autoescape(default=True, default_for_string=True))
    template = env.from_string(resources.files(__package__).joinpath("templates/report.html").read_text())
    return template.render(
        generated=datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        runs=runs_table(runs), summary_rows=summary_matrix(runs),
        charts={name: Markup(svg) if svg else None for name, svg in (
            ("categories", _charts.category_share_chart(runs)), ("ratios", _charts.ratio_chart(runs)),
            ("modes", _charts.modes_chart(runs)), ("paper", _charts.paper_chart(runs)),
            ("paper_latency", _charts.paper_latency_chart(runs)))},
        itables_init=Markup(_itables_init()),
        matrix=matrix, matrix_json=Markup(json.dumps(matrix, separators=(",", ":")).replace("<", "\\u003c")),
        matrix_js=Markup(resources.files(__package__).joinpath("templates/matrix.js").read_text()),
        paper=paper_comparison(runs), paper_figures=paper_figures(),
        paper_functions=Markup(_datatable(pheader, prows, "paper-functions-table", page=10)),
        cross=cross_hardware(columns), portability=portability_rows(runs), modes=modes_rows(runs),
        history=history_tables(runs),
        accelerator_columns=[c.label for c in columns if c.backend != "cpu"],
        changes=changes, compare_changes=compare.CHANGES,
    )


def write(run_dirs: Iterable[Path | str], out: Path,
          compare_pair: tuple[Path | str, Path | str] | None = None, skipped: list[str] | None = None,
          notes: list[str] | None = None) -> Path:
    """Read the runs, render, and write the page atomically. A run that cannot be read raises
    ``RunFileError`` naming it, or, given ``skipped``, is left out with that one line appended there:
    one bad run in a results folder must not stop the page of all the others. Given ``notes``, the
    problems met reading the runs that are shown (lines skipped, a run.json missing) are appended there."""
    runs = []
    for path in run_dirs:
        try:
            runs.append(storage.read_run(path))
        except storage.RunFileError as exc:
            if skipped is None:
                raise
            skipped.append(str(exc))
    pair = (storage.read_run(compare_pair[0]), storage.read_run(compare_pair[1])) if compare_pair else None
    if notes is not None:
        notes.extend(p for run in [*runs, *(pair or ())] for p in run.problems)
    html = render(runs, pair)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(html, encoding="utf-8")
    tmp.replace(out)
    return out
