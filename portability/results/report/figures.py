"""The numbers behind the report's charts, computed from run files as plain data (no plotting here,
so every chart can be checked as a table): failure categories as shares of the assessed functions,
time-ratio distributions, compiled against eager, and the study's figures (``paper_figures.json``)
beside ours.

Rows are per framework x target (``summary.target``: a backend, and its mode where not eager), and per
run where several runs are given: their labels then end in the run's short id (``data.short_id``).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from portability import outcomes
from portability.results import storage, summary
from portability.results.report.data import paper_comparison, paper_figures, short_id
from portability.vocabulary import COMPILE_ONLY, FRAMEWORKS

OURS = "ours"
STUDY = "study"
#: The study's failure categories (its own names, counted by hand) in ours: the inverse of
#: ``outcomes.PAPER_CATEGORY``, where the study's "Not Implemented" covers our ``not_implemented`` and
#: ``missing`` and is drawn as ``not_implemented``.
STUDY_CATEGORY: dict[str, str] = {}
for _ours, _theirs in outcomes.PAPER_CATEGORY.items():
    STUDY_CATEGORY.setdefault(_theirs, _ours)
#: The study's device for each device kind (README of shared/paper: NVIDIA T4 GPUs, TPU v2/v3 VMs).
STUDY_DEVICE = {"gpu": "GPU (T4)", "tpu": "TPU"}
#: A time ratio above this is the study's "more than 10x slower".
SLOW_10X = 10.0
#: The whiskers of a ratio box reach these percentiles: the distribution's body without its tails,
#: which a whole catalog has by the hundred (drawn as points they would make the page heavy).
WHISKERS = (5.0, 95.0)


def device_kind(target: str) -> str | None:
    """The study's device kind a target can be set beside: ``gpu``, ``tpu``, a compile-only backend's
    device (``tpu-compile`` -> ``tpu``), and None for the rest (``cpu``, ``xla-cpu``, which is the host
    CPU through torch_xla, not a TPU). A compiled mode is the same device."""
    backend = summary.split_target(target)[0]
    kind = COMPILE_ONLY.get(backend, backend)
    return kind if kind in STUDY_DEVICE else None


def run_suffixes(runs: Sequence[storage.Run]) -> dict[str, str]:
    """run id -> what a row label ends with: nothing for one run; `` · <short id>`` for several."""
    if len({r.run_id for r in runs}) <= 1:
        return {r.run_id: "" for r in runs}
    return {r.run_id: f" · {short_id(r.run_id)}" for r in runs}


def target_label(target: str) -> str:
    """A target as a row shows it: a compile-only backend says that nothing ran."""
    backend = summary.split_target(target)[0]
    return f"{target} (compiled, not run)" if backend in COMPILE_ONLY else target


def _fw_order(framework: str) -> int:
    names = list(FRAMEWORKS)
    return names.index(framework) if framework in names else len(names)


# -- failure categories as shares -----------------------------------------------------------------

@dataclass(frozen=True)
class CategoryShares:
    """One bar of the category chart: of ``assessed`` functions (those with a case that ran), how many
    fail with each category. A function counts once per category it fails with, so a function failing
    in two categories is in both, and the shares can add up to more than ``failing / assessed``.
    The study's rows (``source == STUDY``) have its hand-made categories mapped onto ours
    (``STUDY_CATEGORY``) and its sample size as the denominator."""

    label: str
    source: str
    framework: str
    target: str
    run_id: str
    assessed: int
    #: functions with any failing case (the study's "any failure"; None where it gives none)
    failing: int | None
    counts: Mapping[str, int] = field(default_factory=dict)

    def share(self, category: str) -> float:
        return self.counts.get(category, 0) / self.assessed if self.assessed else 0.0


def _our_shares(run: storage.Run, suffix: str) -> list[CategoryShares]:
    rows = summary.function_verdicts(run.cases)
    categories: dict[tuple[str, str, str], set[str]] = defaultdict(set)
    for c in run.cases:
        if (cat := outcomes.category_of(c["outcome"])) is not None:
            categories[(c["framework"], summary.target(c), c["api"])].add(cat)
    out = []
    for row in rows:
        if not row.assessed:
            continue
        counts: dict[str, int] = defaultdict(int)
        for api in row.verdicts:  # device-specific APIs are counted apart, as in the summary
            for cat in categories.get((row.framework, row.backend, api), ()):
                counts[cat] += 1
        failing = row.count(outcomes.FN_PARTIAL) + row.count(outcomes.FN_COMPLETE)
        out.append(CategoryShares(f"{row.framework} / {target_label(row.backend)}{suffix}", OURS, row.framework,
                                  row.backend, run.run_id, row.assessed, failing, dict(counts)))
    return out


def study_shares() -> list[CategoryShares]:
    """The study's failure categories per framework and device (``paper_figures.json``), mapped onto our
    names. The denominator is the study's functions for that framework and device (its failure rates),
    or, where it gives no rate (JAX on TPU), the framework's sample size on the other device."""
    figs = paper_figures()
    rates = {(r["framework"], r["backend"]): r for r in figs["failure_rates"]}
    sample = {r["framework"]: int(r["functions"]) for r in figs["failure_rates"]}
    out = []
    for row in figs["failure_categories"]:
        fw, kind = row["framework"], row["backend"]
        rate = rates.get((fw, kind))
        counts = {STUDY_CATEGORY[name]: int(n) for name, n in row.items() if name in STUDY_CATEGORY and n}
        out.append(CategoryShares(
            f"study: {fw} / {STUDY_DEVICE[kind]}", STUDY, fw, kind, "",
            int(rate["functions"]) if rate else sample.get(fw, 0), int(rate["any"]) if rate else None, counts))
    return out


def category_shares(runs: Sequence[storage.Run]) -> list[CategoryShares]:
    """Per framework x target x run, the failure categories as shares of the assessed functions; the
    study's row for a framework and device kind right before the first of ours of that kind."""
    suffixes = run_suffixes(runs)
    ours = [s for run in runs for s in _our_shares(run, suffixes[run.run_id])]
    study = {(s.framework, s.target): s for s in study_shares()}
    index = {run.run_id: i for i, run in enumerate(runs)}
    ours.sort(key=lambda s: (_fw_order(s.framework), s.framework, summary.target_order(s.target),
                             s.target, index[s.run_id]))
    out: list[CategoryShares] = []
    for s in ours:
        paper = study.pop((s.framework, kind), None) if (kind := device_kind(s.target)) else None
        if paper is not None:
            out.append(paper)
        out.append(s)
    return out


# -- time ratios --------------------------------------------------------------------------------

def quantile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0-100) of sorted ``values``, linearly interpolated (NumPy's default)."""
    if not values:
        raise ValueError("quantile of no values")
    pos = (len(values) - 1) * q / 100
    lo = math.floor(pos)
    hi = min(lo + 1, len(values) - 1)
    return values[lo] + (values[hi] - values[lo]) * (pos - lo)


@dataclass(frozen=True)
class RatioDistribution:
    """The time ratios (case / ``reference``) of one framework x target x run, sorted: what a box draws
    (quartiles, median, whiskers at the ``WHISKERS`` percentiles) and what its row says."""

    label: str
    framework: str
    target: str
    reference: str
    run_id: str
    ratios: tuple[float, ...]

    @property
    def n(self) -> int:
        return len(self.ratios)

    @property
    def median(self) -> float:
        return quantile(self.ratios, 50)

    @property
    def slower_10x(self) -> int:
        return sum(r > SLOW_10X for r in self.ratios)

    @property
    def faster(self) -> int:
        return sum(r < 1 for r in self.ratios)

    def box(self) -> dict[str, Any]:
        """The box as ``matplotlib.axes.Axes.bxp`` takes it: no fliers, whiskers at percentiles."""
        return {"med": self.median, "q1": quantile(self.ratios, 25), "q3": quantile(self.ratios, 75),
                "whislo": quantile(self.ratios, WHISKERS[0]), "whishi": quantile(self.ratios, WHISKERS[1]),
                "fliers": [], "label": self.label}


def _ratio(record: Mapping[str, Any]) -> tuple[str, float] | None:
    ratio = record.get("ratio") or {}
    r = ratio.get("ratio")
    if isinstance(r, (int, float)) and not isinstance(r, bool) and r > 0 and math.isfinite(r):
        return str(ratio.get("reference") or "?"), float(r)
    return None


def ratio_distributions(runs: Sequence[storage.Run]) -> list[RatioDistribution]:
    """Per framework x target x reference x run, the time ratios of the cases timed against a reference
    (a case record's ``ratio.ratio``: against the host CPU, an eager call, or a ``--baseline`` run)."""
    suffixes = run_suffixes(runs)
    out = []
    for i, run in enumerate(runs):
        groups: dict[tuple[str, str, str], list[float]] = defaultdict(list)
        for c in run.cases:
            if (found := _ratio(c)) is not None:
                groups[(c["framework"], summary.target(c), found[0])].append(found[1])
        for (fw, tgt, ref), values in groups.items():
            label = f"{fw} / {tgt} vs {ref}{suffixes[run.run_id]}"
            out.append((i, RatioDistribution(label, fw, tgt, ref, run.run_id, tuple(sorted(values)))))
    out.sort(key=lambda x: (_fw_order(x[1].framework), x[1].framework, summary.target_order(x[1].target),
                            x[1].target, x[1].reference, x[0]))
    return [d for _, d in out]


# -- compiled against eager ---------------------------------------------------------------------

@dataclass(frozen=True)
class ModeShares:
    """One framework x backend's compiled cases against its eager ones (``summary.modes_view``): of the
    ``compared`` functions, those failing compiled only (a portability failure of the mode) and those
    failing both ways; and the compiled / eager time ratios, timed in one worker."""

    label: str
    framework: str
    target: str
    run_id: str
    compared: int
    compiled_only: int
    both: int
    ratios: RatioDistribution | None

    @property
    def compiled_only_share(self) -> float:
        return self.compiled_only / self.compared if self.compared else 0.0

    @property
    def both_share(self) -> float:
        return self.both / self.compared if self.compared else 0.0


def has_compiled(runs: Sequence[storage.Run]) -> bool:
    return any((c.get("mode") or "eager") == "compiled" for run in runs for c in run.cases)


def mode_shares(runs: Sequence[storage.Run]) -> list[ModeShares]:
    suffixes = run_suffixes(runs)
    out = []
    for run in runs:
        for row in summary.modes_view(run.cases):
            if not row.compared:
                continue
            label = f"{row.framework} / {row.target}{suffixes[run.run_id]}"
            ratios = RatioDistribution(label, row.framework, row.target, row.time_reference or "eager call",
                                       run.run_id, tuple(sorted(row.time_ratios))) if row.time_ratios else None
            out.append(ModeShares(label, row.framework, row.target, run.run_id, len(row.compared),
                                  len(row.portability), len(row.both), ratios))
    return out


# -- the study's figures beside ours ------------------------------------------------------------

@dataclass(frozen=True)
class FailureRate:
    """The study's Figure 1: of ``functions``, those failing completely (every case) and partly (some)."""

    label: str
    source: str
    framework: str
    target: str
    functions: int
    complete: int
    partial: int

    @property
    def complete_pct(self) -> float:
        return 100 * self.complete / self.functions if self.functions else 0.0

    @property
    def partial_pct(self) -> float:
        return 100 * self.partial / self.functions if self.functions else 0.0


def failure_rates(runs: Sequence[storage.Run]) -> list[FailureRate]:
    """Per framework of our runs, the study's rates on its GPU and TPU and ours per target and run, in
    ``data.paper_comparison``'s order: a target beside the study's device of its kind, a compile-only
    target beside the study's TPU, labelled "compiled, not run"."""
    frameworks = {c["framework"] for run in runs for c in run.cases}
    suffixes = run_suffixes(runs)
    out = []
    for row in paper_comparison(runs):
        fw = row["framework"]
        if fw not in frameworks:
            continue
        if row["source"] == "paper":
            label = f"study: {fw} / {row['where']}"
            source = STUDY
        else:
            label = f"{fw} / {target_label(row['backend'])}{suffixes[row['run']]}"
            source = OURS
        out.append(FailureRate(label, source, fw, row["backend"], int(row["functions"]), int(row["complete"]),
                               int(row["partial"])))
    out.sort(key=lambda r: _fw_order(r.framework))  # stable: the comparison's order within a framework
    return out


@dataclass(frozen=True)
class StudyLatency:
    """The study's TPU-vs-GPU latency figures for one framework: it gives a median and counts, not a
    distribution, so a chart shows a marker."""

    framework: str
    pair: str
    compared: int
    faster: int
    slower_10x: int
    median_ratio: float
    note: str

    @property
    def text(self) -> str:
        median = self.note or f"{self.median_ratio:g}x"
        return (f"study {self.pair}: median {median}, {self.slower_10x} of {self.compared} >10x slower, "
                f"{self.faster} faster")


def study_latency() -> list[StudyLatency]:
    return [StudyLatency(r["framework"], r["pair"], int(r["compared"]), int(r["faster"]), int(r["slower_10x"]),
                         float(r["median_ratio"]), str(r.get("median_note") or ""))
            for r in paper_figures()["cross_hardware"]]
