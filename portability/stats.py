"""Timing statistics: pure functions over lists of seconds (the summaries stored with the raw samples
and the bootstrap interval of a ratio of medians). The verdicts drawn from them are in
``portability.verdicts``; the measurement loop is in ``portability.runner.timing``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from pytest_benchmark.stats import Stats

#: Confidence level of the ratio interval and the number of bootstrap resamples.
CONFIDENCE = 0.95
RESAMPLES = 2000


def median_ci(samples: Sequence[float], confidence: float = CONFIDENCE) -> tuple[float, float] | None:
    """The distribution-free interval of the median: the sorted samples of ranks ``l`` and ``n - l + 1``,
    ``l`` the largest rank with P(Binomial(n, 1/2) < l) <= (1 - confidence) / 2. No assumption on the
    shape of the timings and no resampling, so it is cheap enough to ask after every round. None with
    too few samples for the confidence (fewer than 6 at 95%)."""
    n = len(samples)
    tail = (1 - confidence) / 2
    below, rank = 0.0, 0  # P(X < rank + 1), rank
    while rank < n:
        below += math.comb(n, rank) / 2**n
        if below > tail:
            break
        rank += 1
    if rank == 0:
        return None
    ordered = sorted(samples)
    return ordered[rank - 1], ordered[n - rank]


def median_ci_width(samples: Sequence[float], confidence: float = CONFIDENCE) -> float | None:
    """The width of ``median_ci`` relative to the median (0.04: the interval spans 4% of it); None
    when there is no interval yet."""
    ci = median_ci(samples, confidence)
    if ci is None:
        return None
    mid = float(np.median(samples))
    return (ci[1] - ci[0]) / mid if mid > 0 else None


def summarize(samples: Sequence[float]) -> dict[str, Any]:
    """pytest-benchmark's statistics of timing samples (seconds): median, quartiles and IQR,
    min/max, mean/stddev, and its outlier counts ("IQR outliers;stddev outliers"), with the relative
    width of the median's 95% interval (``median_ci_width``)."""
    if not samples:
        return {"rounds": 0, "median_s": None, "iqr_s": None}
    stats = Stats()
    for s in samples:
        stats.update(float(s))
    return {
        "rounds": stats.rounds,
        "median_s": stats.median,
        "iqr_s": stats.iqr,
        "q1_s": stats.q1,
        "q3_s": stats.q3,
        "min_s": stats.min,
        "max_s": stats.max,
        "mean_s": stats.mean,
        "stddev_s": stats.stddev,
        "outliers": stats.outliers,
        "median_ci_width": median_ci_width(samples),
    }


@dataclass(frozen=True)
class Ratio:
    """Ratio of median times target/reference with a bootstrap confidence interval."""

    ratio: float
    low: float
    high: float

    def as_dict(self) -> dict[str, float]:
        return {"ratio": self.ratio, "ci_low": self.low, "ci_high": self.high}


def ratio_ci(
    target: Sequence[float],
    reference: Sequence[float],
    *,
    confidence: float = CONFIDENCE,
    resamples: int = RESAMPLES,
    seed: int = 0,
) -> Ratio:
    """Median(target)/median(reference) with a percentile bootstrap interval.

    The seed is fixed so the same samples always give the same interval (a stored run can be
    re-judged and get the same verdict).
    """
    t = np.asarray(target, dtype=float)
    r = np.asarray(reference, dtype=float)
    if t.size == 0 or r.size == 0:
        raise ValueError("ratio_ci needs samples on both sides")
    rng = np.random.default_rng(seed)
    tm = np.median(rng.choice(t, size=(resamples, t.size), replace=True), axis=1)
    rm = np.median(rng.choice(r, size=(resamples, r.size), replace=True), axis=1)
    ratios = tm / np.maximum(rm, 1e-12)
    alpha = (1 - confidence) / 2
    low, high = np.quantile(ratios, [alpha, 1 - alpha])
    return Ratio(float(np.median(t) / max(float(np.median(r)), 1e-12)), float(low), float(high))


def paired_ratio_ci(
    target: Sequence[float],
    reference: Sequence[float],
    *,
    confidence: float = CONFIDENCE,
    resamples: int = RESAMPLES,
    seed: int = 0,
) -> Ratio:
    """The median of per-round ratios target[i]/reference[i], with a percentile bootstrap interval
    over the pairs: for rounds taken in turn (``--against``), each pair shares what the machine was
    doing at that moment, which a ratio of the two medians would count as noise."""
    t = np.asarray(target, dtype=float)
    r = np.asarray(reference, dtype=float)
    if t.size == 0 or t.size != r.size:
        raise ValueError("paired_ratio_ci needs the same number of samples on both sides")
    pairs = t / np.maximum(r, 1e-12)
    rng = np.random.default_rng(seed)
    medians = np.median(rng.choice(pairs, size=(resamples, pairs.size), replace=True), axis=1)
    alpha = (1 - confidence) / 2
    low, high = np.quantile(medians, [alpha, 1 - alpha])
    return Ratio(float(np.median(pairs)), float(low), float(high))


def format_seconds(seconds: float | None) -> str:
    """A time as people read it: ``1.23 s``, ``4.56 ms``, ``789 µs``; ``-`` for none."""
    if seconds is None:
        return "-"
    if seconds >= 1:
        return f"{seconds:.3g} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.3g} ms"
    return f"{seconds * 1e6:.3g} µs"
