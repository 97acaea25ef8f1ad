"""The measurement loop: calibrated steady-state rounds, alone or interleaved with a reference.

It runs in the worker, which supplies the framework's synchronisation inside the timed region;
the statistics of the samples are in ``portability.stats``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

from portability.stats import median_ci_width

#: Default round budget per case: at least ``min_rounds`` steady-state rounds, then more until
#: ``budget_s`` is spent or ``max_rounds`` is reached.
MIN_ROUNDS = 5
MAX_ROUNDS = 200
BUDGET_S = 0.1
#: Calibration: rounds aim at BUDGET/ROUNDS_PER_BUDGET seconds each (4 ms at the default budget).
ROUNDS_PER_BUDGET = 25
MAX_CALLS_PER_ROUND = 10_000
#: ``--timing-precision``: rounds stop once the 95% interval of the median is this narrow relative to
#: the median (0: every case spends its whole budget).
PRECISION = 0.05


def precise(series: Sequence[Sequence[float]], precision: float) -> bool:
    """Whether every series' median is known to ``precision`` (``stats.median_ci_width``)."""
    if precision <= 0:
        return False
    widths = [median_ci_width(s) for s in series]
    return all(w is not None and w <= precision for w in widths)


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
    precision: float = PRECISION,
    clock: Callable[[], float] = time.perf_counter,
) -> tuple[list[float], int]:
    """Steady-state rounds of ``thunk``: (seconds per call in each round, calls per round).

    Every call is synchronised inside the timed region. Rounds continue past ``min_rounds``
    until the budget is spent, so slow kernels are not run for minutes, or, given a ``precision``,
    until the median is known that well (``precise``), whichever comes first. No output outlives its
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
        if len(samples) >= min_rounds and (clock() - started >= budget_s or precise([samples], precision)):
            break
    return samples, calls


def measure_interleaved(
    thunks: Sequence[Callable[[], Any]],
    sync: Callable[[Any], None],
    *,
    min_rounds: int = MIN_ROUNDS,
    max_rounds: int = MAX_ROUNDS,
    budget_s: float = BUDGET_S,
    precision: float = PRECISION,
    clock: Callable[[], float] = time.perf_counter,
) -> list[tuple[list[float], int]]:
    """Rounds of several thunks taken in turn (a, b, a, b, ...), each calibrated and timed as in
    ``measure``: slow drift of the machine affects every series alike. Each thunk gets about
    ``budget_s`` of rounds, fewer once every series' median is known to ``precision``."""
    calls = [calibrate(t, sync, budget_s, clock) for t in thunks]
    samples: list[list[float]] = [[] for _ in thunks]
    started = clock()
    while len(samples[0]) < max_rounds:
        for series, thunk, n in zip(samples, thunks, calls, strict=True):
            t0 = clock()
            for _ in range(n):
                sync(thunk())
            series.append((clock() - t0) / n)
        if len(samples[0]) >= min_rounds and (clock() - started >= budget_s * len(thunks)
                                              or precise(samples, precision)):
            break
    return list(zip(samples, calls, strict=True))
