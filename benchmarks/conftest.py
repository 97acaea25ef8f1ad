"""Benchmarks of the suite itself (pytest-benchmark). Run with `tox -e bench` or
`pytest benchmarks --benchmark-json=reports/bench.json`; not part of the test command.

Each benchmark adds its headline figures to FIGURES; they are printed at the end of the session
and stored in pytest-benchmark's JSON under each benchmark's ``extra_info``.
"""

from __future__ import annotations

from typing import Any

FIGURES: list[str] = []


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if FIGURES:
        terminalreporter.write_sep("=", "portability benchmark figures")
        for line in FIGURES:
            terminalreporter.write_line(line)
