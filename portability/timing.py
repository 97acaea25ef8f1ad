"""Timing statistics: pure functions over lists of seconds.

The measurement loop itself lives in the worker (it needs the framework's synchronisation);
here are the summaries stored with the raw samples and the slowdown decision.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from pytest_benchmark.stats import Stats

#: Default round budget per case: at least ``min_rounds`` steady-state rounds, then more until
#: ``budget_s`` is spent or ``max_rounds`` is reached.
MIN_ROUNDS = 5
MAX_ROUNDS = 200
BUDGET_S = 0.2
#: Confidence level of the ratio interval and the number of bootstrap resamples.
CONFIDENCE = 0.95
RESAMPLES = 2000


def summarize(samples: Sequence[float]) -> dict[str, Any]:
    """pytest-benchmark's statistics of timing samples (seconds): median, quartiles and IQR,
    min/max, mean/stddev, and its outlier counts ("IQR outliers;stddev outliers")."""
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
    }


def measure(
    thunk: Callable[[], Any],
    sync: Callable[[Any], None],
    *,
    min_rounds: int = MIN_ROUNDS,
    max_rounds: int = MAX_ROUNDS,
    budget_s: float = BUDGET_S,
    clock: Callable[[], float] = time.perf_counter,
) -> list[float]:
    """Steady-state rounds of ``thunk``, each synchronised inside the timed region.

    Rounds continue past ``min_rounds`` until the budget is spent, so fast kernels get many
    samples and slow ones are not run for minutes. No output outlives its round: holding the
    last one while the next is computed would time two live buffers instead of one.
    """
    samples: list[float] = []
    started = clock()
    while len(samples) < max_rounds:
        t0 = clock()
        sync(thunk())
        samples.append(clock() - t0)
        if len(samples) >= min_rounds and clock() - started >= budget_s:
            break
    return samples


def measure_interleaved(
    thunks: Sequence[Callable[[], Any]],
    sync: Callable[[Any], None],
    *,
    min_rounds: int = MIN_ROUNDS,
    max_rounds: int = MAX_ROUNDS,
    budget_s: float = BUDGET_S,
    clock: Callable[[], float] = time.perf_counter,
) -> list[list[float]]:
    """Rounds of several thunks taken in turn (a, b, a, b, ...), each synchronised inside its
    timed region: slow drift of the machine affects every series alike. Each thunk gets about
    ``budget_s`` of rounds."""
    samples: list[list[float]] = [[] for _ in thunks]
    started = clock()
    while len(samples[0]) < max_rounds:
        for series, thunk in zip(samples, thunks, strict=True):
            t0 = clock()
            sync(thunk())
            series.append(clock() - t0)
        if len(samples[0]) >= min_rounds and clock() - started >= budget_s * len(thunks):
            break
    return samples


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


def is_slowdown(ratio: Ratio, threshold: float) -> bool:
    """Significantly slower by at least ``threshold``: the whole interval lies above it."""
    return ratio.low > threshold
