"""(g) The TPU compiler's cost: the whole JAX catalog at the default size on ``--backend=cpu,tpu-compile``.

Wall time of the run, and per backend the time its cases took (the worker's seconds per case:
inputs, calls, checks and timed rounds on the cpu; tracing, lowering and compiling on tpu-compile),
with the compile time per case (median, p95). The issue's aim: the tpu-compile half costs no more than
the cpu half. Needs the tpu-compile extra.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from portability.results import storage

from .conftest import FIGURES

ROOT = Path(__file__).resolve().parents[1]


def test_jax_catalog_cpu_and_tpu_compile(benchmark: Any, tmp_path: Path) -> None:
    if importlib.util.find_spec("libtpu") is None or importlib.util.find_spec("jax") is None:
        pytest.skip("needs jax and the tpu-compile extra")
    result: dict[str, Any] = {}

    def run() -> None:
        t0 = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, "-m", "pytest", "--backend=cpu,tpu-compile", "--framework=jax",
             f"--results-dir={tmp_path}", "--no-report", "-p", "no:cacheprovider", "-q"],
            cwd=ROOT, capture_output=True, text=True, timeout=7200,
        )
        result["wall"] = time.perf_counter() - t0
        assert proc.returncode in (0, 1), proc.stdout[-2000:] + proc.stderr[-2000:]

    benchmark.pedantic(run, rounds=1, iterations=1)
    [run_dir] = storage.find_runs(tmp_path)
    cases = storage.read_run(run_dir).cases
    spent = {b: sum(c.get("duration_s") or 0 for c in cases if c["backend"] == b) for b in ("cpu", "tpu-compile")}
    compile_s = np.array([c["compile"]["compile_s"] for c in cases if c.get("compile")])
    stages = np.array([c["compile"]["trace_s"] + c["compile"]["lower_s"] + c["compile"]["compile_s"]
                       for c in cases if c.get("compile")])
    figures = {"wall_s": result["wall"], "cases": len(cases), "cpu_s": spent["cpu"],
               "tpu_compile_s": spent["tpu-compile"], "compiled": int(compile_s.size),
               "compile_median_s": float(np.median(compile_s)), "compile_p95_s": float(np.percentile(compile_s, 95)),
               "trace_lower_compile_median_s": float(np.median(stages)), "compile_max_s": float(compile_s.max())}
    benchmark.extra_info.update(figures)
    FIGURES.append(
        f"jax catalog cpu,tpu-compile (default size): {len(cases)} cases in {result['wall']:.0f} s wall; cases took "
        f"{spent['cpu']:.0f} s on cpu, {spent['tpu-compile']:.0f} s on tpu-compile "
        f"(x{spent['tpu-compile'] / spent['cpu']:.2f}); compile per compiled case median "
        f"{figures['compile_median_s']:.2f} s, p95 {figures['compile_p95_s']:.2f} s, "
        f"max {figures['compile_max_s']:.1f} s ({compile_s.size} compiled)")
