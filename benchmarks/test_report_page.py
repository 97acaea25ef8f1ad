"""(e) The HTML report of the full catalog with three runs: its size, and how long Chromium takes
to render it (navigation until the function table is initialised), median of repeated loads.

Three real runs of the whole catalog at --size small on this CPU, or the runs named in
PORTABILITY_BENCH_RUNS (a colon-separated list of run directories) to measure other runs.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from portability.results import report, storage

from .conftest import FIGURES

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")
LOADS = 7


def three_runs(tmp: Path) -> list[Path]:
    given = os.environ.get("PORTABILITY_BENCH_RUNS")
    if given:
        return [Path(p) for p in given.split(":")]
    for _ in range(3):
        subprocess.run([sys.executable, "-m", "pytest", "--backend=cpu", "--size=small", "--timing-budget=0.02",
                        f"--results-dir={tmp}", "--no-report", "-q", "-p", "no:cacheprovider"],
                       cwd=ROOT, capture_output=True, text=True, timeout=3600)
    return storage.find_runs(tmp)


def test_report_size_and_render_time(benchmark: Any, tmp_path: Path) -> None:
    if not CHROMIUM.exists():
        pytest.skip("needs Debian's chromium")
    from playwright.sync_api import sync_playwright

    runs = three_runs(tmp_path)
    assert len(runs) == 3
    out = tmp_path / "index.html"
    build_s = time.perf_counter()
    report.write(runs, out)
    build_s = time.perf_counter() - build_s
    size_mb = out.stat().st_size / 1e6
    cases = sum(len(storage.read_run(r).cases) for r in runs)
    loads: list[float] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"])

        def load() -> None:
            page = browser.new_page()
            t0 = time.perf_counter()
            page.goto(out.as_uri())
            page.wait_for_selector("#functions-table_wrapper")
            page.wait_for_selector("#paper-functions-table_wrapper")
            loads.append(time.perf_counter() - t0)
            page.close()

        benchmark.pedantic(load, rounds=LOADS, iterations=1)
        browser.close()
    med = statistics.median(loads)
    benchmark.extra_info.update(size_mb=size_mb, render_median_s=med, build_s=build_s, cases=cases)
    FIGURES.append(f"(e) report of 3 runs ({cases} cases): {size_mb:.2f} MB, built in {build_s:.1f} s; "
                   f"Chromium renders it in {med:.2f} s median of {LOADS} loads "
                   f"(min {min(loads):.2f}, max {max(loads):.2f})")
