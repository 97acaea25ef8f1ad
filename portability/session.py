"""One pytest session of the catalog: workers, the run directory, and a record per case."""

from __future__ import annotations

import shutil
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from portability import classify, environment, outcomes, storage, timing
from portability.catalog import FRAMEWORKS, Case, Kernel
from portability.options import Settings
from portability.pool import Pool, WorkerStartError

if TYPE_CHECKING:
    from portability.collect import CaseItem


def unavailable_error(backends: tuple[str, ...], infos: dict[str, dict[str, Any]]) -> str | None:
    """The one-line usage error when a requested backend is visible to no framework, else None."""
    for backend in backends:
        if not any(backend in info["visible"] for info in infos.values()):
            seen = "; ".join(f"{fw} sees {', '.join(info['visible']) or 'nothing'}" for fw, info in infos.items())
            reasons = "; ".join(f"{fw}: {info['reasons'].get(backend, '?')}" for fw, info in infos.items())
            return f"backend {backend!r} is not available on this machine: {seen} ({reasons})"
    return None


def build_record(case: Case, kernel: Kernel, nodeid: str, facts: dict[str, Any], verdict: classify.Verdict,
                 ratio: dict[str, Any] | None, duration: float) -> dict[str, Any]:
    error = facts.get("error") or {}
    return {
        "id": nodeid,
        "framework": case.framework,
        "api": case.api,
        "category": kernel.category,
        "dtype": case.dtype,
        "variant": case.variant,
        "backend": case.backend,
        "outcome": verdict.outcome,
        "failure": outcomes.category_of(verdict.outcome),
        "message": classify.first_line(verdict.message, 500),
        "exception": error.get("type"),
        "stage": error.get("stage"),
        "traceback": error.get("traceback"),
        "device_used": facts.get("devices_used"),
        "output_dtypes": facts.get("output_dtypes"),
        "check": facts.get("check"),
        "tolerance_used": (facts.get("numerics") or {}).get("tolerance_used"),
        "warnings": facts.get("warnings") or [],
        "timing": facts.get("timing"),
        "reference_timing": facts.get("reference_timing"),
        "ratio": ratio,
        "tags": list(kernel.tags),
        "paper": kernel.paper,
        "decile": kernel.decile,
        "frequency": kernel.frequency,
        "worker_pid": facts.get("pid"),
        "duration_s": round(duration, 6),
        "repro": f"pytest '{nodeid}' --backend={case.backend}",
    }


def judge_slowdown(
    verdict: classify.Verdict, facts: dict[str, Any], baseline: dict[str, Any] | None, threshold: float
) -> tuple[classify.Verdict, dict[str, Any] | None]:
    """Turn a pass into a slowdown when the time ratio's interval lies above the threshold.

    Reference: the same case in the ``--baseline`` run if given, else the host CPU timed in the
    same worker (accelerator backends only). Without either, there is no slowdown verdict.
    """
    samples = (facts.get("timing") or {}).get("samples_s")
    ref_samples, reference = None, None
    if baseline is not None and (baseline.get("timing") or {}).get("samples_s"):
        ref_samples, reference = baseline["timing"]["samples_s"], "baseline"
    elif (facts.get("reference_timing") or {}).get("samples_s"):
        ref_samples, reference = facts["reference_timing"]["samples_s"], "host cpu"
    if not samples or not ref_samples:
        return verdict, None
    r = timing.ratio_ci(samples, ref_samples)
    ratio = {**r.as_dict(), "reference": reference, "threshold": threshold}
    if verdict.outcome == outcomes.PASS and timing.is_slowdown(r, threshold):
        return classify.Verdict(
            outcomes.SLOWDOWN,
            f"{r.ratio:.2f}x slower than the {reference} (95% CI {r.low:.2f}-{r.high:.2f}x, threshold {threshold:g}x)",
        ), ratio
    return verdict, ratio


class PortabilitySession:
    def __init__(self, config: pytest.Config, settings: Settings) -> None:
        self.config = config
        self.settings = settings
        self.pool: Pool | None = None
        self.writer: storage.RunWriter | None = None
        self.infos: dict[str, dict[str, Any]] = {}
        self.records: list[dict[str, Any]] = []
        self.baseline: dict[str, dict[str, Any]] = {}
        self.apis: dict[str, str] = {}  # qualified API -> the catalog file that defines it
        self.started = time.monotonic()

    def start(self, items: list[CaseItem]) -> None:
        """Start a worker per framework, check the backends, and open the run directory."""
        s = self.settings
        if s.baseline is not None:
            try:
                base = storage.read_run(s.baseline)
            except storage.RunFileError as exc:
                raise pytest.UsageError(f"--baseline: {exc}") from None
            self.baseline = storage.latest_by_id(base.cases)
        frameworks = [fw for fw in FRAMEWORKS if any(it.case.framework == fw for it in items)]
        root = Path(str(self.config.rootpath))
        self.writer = storage.RunWriter(s.results_dir, {
            "command": sys.argv,
            "options": {
                "backends": list(s.backends), "frameworks": list(s.frameworks),
                "dtypes": list(s.dtypes) if s.dtypes else None,
                "baseline": str(s.baseline) if s.baseline else None,
                "slowdown_threshold": s.threshold, "case_timeout_s": s.case_timeout,
                "timing_budget_s": s.timing_budget,
            },
            "machine": environment.machine(root),
            "frameworks": {},
            "collected": len(items),
        })
        self.pool = Pool(self.writer.dir)
        try:
            self.infos = self.pool.start(frameworks)
        except WorkerStartError as exc:
            self._abandon()
            raise pytest.UsageError(str(exc)) from None
        problem = unavailable_error(s.backends, self.infos)
        if problem:
            self._abandon()
            raise pytest.UsageError(problem)
        self.writer.update(
            frameworks={fw: {k: info[k] for k in ("versions", "visible", "reasons", "numerics", "import_s")}
                        for fw, info in self.infos.items()},
            numerics={k: v for info in self.infos.values() for k, v in info["numerics"].items()},
        )

    def _abandon(self) -> None:
        """Nothing ran: leave no run directory behind."""
        if self.pool:
            self.pool.close()
            self.pool = None
        if self.writer:
            self.writer.close(storage.INTERRUPTED)
            shutil.rmtree(self.writer.dir, ignore_errors=True)
            self.writer = None

    def execute(self, item: CaseItem) -> dict[str, Any]:
        assert self.pool is not None and self.writer is not None
        case, s = item.case, self.settings
        t0 = time.monotonic()
        info = self.infos.get(case.framework)
        if info is not None and case.backend not in info["visible"]:
            facts: dict[str, Any] = {"backend": case.backend}
            verdict = classify.Verdict(outcomes.UNAVAILABLE, f"cannot see {case.backend}: "
                                       f"{info['reasons'].get(case.backend, '?')}")
        else:
            config = {"budget_s": s.timing_budget, "reference_timing": s.baseline is None}
            facts = self.pool.run(case.framework, case.__dict__, config, s.case_timeout)
            verdict = classify.case_outcome(facts)
        verdict, ratio = judge_slowdown(verdict, facts, self.baseline.get(item.nodeid), s.threshold)
        record = build_record(case, item.kernel, item.nodeid, facts, verdict, ratio, time.monotonic() - t0)
        self.writer.append(record)
        self.records.append(record)
        return record

    def finish(self, exitstatus: int) -> None:
        interrupted = exitstatus in (pytest.ExitCode.INTERRUPTED, pytest.ExitCode.INTERNAL_ERROR)
        if self.pool:
            self.pool.close()
        if self.writer:
            self.writer.close(
                storage.INTERRUPTED if interrupted else storage.COMPLETE,
                wall_s=round(time.monotonic() - self.started, 3),
                workers_started=self.pool.started if self.pool else 0,
                worker_startup_s=[round(x, 3) for x in self.pool.startup_s] if self.pool else [],
            )
