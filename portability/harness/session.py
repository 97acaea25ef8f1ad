"""One pytest session of the catalog: workers, the run directory, and a record per case."""

from __future__ import annotations

import shutil
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from portability import outcomes, verdicts
from portability.catalog import Kernel
from portability.catalog.cases import Case
from portability.harness import environment
from portability.options import Settings
from portability.results import compare, expectations, storage
from portability.runner import cpus, timing
from portability.runner.pool import Pool, WorkerStartError
from portability.vocabulary import FRAMEWORKS

if TYPE_CHECKING:
    from portability.harness.collect import CaseItem


def unavailable_error(backends: tuple[str, ...], infos: dict[str, dict[str, Any]]) -> str | None:
    """The one-line usage error when a requested backend is visible to no framework, else None."""
    for backend in backends:
        if not any(backend in info["visible"] for info in infos.values()):
            seen = "; ".join(f"{fw} sees {', '.join(info['visible']) or 'nothing'}" for fw, info in infos.items())
            reasons = "; ".join(f"{fw}: {info['reasons'].get(backend, '?')}" for fw, info in infos.items())
            return f"backend {backend!r} is not available on this machine: {seen} ({reasons})"
    return None


def build_record(case: Case, kernel: Kernel, nodeid: str, facts: dict[str, Any], verdict: verdicts.Verdict,
                 ratio: dict[str, Any] | None, duration: float, usage: dict[str, Any] | None = None) -> dict[str, Any]:
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
        "message": verdicts.first_line(verdict.message, 500),
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


def judge_slowdown(
    verdict: verdicts.Verdict, facts: dict[str, Any], baseline: dict[str, Any] | None, threshold: float,
    baseline_noise: float = 1.0,
) -> tuple[verdicts.Verdict, dict[str, Any] | None]:
    """Turn a pass into a slowdown when the time ratio's interval lies above the threshold.

    Reference: the same case in the ``--baseline`` run if given, else the host CPU timed in the
    same worker (accelerator backends only, rounds interleaved). Without either, there is no
    slowdown verdict. The bootstrap interval only knows the noise inside one run; against
    another run the machine's run-to-run noise is added: the interval's lower end, divided by
    ``baseline_noise``, must still exceed the threshold.
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
    noise = baseline_noise if reference == "baseline" else 1.0
    ratio = {**r.as_dict(), "reference": reference, "threshold": threshold, "noise": noise}
    if verdict.outcome == outcomes.PASS and timing.is_slowdown(r, threshold * noise):
        allowance = f", run-to-run noise {noise:g}x" if noise != 1.0 else ""
        return verdicts.Verdict(
            outcomes.SLOWDOWN,
            f"{r.ratio:.2f}x slower than the {reference} (95% CI {r.low:.2f}-{r.high:.2f}x, "
            f"threshold {threshold:g}x{allowance})",
        ), ratio
    return verdict, ratio


def _frameworks_meta(infos: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    keys = ("versions", "visible", "reasons", "numerics", "import_s", "cpus", "threads")
    return {fw: {k: info[k] for k in keys} for fw, info in infos.items()}


class PortabilitySession:
    """The state of one catalog run in this process.

    Three roles: a plain run (this process runs the cases and owns the run directory); under
    ``pytest -n`` the controller (owns ``run.json``, runs nothing) and each xdist worker (runs
    cases with its own framework workers and appends them to the controller's ``cases.jsonl``).
    """

    def __init__(self, config: pytest.Config, settings: Settings) -> None:
        self.config = config
        self.settings = settings
        self.pool: Pool | None = None
        self.writer: storage.RunWriter | None = None
        self.cases: storage.CaseLog | None = None
        self.infos: dict[str, dict[str, Any]] = {}
        self.records: list[dict[str, Any]] = []
        self.baseline: dict[str, dict[str, Any]] = {}
        self.apis: dict[str, str] = {}  # qualified API -> the catalog file that defines it
        self.usage: dict[str, dict[str, dict[str, Any]]] = {}  # catalog folder -> inventory.usage
        #: case id -> the outcome ``--expectations`` lists for it
        self.expected: dict[str, str] = expectations.read(settings.expectations) if settings.expectations else {}
        self.node_outputs: list[dict[str, Any]] = []
        self.parallel: dict[str, Any] | None = None  # the -n plan, in the controller
        self.started = time.monotonic()
        workerinput = getattr(config, "workerinput", None) if config is not None else None
        self.workerinput: dict[str, Any] | None = workerinput
        self.worker_id: str | None = workerinput["workerid"] if workerinput else None

    def _meta(self, collected: int | None, parallel: dict[str, Any] | None) -> dict[str, Any]:
        s = self.settings
        return {
            "command": sys.argv,
            "options": {
                "backends": list(s.backends), "frameworks": list(s.frameworks),
                "dtypes": list(s.dtypes) if s.dtypes else None,
                "size": s.size,
                "baseline": str(s.baseline) if s.baseline else None,
                "slowdown_threshold": s.threshold, "baseline_noise": s.baseline_noise,
                "case_timeout_s": s.case_timeout,
                "timing_budget_s": s.timing_budget,
                "cpu_threads": s.cpu_threads,
                "expectations": str(s.expectations) if s.expectations else None,
            },
            "machine": environment.machine(Path(str(self.config.rootpath))),
            "parallel": parallel,
            "frameworks": {},
            "collected": collected,
        }

    def open_for_workers(self, parallel: dict[str, Any]) -> Path:
        """Controller of ``pytest -n``: create the run directory the xdist workers write into."""
        if self.writer is None:
            self.writer = storage.RunWriter(self.settings.results_dir, self._meta(None, parallel))
        return self.writer.dir

    def start(self, items: list[CaseItem]) -> None:
        """Start a worker per framework, check the backends, and open the run directory."""
        s = self.settings
        if s.baseline is not None:
            try:
                base = storage.read_run(s.baseline)
            except storage.RunFileError as exc:
                raise pytest.UsageError(f"--baseline: {exc}") from None
            mismatch = compare.timing_mismatch(base.meta, {"options": {"size": s.size, "cpu_threads": s.cpu_threads}})
            if mismatch:
                raise pytest.UsageError(
                    f"--baseline {str(s.baseline)!r} and this run would be {mismatch} (baseline vs this run): "
                    "their timings are not comparable; run with the baseline's --size and --cpu-threads")
            self.baseline = storage.latest_by_id(base.cases)
        frameworks = [fw for fw in FRAMEWORKS if any(it.case.framework == fw for it in items)]
        if self.workerinput is not None:
            run_dir = Path(self.workerinput["portability_run_dir"])
            self.cases = storage.CaseLog(run_dir / "cases.jsonl")
        else:
            self.writer = storage.RunWriter(s.results_dir, self._meta(len(items), None))
            self.cases = self.writer.cases
            run_dir = self.writer.dir
        slot = int(self.worker_id.removeprefix("gw")) if self.worker_id else 0
        self.pool = Pool(run_dir, prefix=f"{self.worker_id}-" if self.worker_id else "",
                         cpus=cpus.choose(s.cpu_threads, slot, cpus.allowed()), threads=s.cpu_threads)
        try:
            self.infos = self.pool.start(frameworks)
        except WorkerStartError as exc:
            self._abandon()
            raise pytest.UsageError(str(exc)) from None
        problem = unavailable_error(s.backends, self.infos)
        if problem:
            self._abandon()
            raise pytest.UsageError(problem)
        if self.writer is not None:
            self.writer.update(
                frameworks=_frameworks_meta(self.infos),
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
        elif self.cases:
            self.cases.close()
        self.cases = None

    def execute(self, item: CaseItem) -> dict[str, Any]:
        assert self.pool is not None and self.cases is not None
        case, s = item.case, self.settings
        t0 = time.monotonic()
        info = self.infos.get(case.framework)
        if info is not None and case.backend not in info["visible"]:
            facts: dict[str, Any] = {"backend": case.backend}
            verdict = verdicts.Verdict(outcomes.UNAVAILABLE, f"cannot see {case.backend}: "
                                       f"{info['reasons'].get(case.backend, '?')}")
        else:
            config = {"budget_s": s.timing_budget, "reference_timing": s.baseline is None, "size": s.size}
            facts = self.pool.run(case.framework, case.__dict__, config, s.case_timeout)
            verdict = verdicts.case_outcome(facts)
        baseline = self.baseline.get(item.nodeid)
        verdict, ratio = judge_slowdown(verdict, facts, baseline, s.threshold, s.baseline_noise)
        if verdict.outcome == outcomes.SLOWDOWN:
            # A slowdown must show twice: the case is measured once more and judged again. A
            # machine that stalls for a moment (a shared VM losing its CPU for whole scheduler
            # ticks) slows one measurement, not two taken apart.
            again = self.pool.run(case.framework, case.__dict__, config, s.case_timeout)
            confirmed, ratio_again = judge_slowdown(verdicts.case_outcome(again), again, baseline, s.threshold,
                                                    s.baseline_noise)
            if ratio is not None:
                ratio["confirmation"] = ratio_again
            if confirmed.outcome != outcomes.SLOWDOWN:
                verdict = verdicts.Verdict(outcomes.PASS, "")
        record = build_record(case, item.kernel, item.nodeid, facts, verdict, ratio, time.monotonic() - t0,
                              item.usage)
        if self.settings.expectations is not None:
            record["expected"] = self.expected.get(item.nodeid)
        if self.worker_id:
            record["xdist_worker"] = self.worker_id  # timed beside other workers: see run.json "parallel"
        self.cases.append(record)
        self.records.append(record)
        return record

    def _stats(self) -> dict[str, Any]:
        return {
            "workers_started": self.pool.started if self.pool else 0,
            "worker_startup_s": [round(x, 3) for x in self.pool.startup_s] if self.pool else [],
        }

    def finish(self, exitstatus: int) -> None:
        interrupted = exitstatus in (pytest.ExitCode.INTERRUPTED, pytest.ExitCode.INTERNAL_ERROR)
        if self.pool:
            self.pool.close()
        status = storage.INTERRUPTED if interrupted else storage.COMPLETE
        if self.workerinput is not None:  # an xdist worker reports to the controller
            if self.cases:
                self.cases.close()
            self.config.workeroutput["portability"] = {  # type: ignore[attr-defined]
                "worker": self.worker_id, "frameworks": _frameworks_meta(self.infos), **self._stats(),
            }
            return
        if self.writer is None:
            return
        wall = round(time.monotonic() - self.started, 3)
        if self.node_outputs or self.writer.meta.get("parallel"):  # controller of pytest -n
            if not self.node_outputs or not any(o["frameworks"] for o in self.node_outputs):
                self._abandon()  # no worker ran a catalog case
                return
            frameworks: dict[str, Any] = {}
            for out in self.node_outputs:
                for fw, meta in out["frameworks"].items():
                    frameworks.setdefault(fw, meta)
            self.writer.close(
                status, wall_s=wall, load_average_end=environment.load_average(),
                collected=self.config.stash.get(COLLECTED_KEY, None),
                frameworks=frameworks,
                numerics={k: v for meta in frameworks.values() for k, v in meta["numerics"].items()},
                # each xdist worker's framework workers run on CPUs of their own (portability.runner.cpus)
                xdist_cpus={o.get("worker"): {fw: meta.get("cpus") for fw, meta in o["frameworks"].items()}
                            for o in self.node_outputs},
                workers_started=sum(o["workers_started"] for o in self.node_outputs),
                worker_startup_s=[x for o in self.node_outputs for x in o["worker_startup_s"]],
            )
            self.records = storage.read_run(self.writer.dir).cases
            return
        self.writer.close(status, wall_s=wall, load_average_end=environment.load_average(), **self._stats())


COLLECTED_KEY = pytest.StashKey[int]()
