"""The report's table of the study's sample: the study's verdicts beside ours, function by function.
Every string from a run file is escaped here before it becomes HTML."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from html import escape
from typing import Any

from portability import outcomes
from portability.results import storage
from portability.results.report.data import Column
from portability.results.summary import target
from portability.usage import inventory


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
