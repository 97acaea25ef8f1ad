"""The worker process: imports one framework once, then runs cases sent by the pytest process.

Started with the ``spawn`` method (a fresh interpreter: no device runtime is ever forked). It
answers each case with *facts* (what happened: exception, output devices and dtypes, check
results, timings); the pytest process turns facts into an outcome (``verdicts.case_outcome``).
"""

from __future__ import annotations

import faulthandler
import gc
import os
import signal
import sys
import threading
import time
import traceback
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from portability.runner import backends
from portability.runner.execute import CaseRunner
from portability.runner.remote import PROTOCOL
from portability.verdicts import first_line
from portability.vocabulary import BACKENDS, FRAMEWORKS


def _watch_parent(parent: int) -> None:
    """Exit when the pytest process is gone (killed with SIGKILL): never outlive the run, nor let
    what a kernel started outlive it (this worker leads their process group)."""
    while True:
        time.sleep(1.0)
        if os.getppid() != parent:
            os.killpg(0, signal.SIGKILL)


def main(conn: Any, out: Any, framework: str, parent_pid: int, pinned: Sequence[int] = (),
         options: Mapping[str, Any] | None = None, allocator: Mapping[str, int] | None = None) -> None:
    """A worker process, after ``pool.entry`` gave it its CPUs (``pinned``) and set its allocator
    (``allocator``, what was set or None), both for the record. ``out``:
    the pipe the pytest process copies into this worker's log; stdout and stderr (the framework's
    native ones included) go there (None: they are that pipe already)."""
    if out is not None:  # a worker of another environment was started with its output there already
        os.dup2(out.fileno(), 1)
        os.dup2(out.fileno(), 2)
        out.close()
    log = open(1, "w", buffering=1, encoding="utf-8", errors="backslashreplace", closefd=False)  # noqa: SIM115
    sys.stdout = sys.stderr = log
    faulthandler.enable(log)
    # Spawn copies the parent's sys.path; catalog folders on it would shadow modules by name.
    sys.path[:] = [p for p in sys.path if not (Path(p).parent.name == "kernels" and Path(p).name in FRAMEWORKS)]
    threading.Thread(target=_watch_parent, args=(parent_pid,), daemon=True).start()
    t0 = time.perf_counter()
    try:
        adapter = backends.load(framework, options)
    except BaseException as exc:  # report why the framework cannot start, then die
        conn.send({"kind": "failed", "message": f"{type(exc).__name__}: {first_line(str(exc))}"})
        raise
    # The framework's own objects live as long as the worker: keep them out of every later
    # collection, so freeing memory between cases (gc.collect) costs milliseconds, not 100 ms.
    gc.collect()
    gc.freeze()
    visible = adapter.visible()
    conn.send({
        "kind": "ready",
        "protocol": PROTOCOL,
        "framework": framework,
        "pid": os.getpid(),
        "import_s": time.perf_counter() - t0,
        "visible": visible,
        "reasons": {b: adapter.unavailable_reason(b) for b in BACKENDS if b not in visible},
        "versions": adapter.versions(),
        "numerics": adapter.numerics(),
        "cpus": list(pinned),
        "threads": adapter.threads(),
        "timing_settings": adapter.timing_settings(),
        "allocator": dict(allocator) if allocator is not None else None,
        "compile_targets": adapter.compile_targets(),
    })
    runner = CaseRunner(adapter)
    while True:
        try:
            msg = conn.recv()
        except (EOFError, OSError):
            return
        if msg["kind"] == "stop":
            return
        print(f"--- case {msg['case']['api']} {msg['case']['dtype']} {msg['case']['backend']}", flush=True)
        t0 = time.perf_counter()
        try:
            facts = runner.run(msg["case"], msg["config"])
        except Exception as exc:  # a bug in the harness or a catalog entry, not the framework
            facts = {
                "backend": msg["case"]["backend"],
                "error": {
                    "stage": "harness",
                    "type": type(exc).__name__,
                    "message": str(exc),
                    "traceback": traceback.format_exc()[-2000:],
                },
            }
        facts["worker_s"] = time.perf_counter() - t0
        conn.send({"kind": "result", "facts": facts})
        ended = serve_rounds(conn, runner) if runner.pending is not None else "end"
        runner.release()
        if ended == "stop":
            return


def serve_rounds(conn: Any, runner: CaseRunner) -> str:
    """``--against``: time the pending case one round per request until the pytest process ends it
    ("end", or "stop" for the worker itself)."""
    try:
        while (msg := conn.recv())["kind"] == "round":
            conn.send({"kind": "sample", **runner.round(int(msg["calls"]))})
        return str(msg["kind"])
    except (EOFError, OSError):
        return "stop"
    finally:
        runner.pending = None
