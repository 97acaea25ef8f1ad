"""Benchmarks of the suite itself (pytest-benchmark). Run with `tox -e bench` or
`pytest benchmarks --benchmark-json=reports/bench.json`; not part of the test command.

Each benchmark adds its headline figures to FIGURES; they are printed at the end of the session
and stored in pytest-benchmark's JSON under each benchmark's ``extra_info``.
"""

from __future__ import annotations

import os
from typing import Any

#: The catalog runs the benchmarks start measure one process unless a benchmark asks for workers
#: (a catalog run's default is a worker per CPU: the scaling benchmark measures that).
os.environ.setdefault("PORTABILITY_WORKERS", "1")

FIGURES: list[str] = []


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if FIGURES:
        terminalreporter.write_sep("=", "portability benchmark figures")
        for line in FIGURES:
            terminalreporter.write_line(line)
