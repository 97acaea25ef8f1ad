"""The report's charts: matplotlib figures rendered to inline SVG (no network, no JavaScript)."""

from __future__ import annotations

import io
from collections import Counter, defaultdict
from collections.abc import Sequence
from typing import Any

from portability import outcomes
from portability.results import storage
from portability.results.report.data import short_id
from portability.results.summary import target


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
            key = f"{c['framework']} / {target(c)} · {short_id(run.run_id)}"
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
            ratio = c.get("ratio") or {}
            r = ratio.get("ratio")
            if r:
                groups[f"{c['framework']} / {target(c)} vs {ratio.get('reference', '?')} · "
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
