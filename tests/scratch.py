"""Scratch catalogs for pytester tests: write kernels into a pytester folder, start a run in the
background as a user's shell would, and read back what it stored."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Literal

import pytest

from portability.results import storage

FAST = ("--timing-budget=0.01",)

#: eight cases of a quarter of a second each: long enough to interrupt in the middle
SLOW = """
    import time
    import numpy as np
    from portability.catalog import Kernel, normal

    def slow(c, x):
        time.sleep(0.25)
        return c.fn(x)

    KERNELS = [Kernel(f"torch.{name}", "elementwise", normal(8), call=slow, reference=getattr(np, name))
               for name in ("abs", "exp", "sin", "cos", "tan", "tanh", "sqrt", "square")]
"""


def write_kernels(pytester: pytest.Pytester, framework: str, name: str, body: str) -> Path:
    path = pytester.path / "kernels" / framework / f"{name}.py"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(body))
    return path


def only_run(results: Path) -> storage.Run:
    runs = storage.find_runs(results)
    assert len(runs) == 1, runs
    return storage.read_run(runs[0])


def start(pytester: pytest.Pytester, *args: str, sigint: Literal["default", "ignored"] = "default",
          output: Path | None = None) -> subprocess.Popen[bytes]:
    """``pytest --backend=cpu ARGS kernels`` in the background, in a session of its own (so that a
    test can signal its whole process group, as a terminal does).

    A background job of a non-interactive shell starts with SIGINT ignored, and Python then installs no
    Ctrl-C handler: the child gets the disposition asked for here, whatever this test process had, by
    way of a small Python that sets it and execs pytest (exec keeps SIG_DFL and SIG_IGN; a preexec_fn
    would fork this multithreaded process)."""
    disposition = "SIG_DFL" if sigint == "default" else "SIG_IGN"
    restore = (f"import os, signal, sys; signal.signal(signal.SIGINT, signal.{disposition}); "
               "os.execv(sys.executable, [sys.executable, *sys.argv[1:]])")
    cmd = ["-m", "pytest", "--backend=cpu", "--timing-budget=0.01", "-p", "no:cacheprovider", *args, "kernels"]
    out = open(output, "wb") if output else subprocess.DEVNULL  # noqa: SIM115 - the child holds it
    return subprocess.Popen([sys.executable, "-c", restore, *cmd], cwd=pytester.path, stdout=out,
                            stderr=subprocess.STDOUT, start_new_session=True)


def wait_for_cases(results: Path, n: int, timeout: float = 600) -> Path:
    """The run directory under ``results`` once it holds ``n`` cases."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for run in storage.find_runs(results):
            cases = run / "cases.jsonl"
            if cases.exists() and len(cases.read_text().splitlines()) >= n:
                return run
        time.sleep(0.2)
    raise AssertionError(f"fewer than {n} cases in {results} after {timeout} s")


def gone(pid: int, timeout: float = 120) -> bool:
    """Whether process ``pid`` ends within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.2)
    return False
