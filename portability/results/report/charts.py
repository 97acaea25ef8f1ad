"""The report's charts: matplotlib figures rendered to inline SVG (no network, no JavaScript).

Each chart takes the runs and returns an ``<svg ...>`` string, or None when it has nothing to draw; the
numbers come from ``figures`` (testable as tables), this module only draws them. Text stays text
(``svg.fonttype: none``): the SVG is smaller, a browser renders it crisply, and a test can read the
labels. A fixed ``svg.hashsalt`` and no date make the same runs give the same SVG. Figures are built
with ``matplotlib.figure.Figure`` and never through pyplot, so no global figure state is touched.
"""

from __future__ import annotations

import io
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from portability import outcomes
from portability.results import storage
from portability.results.report import figures
from portability.results.report.figures import OURS, SLOW_10X, STUDY, WHISKERS

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

#: Width of every chart in inches: at 72 pt an inch it fills a 1400 px page (the page scales an SVG
#: down to its column, never up), so 10 pt text reads as 13 px.
WIDTH = 13.0
#: Height of one bar's row, and what a figure adds for its axis, legend and notes.
ROW = 0.3
FRAME = 1.6
_RC: dict[Any, Any] = {  # Any keys: matplotlib types them as a Literal of every rcParam
    "svg.fonttype": "none",
    "svg.hashsalt": "portability-report",
    "font.size": 10,
    "axes.titlesize": 11,
    "axes.titleweight": "bold",
    "legend.fontsize": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
}
#: One colour per failure category, fixed so a category looks the same in every chart.
_PALETTE = ("#1f77b4", "#aec7e8", "#ff7f0e", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
            "#bcbd22", "#17becf", "#98df8a")
CATEGORY_COLOR = dict(zip(outcomes.FAILURE_CATEGORIES, _PALETTE, strict=True))
#: The study's rows are hatched: its numbers beside ours, never mistaken for them.
STUDY_HATCH = "////"
COMPLETE_COLOR = "#b2182b"
PARTIAL_COLOR = "#f4a582"
STUDY_NOTE = ("Study: Mince et al., NeurIPS 2023 (TensorFlow 2.11, PyTorch 1.12, JAX 0.4.8; NVIDIA T4 GPU, "
              "TPU v2/v3), from its published results.")


@contextmanager
def _style() -> Iterator[None]:
    import matplotlib

    with matplotlib.rc_context(_RC):
        yield


def _figure(rows: int, ncols: int = 1, extra: float = 0.0, **kw: Any) -> tuple[Figure, Any]:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(WIDTH, ROW * max(rows, 1) + FRAME + extra), layout="constrained")
    return fig, fig.subplots(1, ncols, squeeze=True, **kw)


def _svg(fig: Figure) -> str:
    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight", metadata={"Date": None})
    text = buf.getvalue()
    return text[text.index("<svg"):]


def _rows_axis(ax: Axes, labels: Sequence[str], study: Sequence[bool]) -> None:
    """Row labels top to bottom; the study's in italics."""
    ax.set_yticks(range(len(labels)), labels)
    ax.set_ylim(len(labels) - 0.5, -0.5)
    for tick, is_study in zip(ax.get_yticklabels(), study, strict=True):
        if is_study:
            tick.set_fontstyle("italic")


def _framework_rules(ax: Axes, frameworks: Sequence[str]) -> None:
    """A thin line between the rows of one framework and the next."""
    for i in range(1, len(frameworks)):
        if frameworks[i] != frameworks[i - 1]:
            ax.axhline(i - 0.5, color="#999999", linewidth=0.6)


def _percent_axis(ax: Axes, top: float, label: str) -> None:
    from matplotlib.ticker import PercentFormatter

    ax.set_xlim(0, top)
    ax.xaxis.set_major_formatter(PercentFormatter(decimals=0))
    ax.set_xlabel(label)
    ax.grid(axis="x", color="#e5e5e5", linewidth=0.6)
    ax.set_axisbelow(True)


def _ratio_axis(ax: Axes, label: str) -> None:
    """Log scale, a grey 1x line and a dashed red 10x line, labelled."""
    from matplotlib.ticker import FuncFormatter

    ax.set_xscale("log")
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}x"))
    ax.axvline(1.0, color="#777777", linewidth=0.8)
    ax.axvline(SLOW_10X, color="#d62728", linestyle="--", linewidth=1.0)
    ax.text(SLOW_10X, 1.0, " 10x slower", color="#d62728", fontsize=9, va="bottom", ha="center",
            transform=ax.get_xaxis_transform())
    ax.set_xlabel(label)
    ax.grid(axis="x", which="major", color="#e5e5e5", linewidth=0.6)
    ax.set_axisbelow(True)


def _times(ratio: float) -> str:
    """``8.86x``, ``0.31x``, ``1,260x``."""
    return f"{ratio:.3g}x" if ratio < 1000 else f"{ratio:,.0f}x"


def _ink(color: str) -> str:
    """Black or white, whichever reads on ``color`` (a ``#rrggbb``): by its relative luminance."""
    r, g, b = (int(color[i:i + 2], 16) / 255 for i in (1, 3, 5))
    return "#000000" if 0.2126 * r + 0.7152 * g + 0.0722 * b > 0.45 else "#ffffff"


def _ratio_limits(ax: Axes, lo: float, hi: float) -> None:
    """Room for the 1x and 10x lines and what is drawn (the whiskers, not the extremes: the row's text
    gives its maximum), in whole decades."""
    import math

    ax.set_xlim(10 ** math.floor(math.log10(min(lo, 0.5))), 10 ** math.ceil(math.log10(max(hi * 1.5, 20.0))))


def _boxes(ax: Axes, dists: Sequence[figures.RatioDistribution | None], positions: Sequence[int]) -> None:
    """Boxes without fliers (quartiles, median, whiskers at ``WHISKERS`` percentiles) and, right of the
    axis, each row's n, median and counts."""
    drawn = [(d, p) for d, p in zip(dists, positions, strict=True) if d is not None]
    if drawn:
        ax.bxp([d.box() for d, _ in drawn], positions=[p for _, p in drawn], orientation="horizontal",
               showfliers=False, widths=0.6, patch_artist=True,
               boxprops={"facecolor": "#c6dbef", "edgecolor": "#08519c"},
               medianprops={"color": "#08519c", "linewidth": 2})
    trans = ax.get_yaxis_transform()
    for d, p in zip(dists, positions, strict=True):
        text = "not timed" if d is None else (f"n={d.n} · median {_times(d.median)} · {d.slower_10x} >10x · "
                                              f"{d.faster} faster · max {_times(d.ratios[-1])}")
        ax.text(1.01, p, text, transform=trans, va="center", fontsize=9, clip_on=False)


# -- failure categories -------------------------------------------------------------------------

def category_share_chart(runs: Sequence[storage.Run]) -> str | None:
    """Failure categories as shares of the assessed functions, per framework x target (x run), with the
    count of functions in each segment; the study's categories for the same framework and device kind
    beside ours (hatched; ``figures.STUDY_CATEGORY`` maps its names onto ours)."""
    rows = figures.category_shares(runs)
    if not any(r.counts for r in rows if r.source == OURS):
        return None
    present = [c for c in outcomes.FAILURE_CATEGORIES if any(r.counts.get(c) for r in rows)]
    with _style():
        fig, ax = _figure(len(rows), extra=0.5)
        totals = []
        for i, row in enumerate(rows):
            left = 0.0
            for cat in present:
                width = 100 * row.share(cat)
                if not width:
                    continue
                ax.barh(i, width, left=left, color=CATEGORY_COLOR[cat], edgecolor="white", linewidth=0.5,
                        hatch=STUDY_HATCH if row.source == STUDY else None, height=0.7)
                if width >= 2.5:  # the count where it fits in its segment
                    study = row.source == STUDY  # on a hatched bar the count gets a white ground
                    ax.text(left + width / 2, i, str(row.counts[cat]), ha="center", va="center", fontsize=8,
                            color="#000000" if study else _ink(CATEGORY_COLOR[cat]),
                            bbox={"facecolor": "white", "edgecolor": "none", "pad": 0.6} if study else None)
                left += width
            totals.append(left)
        top = max(max(totals) * 1.45, 5.0)
        for i, (row, end) in enumerate(zip(rows, totals, strict=True)):
            if row.source == STUDY:
                what = f"study: {row.failing} of {row.assessed} functions fail" if row.failing is not None else (
                    f"study: {sum(row.counts.values())} failures by category, of {row.assessed} functions")
            else:
                pct = 100 * (row.failing or 0) / row.assessed
                what = f"{row.failing} of {row.assessed} functions fail ({pct:.0f}%)"
            ax.text(end + top * 0.01, i, what, va="center", fontsize=8.5, color="#333333")
        _rows_axis(ax, [r.label for r in rows], [r.source == STUDY for r in rows])
        _framework_rules(ax, [r.framework for r in rows])
        _percent_axis(ax, top, "share of the assessed functions failing with each category "
                               "(a function counts once in each category it fails with)")
        from matplotlib.patches import Patch

        handles = [Patch(facecolor=CATEGORY_COLOR[c], label=c) for c in present]
        if any(r.source == STUDY for r in rows):
            handles.append(Patch(facecolor="white", edgecolor="#555555", hatch=STUDY_HATCH, label="study (2023)"))
        # a figure legend above the axes: an axes legend outside the axes would make the constrained
        # layout narrow the bars to the legend's width
        fig.legend(handles=handles, loc="outside upper left", ncol=len(handles), frameon=False)
        if any(r.source == STUDY for r in rows):
            mapping = ", ".join(f"{k} = {v}" for k, v in figures.STUDY_CATEGORY.items())
            fig.text(0, 0, f"{STUDY_NOTE} Its categories, assigned by hand, drawn as ours: {mapping}.",
                     fontsize=8.5, color="#555555", va="top", wrap=True)
        svg = _svg(fig)
    return svg


# -- time ratios --------------------------------------------------------------------------------

def ratio_chart(runs: Sequence[storage.Run]) -> str | None:
    """Time ratios (case / its reference: the host CPU, an eager call, a baseline run) per framework x
    target (x run), log scale, with the 10x line; each row's n, median and counts written beside it."""
    dists = figures.ratio_distributions(runs)
    if not dists:
        return None
    with _style():
        fig, ax = _figure(len(dists))
        _boxes(ax, dists, range(len(dists)))
        _rows_axis(ax, [d.label for d in dists], [False] * len(dists))
        _framework_rules(ax, [d.framework for d in dists])
        _ratio_axis(ax, f"time ratio, case / reference (log scale); box: quartiles and median, whiskers: "
                        f"{WHISKERS[0]:g}th-{WHISKERS[1]:g}th percentile")
        _ratio_limits(ax, min(d.box()["whislo"] for d in dists), max(d.box()["whishi"] for d in dists))
        svg = _svg(fig)
    return svg


# -- compiled against eager ---------------------------------------------------------------------

def modes_chart(runs: Sequence[storage.Run]) -> str | None:
    """Compiled against eager per framework x backend (x run): left, the share of the compared functions
    failing compiled only (a portability failure of the mode) and failing both ways; right, the
    compiled / eager time ratios, timed in one worker (log scale). None without compiled cases."""
    if not figures.has_compiled(runs):
        return None
    rows = figures.mode_shares(runs)
    if not rows:
        return None
    with _style():
        fig, (left, right) = _figure(len(rows), ncols=2, sharey=True, width_ratios=(1, 1.4))
        for i, row in enumerate(rows):
            a, b = 100 * row.compiled_only_share, 100 * row.both_share
            left.barh(i, a, color=COMPLETE_COLOR, height=0.7)
            left.barh(i, b, left=a, color="#bbbbbb", height=0.7)
            left.text(a + b + 1, i, f"{row.compiled_only} compiled only + {row.both} both ways, of {row.compared}",
                      va="center", fontsize=8.5)
        _rows_axis(left, [r.label for r in rows], [False] * len(rows))
        _framework_rules(left, [r.framework for r in rows])
        top = max(100 * (r.compiled_only_share + r.both_share) for r in rows)
        _percent_axis(left, max(top * 1.5, 10.0), "share of the compared functions")
        from matplotlib.patches import Patch

        left.legend(handles=[Patch(color=COMPLETE_COLOR, label="fail compiled only"),
                             Patch(color="#bbbbbb", label="fail both ways")],
                    loc="lower left", bbox_to_anchor=(0, 1.0), ncol=2, frameon=False)
        dists = [r.ratios for r in rows]
        _boxes(right, dists, range(len(rows)))
        _ratio_axis(right, "time compiled / eager (log scale)")
        timed = [d for d in dists if d is not None]
        _ratio_limits(right, min((d.box()["whislo"] for d in timed), default=1.0),
                      max((d.box()["whishi"] for d in timed), default=1.0))
        svg = _svg(fig)
    return svg


# -- the study beside ours ----------------------------------------------------------------------

def paper_chart(runs: Sequence[storage.Run]) -> str | None:
    """The study's Figure 1 beside ours: per framework, the % of functions failing completely (every
    case) and partly (some cases), the study's GPU (T4) and TPU (hatched) and ours per target (x run);
    a compile-only target sits beside the study's TPU, labelled "compiled, not run"."""
    rows = figures.failure_rates(runs)
    if not any(r.source == OURS for r in rows):
        return None
    with _style():
        fig, ax = _figure(len(rows), extra=0.4)
        for i, row in enumerate(rows):
            hatch = STUDY_HATCH if row.source == STUDY else None
            ax.barh(i, row.complete_pct, color=COMPLETE_COLOR, hatch=hatch, edgecolor="white", height=0.7)
            ax.barh(i, row.partial_pct, left=row.complete_pct, color=PARTIAL_COLOR, hatch=hatch, edgecolor="white",
                    height=0.7)
            total = row.complete + row.partial
            ax.text(row.complete_pct + row.partial_pct + 0.6, i,
                    f"{row.complete} complete + {row.partial} partial of {row.functions} "
                    f"({100 * total / row.functions:.0f}%)", va="center", fontsize=8.5)
        _rows_axis(ax, [r.label for r in rows], [r.source == STUDY for r in rows])
        _framework_rules(ax, [r.framework for r in rows])
        top = max(r.complete_pct + r.partial_pct for r in rows)
        _percent_axis(ax, min(max(top * 1.5, 10.0), 100.0), "functions failing on the target (% of assessed)")
        from matplotlib.patches import Patch

        ax.legend(handles=[Patch(color=COMPLETE_COLOR, label="complete failure (every case)"),
                           Patch(color=PARTIAL_COLOR, label="partial failure (some cases)"),
                           Patch(facecolor="white", edgecolor="#555555", hatch=STUDY_HATCH, label="study (2023)")],
                  loc="lower left", bbox_to_anchor=(0, 1.0), ncol=3, frameon=False)
        fig.text(0, 0, f"{STUDY_NOTE} Ours: every function of the catalog with a case that ran on the target; "
                       "a failure on the reference (cpu) is the framework's limitation, not a portability failure.",
                 fontsize=8.5, color="#555555", va="top", wrap=True)
        svg = _svg(fig)
    return svg


def paper_latency_chart(runs: Sequence[storage.Run]) -> str | None:
    """The study's latency figures beside our time ratios, per framework: its median TPU / GPU (T4)
    ratio as a marker (it gives a median and counts, not a distribution), ours as boxes against each
    row's own reference (the host CPU, an eager call, a baseline run): not the same pair of devices,
    which the labels say. None when our runs have no timed ratios."""
    dists = figures.ratio_distributions(runs)
    if not dists:
        return None
    study = {s.framework: s for s in figures.study_latency()}
    labels: list[str] = []
    kinds: list[bool] = []
    frameworks: list[str] = []
    ours: list[figures.RatioDistribution | None] = []
    marks: list[tuple[int, figures.StudyLatency]] = []
    for fw in dict.fromkeys(d.framework for d in dists):
        if fw in study:
            marks.append((len(labels), study[fw]))
            labels.append(f"study: {fw} / TPU vs GPU (T4)")
            kinds.append(True)
            frameworks.append(fw)
            ours.append(None)
        for d in dists:
            if d.framework == fw:
                labels.append(d.label)
                kinds.append(False)
                frameworks.append(fw)
                ours.append(d)
    with _style():
        fig, ax = _figure(len(labels), extra=0.3)
        positions = [i for i, d in enumerate(ours) if d is not None]
        _boxes(ax, [d for d in ours if d is not None], positions)
        trans = ax.get_yaxis_transform()
        for i, s in marks:
            ax.plot([s.median_ratio], [i], marker="D", color="#000000", markersize=7, linestyle="none")
            ax.text(1.01, i, f"median {s.note or f'{s.median_ratio:g}x'} of {s.compared} functions, "
                             f"{s.slower_10x} >10x slower, {s.faster} faster", transform=trans, va="center",
                    fontsize=9, fontstyle="italic", clip_on=False)
        _rows_axis(ax, labels, kinds)
        _framework_rules(ax, frameworks)
        _ratio_axis(ax, "time ratio (log scale): study, TPU / GPU per function, median (diamond); ours, case / "
                        "the reference the row names (box: quartiles, median; whiskers: "
                        f"{WHISKERS[0]:g}th-{WHISKERS[1]:g}th percentile)")
        _ratio_limits(ax, min([d.box()["whislo"] for d in dists] + [s.median_ratio for _, s in marks]),
                      max([d.box()["whishi"] for d in dists] + [s.median_ratio for _, s in marks]))
        fig.text(0, 0, STUDY_NOTE + " Its ratios are one device over another on the same functions; ours are "
                 "against the reference each row names, so the two are set side by side, not compared.",
                 fontsize=8.5, color="#555555", va="top", wrap=True)
        svg = _svg(fig)
    return svg
