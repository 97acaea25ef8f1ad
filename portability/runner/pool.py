"""Worker processes as seen from the pytest process: one live worker per framework.

A case that kills its worker is reported as a crash, one that outlives its time limit as a
timeout, one whose worker holds more memory than ``memory_limit`` as out of memory; the worker is
replaced on the framework's next case and the run goes on. Each worker leads a process group
(``procs``): killing it kills what its kernels started.
"""

from __future__ import annotations

import contextlib
import json
import multiprocessing
import os
import re
import signal
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any

from portability.runner import allocator, procs, remote
from portability.runner import cpus as cpu_limits

#: How long a worker may take to import its framework and report its devices.
STARTUP_TIMEOUT_S = 180.0
#: How often a running case's worker is checked against the memory limit: a worker touching memory at
#: 10 GB/s goes at most about a gigabyte over the limit before it is stopped.
WATCH_INTERVAL_S = 0.1
#: Every this many checks, the processes a kernel started are counted too (a scan of /proc).
GROUP_SCAN_EVERY = 10


def entry(conn: Any, out: Any, framework: str, parent_pid: int, cpus: Sequence[int],
          threads: int | None, options: Mapping[str, Any] | None = None) -> None:
    """Target of the spawned worker process. It leads a process group of its own, for the pool to
    kill with everything its kernels start. Its CPUs and thread counts are set before anything
    imports NumPy or the framework (both size their thread pools on import), so this module
    imports the worker's machinery only here; so is its allocator (``allocator``), before
    anything allocates much."""
    os.setpgrp()
    pinned = cpu_limits.limit(cpus, threads)
    kept = allocator.keep_freed_memory()
    from portability.runner import loop

    loop.main(conn, out, framework, parent_pid, pinned, options or {}, kept)


def remote_entry(argv: Sequence[str]) -> None:
    """A worker's entry in another environment (``remote.spawn``): the socket's descriptor and the
    arguments ``entry`` takes, as JSON."""
    conn = Connection(int(argv[0]))
    args = json.loads(argv[1])
    entry(conn, None, args["framework"], args["parent_pid"], args["cpus"], args["threads"], args["options"])


class WorkerStartError(RuntimeError):
    """A framework's worker died or failed before it was ready."""


class LogWriteError(Exception):
    """A worker's log could not be written (a full disk): the run must stop, not its cases fail."""


@dataclass
class Worker:
    framework: str
    process: Any
    conn: Any
    log_path: Path
    drain: procs.LogDrain
    info: dict[str, Any] = field(default_factory=dict)
    #: the most memory its process group was seen holding (bytes)
    peak_bytes: int = 0
    #: a case was sent and its answer not yet read
    busy: bool = False


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


def gib(n: float) -> str:
    return f"{n / 2**30:.2f} GiB"


def crash_message(exitcode: int | None, log_tail: Iterable[str], peak_bytes: int = 0) -> str:
    """One line: the signal or exit status, and the most telling line the worker printed. A worker
    killed by SIGKILL that the pool did not kill was most likely chosen by the kernel's OOM killer:
    the memory it was last seen holding is said."""
    if exitcode is not None and exitcode < 0:
        try:
            status = f"worker killed by {signal.Signals(-exitcode).name}"
        except ValueError:
            status = f"worker killed by signal {-exitcode}"
        if -exitcode == signal.SIGKILL and peak_bytes:
            status += f" (holding {gib(peak_bytes)} when last seen)"
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
                 threads: int | None = None, options: Mapping[str, Any] | None = None,
                 memory_limit: int | None = None, python: str | None = None) -> None:
        self.log_dir = log_dir
        #: the interpreter of another environment whose workers this pool runs (``--against``); None:
        #: this one's, spawned by multiprocessing
        self.python = python
        #: bytes a worker's process group may hold while it runs a case (None: no limit)
        self.memory_limit = memory_limit
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
        if self.python is not None:
            return self._spawn_remote(framework, log_path)
        parent_conn, child_conn = self._ctx.Pipe()
        # the worker's stdout and stderr: one pipe, copied into its log by this process
        out_read, out_write = self._ctx.Pipe(duplex=False)
        try:
            drain = procs.LogDrain(os.dup(out_read.fileno()), log_path)
        except OSError as exc:
            raise LogWriteError(f"cannot write {log_path}: {exc.strerror}") from None
        finally:
            out_read.close()
        process = self._ctx.Process(
            target=entry,
            args=(child_conn, out_write, framework, os.getpid(), self.cpus, self.threads, self.options),
            name=f"portability-{framework}",
            daemon=True,
        )
        process.start()
        child_conn.close()
        out_write.close()
        return Worker(framework, process, parent_conn, log_path, drain)

    def _spawn_remote(self, framework: str, log_path: Path) -> Worker:
        """A worker in the other environment (``remote``), its output copied into its log as any worker's."""
        assert self.python is not None
        out_read, out_write = os.pipe()
        try:
            drain = procs.LogDrain(out_read, log_path)
        except OSError as exc:
            os.close(out_read)
            os.close(out_write)
            raise LogWriteError(f"cannot write {log_path}: {exc.strerror}") from None
        try:
            process, conn = remote.spawn(self.python, out_write, {
                "framework": framework, "parent_pid": os.getpid(), "cpus": self.cpus, "threads": self.threads,
                "options": self.options})
        finally:
            os.close(out_write)
        return Worker(framework, process, conn, log_path, drain)

    def _await_ready(self, w: Worker, started: float) -> None:
        remaining = STARTUP_TIMEOUT_S - (time.monotonic() - started)
        if not w.conn.poll(max(remaining, 0.0)):
            self._kill(w)
            raise WorkerStartError(f"{w.framework} worker did not start within {STARTUP_TIMEOUT_S:.0f} s")
        try:
            msg = w.conn.recv()
        except (EOFError, OSError):
            self._kill(w)
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

    def renew(self, framework: str) -> None:
        """Replace ``framework``'s worker by a fresh one (started on its next case): what a long-lived
        process carries from case to case (its allocator's state above all) goes with it."""
        w = self.workers.pop(framework, None)
        if w is not None:
            with contextlib.suppress(OSError):
                w.conn.send({"kind": "stop"})
            wait([w.process.sentinel], 10)
            self._kill(w)

    def run(self, framework: str, case: Mapping[str, Any], config: Mapping[str, Any], timeout: float) -> dict[str, Any]:
        """Facts for one case. Crash, timeout and memory over the limit become facts with a
        ``terminated`` entry. ``LogWriteError`` when a worker's log could not be written. With
        ``config["rounds_by_request"]`` a case that can be timed stays open in its worker
        (``pending_timing`` in its facts) for ``round`` and ``end``."""
        self.check_logs()
        try:
            w = self.worker(framework)
        except WorkerStartError as exc:
            return {"backend": case["backend"], "terminated": {"reason": "crash", "message": str(exc)}}
        answer = self._ask(w, {"kind": "case", "case": dict(case), "config": dict(config)}, timeout)
        if "terminated" in answer:
            return {"backend": case["backend"], **answer}
        facts: dict[str, Any] = answer["facts"]
        return facts

    def round(self, framework: str, calls: int, timeout: float) -> dict[str, Any]:
        """One timed round of ``calls`` calls of the case left open in ``framework``'s worker:
        ``{"s": seconds per call}``, ``{"error": ...}`` when a call raised, or ``{"terminated": ...}``
        (the worker is gone)."""
        return self._ask(self.workers[framework], {"kind": "round", "calls": calls}, timeout)

    def end(self, framework: str) -> None:
        """Close the case left open in ``framework``'s worker (if the worker still lives)."""
        w = self.workers.get(framework)
        if w is not None:
            with contextlib.suppress(OSError):
                w.conn.send({"kind": "end"})

    def _ask(self, w: Worker, message: Mapping[str, Any], timeout: float) -> dict[str, Any]:
        """Send a message and wait for the answer, watching the worker; a worker that must be stopped
        or died is removed and the answer is ``{"terminated": ...}``."""
        w.conn.send(dict(message))
        w.busy = True
        stopped = self._watch(w, timeout)
        if stopped is not None:
            self._kill(w)
            self.workers.pop(w.framework, None)
            return {"terminated": stopped}
        try:
            answer: dict[str, Any] = w.conn.recv()
        except (EOFError, OSError):
            self._kill(w)
            self.workers.pop(w.framework, None)
            said = crash_message(w.process.exitcode, _log_tail(w.log_path), w.peak_bytes)
            return {"terminated": {"reason": "crash", "message": said}}
        w.busy = False
        return answer

    def _watch(self, w: Worker, timeout: float) -> dict[str, str] | None:
        """Wait for the worker's answer (or its death) while checking its memory; a ``terminated``
        entry when it must be stopped: over the memory limit, or past the case time limit."""
        deadline = time.monotonic() + timeout
        ticks = 0
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return {"reason": "timeout", "message": f"no result within the case time limit of {timeout:g} s"}
            if w.conn.poll(min(remaining, WATCH_INTERVAL_S)):
                return None
            ticks += 1
            held = procs.group_resident_bytes(w.process.pid, leader_only=ticks % GROUP_SCAN_EVERY != 0)
            w.peak_bytes = max(w.peak_bytes, held)
            if self.memory_limit is not None and held > self.memory_limit:
                return {"reason": "oom", "message": f"worker held {gib(held)}, over the --worker-memory limit of "
                                                    f"{gib(self.memory_limit)}: stopped"}

    def check_logs(self) -> None:
        """Raise ``LogWriteError`` if a worker's log could not be written since the last check."""
        for w in self.workers.values():
            if w.drain.error is not None:
                exc = w.drain.error
                raise LogWriteError(f"cannot write {w.log_path}: {exc.strerror}")

    @staticmethod
    def _kill(w: Worker) -> None:
        """Kill a worker's process group (the processes its kernels started with it), then reap it."""
        procs.kill_group(w.process.pid)
        w.process.join(10)
        w.conn.close()
        w.drain.wait(5)

    def close(self) -> None:
        for w in self.workers.values():
            with contextlib.suppress(OSError):
                w.conn.send({"kind": "stop"})
        for w in self.workers.values():
            # the worker exits (one interrupted in a case is stopped at once); what its kernels
            # started goes with it, before the worker is reaped
            if not w.busy:
                wait([w.process.sentinel], 10)
            self._kill(w)
        self.workers.clear()


if __name__ == "__main__":
    remote_entry(sys.argv[1:])
