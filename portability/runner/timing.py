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
BUDGET_S = 0.1
#: Calibration: rounds aim at BUDGET/ROUNDS_PER_BUDGET seconds each (4 ms at the default budget).
ROUNDS_PER_BUDGET = 25
MAX_CALLS_PER_ROUND = 10_000
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


def calibrate(
    thunk: Callable[[], Any], sync: Callable[[Any], None], budget_s: float,
    clock: Callable[[], float] = time.perf_counter,
) -> int:
    """Calls per round, so that a round lasts about ``budget_s / ROUNDS_PER_BUDGET``.

    pytest-benchmark's calibration idea: a microsecond kernel is called many times per round
    (each call synchronised), so a sample averages over the states of the framework's thread
    pool (asleep, spinning) instead of catching one of them; medians of single calls of such
    kernels flip between modes from run to run. One call, untimed in the results, decides.
    """
    t0 = clock()
    sync(thunk())
    once = clock() - t0
    return max(1, min(int(budget_s / ROUNDS_PER_BUDGET / max(once, 1e-9)), MAX_CALLS_PER_ROUND))


def measure(
    thunk: Callable[[], Any],
    sync: Callable[[Any], None],
    *,
    min_rounds: int = MIN_ROUNDS,
    max_rounds: int = MAX_ROUNDS,
    budget_s: float = BUDGET_S,
    clock: Callable[[], float] = time.perf_counter,
) -> tuple[list[float], int]:
    """Steady-state rounds of ``thunk``: (seconds per call in each round, calls per round).

    Every call is synchronised inside the timed region. Rounds continue past ``min_rounds``
    until the budget is spent, so slow kernels are not run for minutes. No output outlives its
    call: holding the last one while the next is computed would time two live buffers.
    """
    calls = calibrate(thunk, sync, budget_s, clock)
    samples: list[float] = []
    started = clock()
    while len(samples) < max_rounds:
        t0 = clock()
        for _ in range(calls):
            sync(thunk())
        samples.append((clock() - t0) / calls)
        if len(samples) >= min_rounds and clock() - started >= budget_s:
            break
    return samples, calls


def measure_interleaved(
    thunks: Sequence[Callable[[], Any]],
    sync: Callable[[Any], None],
    *,
    min_rounds: int = MIN_ROUNDS,
    max_rounds: int = MAX_ROUNDS,
    budget_s: float = BUDGET_S,
    clock: Callable[[], float] = time.perf_counter,
) -> list[tuple[list[float], int]]:
    """Rounds of several thunks taken in turn (a, b, a, b, ...), each calibrated and timed as in
    ``measure``: slow drift of the machine affects every series alike. Each thunk gets about
    ``budget_s`` of rounds."""
    calls = [calibrate(t, sync, budget_s, clock) for t in thunks]
    samples: list[list[float]] = [[] for _ in thunks]
    started = clock()
    while len(samples[0]) < max_rounds:
        for series, thunk, n in zip(samples, thunks, calls, strict=True):
            t0 = clock()
            for _ in range(n):
                sync(thunk())
            series.append((clock() - t0) / n)
        if len(samples[0]) >= min_rounds and clock() - started >= budget_s * len(thunks):
            break
    return list(zip(samples, calls, strict=True))


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
