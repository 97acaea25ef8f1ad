"""``--against PYTHON``: one case in this environment (A) and in another (B), from the pytest process.

Each side's worker runs the case up to its timing and keeps it open; the rounds are then asked for
one at a time, A, B, A, B, so that whatever the machine does meanwhile (clock changes, other load)
hits both releases alike, as an accelerator case is timed against the host CPU in one worker. The
change of B against A is drawn by ``verdicts.change`` from the two records, with no run-to-run noise
allowance: the two series were taken side by side.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from portability import stats, verdicts
from portability.records import CaseOutcome, CaseRecord, ChangeRecord
from portability.runner import timing
from portability.runner.pool import Pool

#: What a record keeps of side B: its outcome and the facts behind it (the case's identity is A's).
AGAINST_FIELDS = tuple(CaseOutcome.__annotations__)


def run_pair(a_pool: Pool, b_pool: Pool, framework: str, case: Mapping[str, Any], config: Mapping[str, Any],
             timeout: float) -> tuple[dict[str, Any], dict[str, Any], bool]:
    """The facts of one case on both sides, and whether both were timed side by side, their rounds
    interleaved (a compiled case is timed on each side against its own eager call instead)."""
    opened = {**config, "rounds_by_request": True, "reference_timing": False}
    a = a_pool.run(framework, case, opened, timeout)
    b = b_pool.run(framework, case, opened, timeout)
    side_by_side = "pending_timing" in a and "pending_timing" in b
    if side_by_side:
        interleave(((a_pool, a), (b_pool, b)), framework, config.get("budget_s", timing.BUDGET_S), timeout)
    for pool, facts in ((a_pool, a), (b_pool, b)):
        if facts.pop("pending_timing", None) is not None:
            pool.end(framework)
    return a, b, side_by_side and "timing" in a and "timing" in b


def interleave(sides: tuple[tuple[Pool, dict[str, Any]], ...], framework: str, budget_s: float,
               timeout: float) -> None:
    """Rounds of each side in turn until both have ``MIN_ROUNDS`` and the sides' budgets are spent (or
    ``MAX_ROUNDS``); each side's facts gain their ``timing``. A round that fails ends the timing:
    that side's facts gain the error (or the worker's end), and no side is timed."""
    samples: list[list[float]] = [[] for _ in sides]
    # the same calls per round on both sides (the larger calibration: a disturbed one comes out low),
    # so that both average the same number of calls and pay the round's own overhead alike
    calls = max(int(facts["pending_timing"]["calls_per_round"]) for _, facts in sides)
    started = time.monotonic()
    deadline = started + timeout
    while len(samples[0]) < timing.MAX_ROUNDS:
        for series, (pool, facts) in zip(samples, sides, strict=True):
            got = pool.round(framework, calls, max(deadline - time.monotonic(), 0.001))
            if "s" not in got:
                facts.update(got)  # "terminated" (the worker is gone) or "error" (a call raised)
                return
            series.append(float(got["s"]))
        if len(samples[0]) >= timing.MIN_ROUNDS and time.monotonic() - started >= budget_s * len(sides):
            break
    for series, (_, facts) in zip(samples, sides, strict=True):
        pending = facts["pending_timing"]
        facts["timing"] = {"first_call_s": pending["first_call_s"], "samples_s": series,
                           "calls_per_round": calls, "interleaved": True,
                           **stats.summarize(series)}


def against_record(b: CaseRecord) -> CaseOutcome:
    """Side B of a case as its record keeps it."""
    return {k: b[k] for k in AGAINST_FIELDS}  # type: ignore[literal-required, return-value]


def change_record(a: CaseRecord, b: CaseRecord, threshold: float, side_by_side: bool) -> ChangeRecord:
    """What B changed against A: the rule is ``verdicts.change`` (BASE A, NEW B), for times taken
    side by side with the median of per-round ratios and no noise allowance; other times (a compiled
    case's, each against its own eager call) are not compared."""
    mismatch = None if side_by_side else "not timed side by side (a compiled case is timed against eager on each side)"
    kind, detail, r = verdicts.change(a, b, threshold, 1.0, mismatch, paired=side_by_side)
    return {"change": kind, "detail": detail, "ratio": r.ratio if r else None, "ci_low": r.low if r else None,
            "ci_high": r.high if r else None, "threshold": threshold}


def confirmed(first: ChangeRecord, again: ChangeRecord) -> ChangeRecord:
    """A change of time measured twice: kept when the second measurement shows it too, else ``not
    significant``; the second one's ratio is kept either way (``confirmation``)."""
    kept: ChangeRecord = {**first, "confirmation": again}
    if again["change"] != first["change"]:
        kept["change"] = verdicts.NOT_SIGNIFICANT
        kept["detail"] = f"{first['change']} at first ({first['detail']}), {again['change']} when measured again"
    return kept
