"""One catalog run in this pytest process, in one of three roles:

- ``PlainRun``: this process runs the cases and owns the run directory;
- ``Controller`` of ``pytest -n``: owns ``run.json`` and runs nothing;
- ``XdistWorker``: runs cases with framework workers of its own and appends their records to the
  controller's ``cases.jsonl``, then reports what it saw back to the controller.
"""

from __future__ import annotations

import contextlib
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from portability.harness import environment
from portability.harness.collect import CaseItem
from portability.harness.execute import CaseContext, run_case
from portability.options import Settings
from portability.records import CaseRecord, RunMeta, WorkerInfo
from portability.results import expectations, storage
from portability.runner import cpus
from portability.runner.pool import LogWriteError, Pool, WorkerStartError
from portability.verdicts import timing_mismatch
from portability.vocabulary import FRAMEWORKS


def unavailable_error(backends: tuple[str, ...], infos: dict[str, WorkerInfo]) -> str | None:
    """The one-line usage error when a requested backend is visible to no framework, else None."""
    for backend in backends:
        if not any(backend in info["visible"] for info in infos.values()):
            seen = "; ".join(f"{fw} sees {', '.join(info['visible']) or 'nothing'}" for fw, info in infos.items())
            reasons = "; ".join(f"{fw}: {info['reasons'].get(backend, '?')}" for fw, info in infos.items())
            return f"backend {backend!r} is not available on this machine: {seen} ({reasons})"
    return None


def frameworks_meta(infos: dict[str, WorkerInfo]) -> dict[str, dict[str, Any]]:
    keys = ("versions", "visible", "reasons", "numerics", "import_s", "cpus", "threads", "timing_settings", "allocator",
            "compile_targets")
    return {fw: {k: info.get(k) for k in keys} for fw, info in infos.items()}


def compile_targets(frameworks: dict[str, dict[str, Any]]) -> dict[str, dict[str, dict[str, str]]]:
    """run.json's ``compile_targets``: per compile-only backend, per framework that reaches it, the
    compiler, its version, the topology and the chip."""
    out: dict[str, dict[str, dict[str, str]]] = {}
    for fw, meta in frameworks.items():
        for backend, target in (meta.get("compile_targets") or {}).items():
            out.setdefault(backend, {})[fw] = target
    return out


def run_meta(config: pytest.Config, s: Settings, collected: int | None, parallel: dict[str, Any] | None) -> RunMeta:
    """What ``run.json`` says before any case has run."""
    return {
        "command": sys.argv,
        "options": {
            "backends": list(s.backends), "frameworks": list(s.frameworks), "modes": list(s.modes),
            "dtypes": list(s.dtypes) if s.dtypes else None,
            "size": s.size,
            "baseline": str(s.baseline) if s.baseline else None,
            "slowdown_threshold": s.threshold, "baseline_noise": s.baseline_noise,
            "case_timeout_s": s.case_timeout,
            "timing_budget_s": s.timing_budget, "timing_precision": s.timing_precision,
            "cpu_threads": s.cpu_threads,
            "expectations": str(s.expectations) if s.expectations else None,
            "tpu_topology": s.tpu_topology if "tpu-compile" in s.backends else None,
            "jax_x64": s.jax_x64,
            "worker_memory_bytes": s.worker_memory,
        },
        "machine": environment.machine(Path(str(config.rootpath))),
        "parallel": parallel,
        "frameworks": {},
        "collected": collected,
    }


class RunSession:
    """What every role shares: the settings, the records written by this process, and (in the roles
    that run cases) the framework workers."""

    def __init__(self, config: pytest.Config, settings: Settings) -> None:
        self.config = config
        self.settings = settings
        self.writer: storage.RunWriter | None = None
        self.records: list[CaseRecord] = []
        #: case key -> the outcome ``--expectations`` lists for it
        self.expected: dict[str, str] = expectations.read(settings.expectations) if settings.expectations else {}
        self.started = time.monotonic()
        self.context: CaseContext | None = None
        self.log: storage.CaseLog | None = None
        #: why the run stopped before its end on its own (a run file it could not write)
        self.stopped: str | None = None

    # -- running cases (PlainRun, XdistWorker) ---------------------------------------------------------
    def _open_log(self, items: list[CaseItem]) -> Path:
        raise NotImplementedError

    def _worker_slot(self) -> tuple[int, str]:
        return 0, ""

    def start(self, items: list[CaseItem]) -> None:
        """Start a worker per framework, check the backends, and open the run's files."""
        s = self.settings
        baseline: dict[str, CaseRecord] = {}
        if s.baseline is not None:
            try:
                base = storage.read_run(s.baseline)
            except storage.RunFileError as exc:
                raise pytest.UsageError(f"--baseline: {exc}") from None
            mismatch = timing_mismatch(base.meta, {"options": {"size": s.size, "cpu_threads": s.cpu_threads}})
            if mismatch:
                raise pytest.UsageError(
                    f"--baseline {str(s.baseline)!r} and this run would be {mismatch} (baseline vs this run): "
                    "their timings are not comparable; run with the baseline's --size and --cpu-threads")
            baseline = storage.latest_by_key(base.cases)
        frameworks = [fw for fw in FRAMEWORKS if any(it.case.framework == fw for it in items)]
        try:
            run_dir = self._open_log(items)
        except storage.RunWriteError as exc:
            raise pytest.UsageError(f"--results-dir {str(s.results_dir)!r}: {exc}") from None
        slot, prefix = self._worker_slot()
        pool = Pool(run_dir, prefix=prefix, cpus=cpus.choose(s.cpu_threads, slot, cpus.allowed()),
                    threads=s.cpu_threads, options=s.worker_options(), memory_limit=s.worker_memory)
        self.context = CaseContext(s, pool, {}, baseline, self.expected, prefix.rstrip("-") or None)
        try:
            self.context.infos = pool.start(frameworks)  # type: ignore[assignment]
        except (WorkerStartError, LogWriteError) as exc:
            self._abandon()
            raise pytest.UsageError(str(exc)) from None
        problem = unavailable_error(s.backends, self.context.infos)
        if problem:
            self._abandon()
            raise pytest.UsageError(problem)
        if s.against is not None:
            # the other environment's workers share this side's CPUs: the two never run at once
            other = Pool(run_dir, prefix=f"{prefix}against-", cpus=pool.cpus, threads=s.cpu_threads,
                         options=s.worker_options(), memory_limit=s.worker_memory, python=s.against)
            self.context.other = other
            try:
                self.context.other_infos = other.start(frameworks)  # type: ignore[assignment]
            except (WorkerStartError, LogWriteError) as exc:
                self._abandon()
                raise pytest.UsageError(f"--against {s.against!r}: {exc}") from None
        if self.writer is not None:
            infos = self.context.infos
            self.writer.update(frameworks=frameworks_meta(infos),
                               numerics={k: v for info in infos.values() for k, v in info["numerics"].items()},
                               compile_targets=compile_targets(frameworks_meta(infos)),
                               **({"against": self.against_meta()} if s.against is not None else {}))

    def against_meta(self) -> dict[str, Any]:
        """run.json's ``against``: the other environment's interpreter, its Python and its frameworks."""
        info = self.settings.against_info or {}
        return {"python": self.settings.against, "python_version": info.get("python"),
                "versions": info.get("versions", {}), "change_threshold": self.settings.change_threshold,
                "frameworks": frameworks_meta(self.context.other_infos if self.context else {})}

    def execute(self, item: CaseItem) -> CaseRecord:
        """Run a case and append its record. A run file that cannot be written (a full disk) stops the
        whole run at once, never a case: every record written so far is kept, and pytest exits 2."""
        assert self.context is not None and self.log is not None
        try:
            record = run_case(self.context, item.case, item.kernel, item.nodeid, item.usage)
            self.log.append(record)
        except (storage.RunWriteError, LogWriteError) as exc:
            self.stopped = str(exc)
            # the terminal summary says where the finished cases are (plugin.pytest_terminal_summary)
            pytest.exit(str(exc), returncode=pytest.ExitCode.INTERRUPTED)
        self.records.append(record)
        return record

    def _close_writer(self, status: str, **fields: Any) -> None:
        """End ``run.json``; when even that cannot be written, it stays ``running``, which readers
        report as interrupted once this process is gone."""
        assert self.writer is not None
        with contextlib.suppress(storage.RunWriteError):
            self.writer.close(status, **({"stopped": self.stopped} if self.stopped else {}), **fields)

    def _abandon(self) -> None:
        """Nothing ran: leave no run directory behind."""
        self._close_pool()
        if self.writer:
            self.writer.close(storage.INTERRUPTED)
            shutil.rmtree(self.writer.dir, ignore_errors=True)
            self.writer = None
        elif self.log:
            self.log.close()
        self.log = None

    def _close_pool(self) -> None:
        if self.context is not None:
            self.context.pool.close()
            if self.context.other is not None:
                self.context.other.close()

    def _stats(self) -> dict[str, Any]:
        pool = self.context.pool if self.context else None
        return {
            "workers_started": pool.started if pool else 0,
            "worker_startup_s": [round(x, 3) for x in pool.startup_s] if pool else [],
        }

    def finish(self, exitstatus: int) -> None:
        raise NotImplementedError

    @staticmethod
    def status(exitstatus: int) -> str:
        interrupted = exitstatus in (pytest.ExitCode.INTERRUPTED, pytest.ExitCode.INTERNAL_ERROR)
        return storage.INTERRUPTED if interrupted else storage.COMPLETE


class PlainRun(RunSession):
    """``pytest`` without ``-n``: this process runs every case and owns the run directory."""

    def _open_log(self, items: list[CaseItem]) -> Path:
        self.writer = storage.RunWriter(self.settings.results_dir, run_meta(self.config, self.settings,
                                                                            len(items), None))
        self.log = self.writer.cases
        return self.writer.dir

    def finish(self, exitstatus: int) -> None:
        self._close_pool()
        if self.writer is None:
            return
        wall = round(time.monotonic() - self.started, 3)
        self._close_writer(self.status(exitstatus), wall_s=wall, load_average_end=environment.load_average(),
                           **self._stats())


class XdistWorker(RunSession):
    """A ``pytest -n`` worker: runs its share of the cases into the controller's run directory."""

    def __init__(self, config: pytest.Config, settings: Settings, workerinput: dict[str, Any]) -> None:
        super().__init__(config, settings)
        self.workerinput = workerinput
        self.worker_id: str = workerinput["workerid"]

    def _open_log(self, items: list[CaseItem]) -> Path:
        run_dir = Path(self.workerinput["portability_run_dir"])
        self.log = storage.CaseLog(run_dir / "cases.jsonl")
        return run_dir

    def _worker_slot(self) -> tuple[int, str]:
        return int(self.worker_id.removeprefix("gw")), f"{self.worker_id}-"

    def start(self, items: list[CaseItem]) -> None:
        super().start(items)
        self._report()  # at once: an interrupted controller may never hear from this worker

    def _report(self) -> None:
        """What this worker saw, in ``xdist-<id>.json`` of the run directory, where the controller
        reads it at the end (xdist's own channel is gone when the run is interrupted)."""
        if self.log is None:
            return
        infos = self.context.infos if self.context else {}
        with contextlib.suppress(storage.RunWriteError):  # a full disk: the next case stops the run
            storage.write_worker_report(self.log.path.parent, self.worker_id, {
                "worker": self.worker_id, "frameworks": frameworks_meta(infos), "stopped": self.stopped,
                "against_frameworks": frameworks_meta(self.context.other_infos if self.context else {}),
                **self._stats(),
            })

    def finish(self, exitstatus: int) -> None:
        self._close_pool()
        if self.log:
            self.log.close()
            self._report()


class Controller(RunSession):
    """The ``pytest -n`` controller: makes the run directory, runs nothing, and writes the ending
    ``run.json`` from what its workers report."""

    def __init__(self, config: pytest.Config, settings: Settings, plan: dict[str, Any]) -> None:
        super().__init__(config, settings)
        self.plan = plan

    def open_for_workers(self) -> Path:
        """Create the run directory the xdist workers write into."""
        if self.writer is None:
            self.writer = storage.RunWriter(self.settings.results_dir,
                                            run_meta(self.config, self.settings, None, self.plan))
        return self.writer.dir

    def start(self, items: list[CaseItem]) -> None:
        raise AssertionError("the controller of pytest -n runs no case")

    def finish(self, exitstatus: int) -> None:
        if self.writer is None:
            return
        outputs = storage.read_worker_reports(self.writer.dir)
        if not any(o["frameworks"] for o in outputs) and not storage.has_cases(self.writer.dir):
            self._abandon()  # no worker ran a catalog case
            return
        # Interrupted, a worker may not have said what it saw; its finished cases are kept all the same.
        self.stopped = self.stopped or next((o["stopped"] for o in outputs if o.get("stopped")), None)
        frameworks: dict[str, Any] = {}
        theirs: dict[str, Any] = {}
        for out in outputs:
            for fw, meta in out["frameworks"].items():
                frameworks.setdefault(fw, meta)
            for fw, meta in (out.get("against_frameworks") or {}).items():
                theirs.setdefault(fw, meta)
        if self.settings.against is not None:
            self.writer.update(against={**self.against_meta(), "frameworks": theirs})
        self._close_writer(
            self.status(exitstatus), wall_s=round(time.monotonic() - self.started, 3),
            load_average_end=environment.load_average(),
            collected=self.config.stash.get(COLLECTED_KEY, None),
            frameworks=frameworks,
            numerics={k: v for meta in frameworks.values() for k, v in meta["numerics"].items()},
            compile_targets=compile_targets(frameworks),
            # each xdist worker's framework workers run on CPUs of their own (portability.runner.cpus)
            xdist_cpus={o.get("worker"): {fw: meta.get("cpus") for fw, meta in o["frameworks"].items()}
                        for o in outputs},
            workers_started=sum(o["workers_started"] for o in outputs),
            worker_startup_s=[x for o in outputs for x in o["worker_startup_s"]],
        )
        self.records = storage.read_run(self.writer.dir).cases


def for_config(config: pytest.Config, settings: Settings, plan: dict[str, Any] | None) -> RunSession:
    """The role of this process: an xdist worker, the controller of ``pytest -n``, or a plain run."""
    workerinput = getattr(config, "workerinput", None)
    if workerinput is not None:
        return XdistWorker(config, settings, workerinput)
    if plan is not None:
        return Controller(config, settings, plan)
    return PlainRun(config, settings)


COLLECTED_KEY = pytest.StashKey[int]()
