"""Worker processes as seen from the pytest process: one live worker per framework.

A case that kills its worker is reported as a crash, one that outlives its time limit as a
timeout; either way the worker is replaced on the framework's next case and the run goes on.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import re
import signal
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from portability.runner import cpus as cpu_limits

#: How long a worker may take to import its framework and report its devices.
STARTUP_TIMEOUT_S = 180.0


def entry(conn: Any, framework: str, log_path: str, parent_pid: int, cpus: Sequence[int],
          threads: int | None, options: Mapping[str, Any] | None = None) -> None:
    """Target of the spawned worker process. Its CPUs and thread counts are set before anything
    imports NumPy or the framework (both size their thread pools on import), so this module
    imports the worker's machinery only here."""
    pinned = cpu_limits.limit(cpus, threads)
    from portability.runner import loop

    loop.main(conn, framework, log_path, parent_pid, pinned, options or {})


class WorkerStartError(RuntimeError):
    """A framework's worker died or failed before it was ready."""


@dataclass
class Worker:
    framework: str
    process: Any
    conn: Any
    log_path: Path
    info: dict[str, Any] = field(default_factory=dict)


def _log_tail(path: Path, lines: int = 400) -> list[str]:
    """The end of a worker's log: enough to reach past a native stack trace and Python's list of
    extension modules to the line that says why the worker died (a log holds one worker's life)."""
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return []
    return [ln for ln in text.splitlines()[-lines:] if ln.strip()]


#: ``F1206 22:18:37.653265    2341 shape.h:843] Check failed: buffer != nullptr``: level F, date, time,
#: thread, source location, message
_ABSL_FATAL = re.compile(r"^F\d{4} [\d:.]+\s+\d+ (\S+\] .*)$")


def crash_message(exitcode: int | None, log_tail: Iterable[str]) -> str:
    """One line: the signal or exit status, and the most telling line the worker printed."""
    if exitcode is not None and exitcode < 0:
        try:
            status = f"worker killed by {signal.Signals(-exitcode).name}"
        except ValueError:
            status = f"worker killed by signal {-exitcode}"
    else:
        status = f"worker exited with status {exitcode}"
    tail = list(log_tail)
    # an absl FATAL line (XLA's and libtpu's CHECK failures) says why; "Fatal Python error" only how
    fatal = [m[1] for ln in tail if (m := _ABSL_FATAL.match(ln))]
    telling = fatal or [ln for ln in tail if ln.startswith(("Fatal Python error", "terminate called", "Aborted"))]
    last = telling[0] if telling else next((ln for ln in reversed(tail) if not ln.startswith("---")), "")
    return f"{status}: {last.strip()}" if last else status


class Pool:
    """``cpus``/``threads``: the CPUs each worker is pinned to and the thread count its framework
    gets (``portability.runner.cpus``); None leaves both to the framework. ``options``: what each
    adapter reads before its framework is imported (``Settings.worker_options``)."""

    def __init__(self, log_dir: Path, prefix: str = "", cpus: Sequence[int] | None = None,
                 threads: int | None = None, options: Mapping[str, Any] | None = None) -> None:
        self.log_dir = log_dir
        self.prefix = prefix
        self.cpus = list(cpus or [])
        self.threads = threads
        self.options = dict(options or {})
        self.workers: dict[str, Worker] = {}
        self.started = 0
        self.startup_s: list[float] = []
        self._ctx = multiprocessing.get_context("spawn")

    def _spawn(self, framework: str) -> Worker:
        self.started += 1
        log_path = self.log_dir / f"worker-{self.prefix}{framework}-{self.started}.log"
        parent_conn, child_conn = self._ctx.Pipe()
        process = self._ctx.Process(
            target=entry,
            args=(child_conn, framework, str(log_path), os.getpid(), self.cpus, self.threads, self.options),
            name=f"portability-{framework}",
            daemon=True,
        )
        process.start()
        child_conn.close()
        return Worker(framework, process, parent_conn, log_path)

    def _await_ready(self, w: Worker, started: float) -> None:
        remaining = STARTUP_TIMEOUT_S - (time.monotonic() - started)
        if not w.conn.poll(max(remaining, 0.0)):
            self._kill(w)
            raise WorkerStartError(f"{w.framework} worker did not start within {STARTUP_TIMEOUT_S:.0f} s")
        try:
            msg = w.conn.recv()
        except (EOFError, OSError):
            w.process.join(5)
            raise WorkerStartError(
                f"{w.framework} worker died while starting: {crash_message(w.process.exitcode, _log_tail(w.log_path))}"
            ) from None
        if msg["kind"] != "ready":
            self._kill(w)
            raise WorkerStartError(f"{w.framework} cannot be imported: {msg.get('message', msg)}")
        w.info = msg
        self.startup_s.append(time.monotonic() - started)

    def start(self, frameworks: Iterable[str]) -> dict[str, dict[str, Any]]:
        """Start workers for several frameworks at once (their imports overlap) and wait for all."""
        t0 = time.monotonic()
        fresh = [self._spawn(fw) for fw in frameworks if fw not in self.workers]
        for w in fresh:
            self._await_ready(w, t0)
            self.workers[w.framework] = w
        return {fw: w.info for fw, w in self.workers.items()}

    def worker(self, framework: str) -> Worker:
        w = self.workers.get(framework)
        if w is None or not w.process.is_alive():
            if w is not None:
                self._kill(w)
            self.workers.pop(framework, None)
            self.start([framework])
            w = self.workers[framework]
        return w

    def run(self, framework: str, case: Mapping[str, Any], config: Mapping[str, Any], timeout: float) -> dict[str, Any]:
        """Facts for one case. Crash and timeout become facts with a ``terminated`` entry."""
        try:
            w = self.worker(framework)
        except WorkerStartError as exc:
            return {"backend": case["backend"], "terminated": {"reason": "crash", "message": str(exc)}}
        w.conn.send({"kind": "case", "case": dict(case), "config": dict(config)})
        if not w.conn.poll(timeout):
            self._kill(w)
            self.workers.pop(framework, None)
            return {
                "backend": case["backend"],
                "terminated": {
                    "reason": "timeout", "message": f"no result within the case time limit of {timeout:g} s",
                },
            }
        try:
            msg = w.conn.recv()
        except (EOFError, OSError):
            w.process.join(5)
            self.workers.pop(framework, None)
            message = crash_message(w.process.exitcode, _log_tail(w.log_path))
            return {"backend": case["backend"], "terminated": {"reason": "crash", "message": message}}
        facts: dict[str, Any] = msg["facts"]
        return facts

    @staticmethod
    def _kill(w: Worker) -> None:
        if w.process.is_alive():
            w.process.kill()
        w.process.join(10)
        w.conn.close()

    def close(self) -> None:
        for w in self.workers.values():
            with contextlib.suppress(OSError):
                w.conn.send({"kind": "stop"})
        for w in self.workers.values():
            w.process.join(10)
            self._kill(w)
        self.workers.clear()
