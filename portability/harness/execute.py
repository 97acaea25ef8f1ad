"""One case from the pytest process's side: ask a framework worker for its facts, draw the verdict
(``portability.verdicts``), confirm a slowdown once, and build the record that is stored."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from portability import outcomes, verdicts
from portability.catalog import Kernel
from portability.catalog.cases import Case
from portability.harness import against
from portability.options import Settings
from portability.records import CaseRecord, Facts, RatioRecord, WorkerInfo, clean_text
from portability.runner.pool import Pool
from portability.vocabulary import DEFAULT_MODE, DEFAULT_SIZE, DEFAULT_TPU_TOPOLOGY


def build_record(case: Case, kernel: Kernel, nodeid: str, facts: Facts | Mapping[str, Any], verdict: verdicts.Verdict,
                 ratio: RatioRecord | None, duration: float, usage: dict[str, Any] | None = None) -> CaseRecord:
    """The stored record of a case (``portability.records.CaseRecord``)."""
    error: Mapping[str, Any] = facts.get("error") or {}
    return {
        "key": case.key,
        "id": nodeid,
        "framework": case.framework,
        "api": case.api,
        "category": kernel.category,
        "dtype": case.dtype,
        "variant": case.variant,
        "backend": case.backend,
        "mode": case.mode,
        "outcome": verdict.outcome,
        "failure": outcomes.category_of(verdict.outcome),
        "message": clean_text(verdicts.first_line(verdict.message, 500)),
        "exception": error.get("type"),
        "stage": error.get("stage"),
        "traceback": clean_text(error["traceback"]) if error.get("traceback") else None,
        "device_used": facts.get("devices_used"),
        "host_fallbacks": facts.get("host_fallbacks"),
        "output_dtypes": facts.get("output_dtypes"),
        "check": facts.get("check"),
        "tolerance_used": (facts.get("numerics") or {}).get("tolerance_used"),
        "warnings": [clean_text(w) for w in facts.get("warnings") or []],
        "timing": facts.get("timing"),
        "reference_timing": facts.get("reference_timing"),
        "ratio": ratio,
        "tags": list(kernel.tags),
        "device_only": kernel.device_only,
        "compile": facts.get("compile"),
        "paper": kernel.paper,
        "paper_name": kernel.paper_name,
        "decile": kernel.decile,  # the paper's decile and mined calls, for a paper function
        "frequency": kernel.frequency,
        "usage": usage,  # our frequency table: calls, decile, and how our usage sample drew it
        "size": facts.get("size"),
        "worker_pid": facts.get("pid"),
        "check_s": facts.get("check_s"),
        "worker_s": facts.get("worker_s"),
        "duration_s": round(duration, 6),
        "repro": f"pytest '{nodeid}' --backend={case.backend}",
    }


def repro(case: Case, nodeid: str, s: Settings) -> str:
    """The command that runs this case again as it ran here: the options that change its inputs or
    its target are spelled out where they are not the defaults."""
    flags = [f"--backend={case.backend}"]
    if case.mode != DEFAULT_MODE:
        flags.append(f"--mode={case.mode}")
    if s.size != DEFAULT_SIZE:
        flags.append(f"--size={s.size}")
    if case.backend == "tpu-compile" and s.tpu_topology != DEFAULT_TPU_TOPOLOGY:
        flags.append(f"--tpu-topology={s.tpu_topology}")
    if case.framework == "jax" and not s.jax_x64:
        flags.append("--jax-x64=off")
    if s.against is not None:
        flags.append(f"--against={s.against}")
    return f"pytest '{nodeid}' {' '.join(flags)}"


@dataclass
class CaseContext:
    """What every case of a run shares: the options, the framework workers and what they see, the
    ``--baseline`` run's records and the ``--expectations`` listed, both by case key."""

    settings: Settings
    pool: Pool
    infos: dict[str, WorkerInfo]
    baseline: dict[str, CaseRecord] = field(default_factory=dict)
    expected: dict[str, str] = field(default_factory=dict)
    worker_id: str | None = None
    #: ``--against``: the workers of the other environment, and what they see
    other: Pool | None = None
    other_infos: dict[str, WorkerInfo] = field(default_factory=dict)


def _unseen(case: Case, infos: Mapping[str, WorkerInfo]) -> verdicts.Verdict | None:
    """``unavailable`` when the case's framework runs here but cannot see its backend."""
    info = infos.get(case.framework)
    if info is not None and case.backend not in info["visible"]:
        return verdicts.Verdict(outcomes.UNAVAILABLE, f"cannot see {case.backend}: "
                                f"{info['reasons'].get(case.backend, '?')}")
    return None


def run_against(ctx: CaseContext, case: Case, kernel: Kernel, nodeid: str, usage: dict[str, Any] | None) -> CaseRecord:
    """``--against``: the case here (A, the record) and in the other environment (B, its ``against``),
    timed side by side, with what B changed (``change``). No slowdown verdict: the B/A change says it."""
    assert ctx.other is not None
    s = ctx.settings
    t0 = time.monotonic()
    config = {"budget_s": s.timing_budget, "size": s.size}
    a: Facts | dict[str, Any] = {"backend": case.backend}
    b: Facts | dict[str, Any] = {"backend": case.backend}
    a_unseen, b_unseen = _unseen(case, ctx.infos), _unseen(case, ctx.other_infos)
    side_by_side = False
    if a_unseen is None and b_unseen is None:
        a, b, side_by_side = against.run_pair(ctx.pool, ctx.other, case.framework, case.__dict__, config,
                                              s.case_timeout)
    elif a_unseen is None:  # one side cannot see the backend: the other still says how the case ends there
        a = ctx.pool.run(case.framework, case.__dict__, {**config, "reference_timing": False}, s.case_timeout)
    elif b_unseen is None:
        b = ctx.other.run(case.framework, case.__dict__, {**config, "reference_timing": False}, s.case_timeout)
    duration = time.monotonic() - t0
    record = build_record(case, kernel, nodeid, a, a_unseen or verdicts.case_outcome(a), None, duration, usage)
    other = build_record(case, kernel, nodeid, b, b_unseen or verdicts.case_outcome(b), None, duration, usage)
    record["against"] = against.against_record(other)
    change = against.change_record(record, other, s.change_threshold, side_by_side)
    if change["change"] in (verdicts.SLOWER, verdicts.FASTER):
        # as a slowdown, a change of time must show twice: both sides are measured once more, side by
        # side, and judged again (a VM losing its CPU for a moment disturbs one measurement, not two),
        # each in a fresh worker: an A/A run once showed torch.randperm 1.5x slower on one side, twice
        # in the same pair of workers and never in new ones (what a worker's allocator has been through)
        ctx.pool.renew(case.framework)
        ctx.other.renew(case.framework)
        a2, b2, paired = against.run_pair(ctx.pool, ctx.other, case.framework, case.__dict__, config, s.case_timeout)
        again = against.change_record(build_record(case, kernel, nodeid, a2, verdicts.case_outcome(a2), None, 0.0),
                                      build_record(case, kernel, nodeid, b2, verdicts.case_outcome(b2), None, 0.0),
                                      s.change_threshold, paired)
        change = against.confirmed(change, again)
    record["change"] = change
    return record


def run_case(ctx: CaseContext, case: Case, kernel: Kernel, nodeid: str, usage: dict[str, Any] | None) -> CaseRecord:
    s = ctx.settings
    if ctx.other is not None:
        return _finish(ctx, case, nodeid, run_against(ctx, case, kernel, nodeid, usage))
    t0 = time.monotonic()
    config = {"budget_s": s.timing_budget, "precision": s.timing_precision, "reference_timing": s.baseline is None,
              "size": s.size}
    facts: Facts | dict[str, Any]
    unseen = _unseen(case, ctx.infos)
    if unseen is not None:
        facts = {"backend": case.backend}
        verdict = unseen
    else:
        facts = ctx.pool.run(case.framework, case.__dict__, config, s.case_timeout)
        verdict = verdicts.case_outcome(facts)
    baseline = ctx.baseline.get(case.key)
    verdict, ratio = verdicts.judge_slowdown(verdict, facts, baseline, s.threshold, s.baseline_noise)
    if verdict.outcome == outcomes.SLOWDOWN:
        # A slowdown must show twice: the case is measured once more and judged again. A
        # machine that stalls for a moment (a shared VM losing its CPU for whole scheduler
        # ticks) slows one measurement, not two taken apart.
        again = ctx.pool.run(case.framework, case.__dict__, config, s.case_timeout)
        confirmed, ratio_again = verdicts.judge_slowdown(verdicts.case_outcome(again), again, baseline, s.threshold,
                                                         s.baseline_noise)
        if ratio is not None:
            ratio["confirmation"] = ratio_again
        if confirmed.outcome != outcomes.SLOWDOWN:
            verdict = verdicts.Verdict(outcomes.PASS, "")
    return _finish(ctx, case, nodeid, build_record(case, kernel, nodeid, facts, verdict, ratio, time.monotonic() - t0,
                                                   usage))


def _finish(ctx: CaseContext, case: Case, nodeid: str, record: CaseRecord) -> CaseRecord:
    """What every record gains from the run: its repro command, its expectation, its xdist worker."""
    s = ctx.settings
    record["repro"] = repro(case, nodeid, s)
    if s.expectations is not None:
        record["expected"] = ctx.expected.get(case.key)
    if ctx.worker_id:
        record["xdist_worker"] = ctx.worker_id  # timed beside other workers: see run.json "parallel"
    return record
