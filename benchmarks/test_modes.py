"""(h) What compiling costs: the whole catalog at ``--size small`` with ``--mode eager,compiled``, one
framework at a time, on one worker.

Per framework: the run's wall time, the time its eager and its compiled cases took (the pytest side's
seconds per case: inputs, first call, checks, timed rounds, and for a compiled case the compiling first
call and the eager call it is timed against), and the first compiled call per case (it compiles:
median, p95). ``python -m benchmarks.test_modes RUN_DIR`` prints the same figures for a stored run.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from portability.records import CaseRecord
from portability.results import storage

ROOT = Path(__file__).resolve().parents[1]


def compile_cost(compiled: Any) -> float:
    """Seconds a compiled case spent compiling and making its first call: torch.compile and tf.function
    compile inside the first call; JAX compiles ahead of it (trace, lower, compile)."""
    return float(sum(compiled.get(k) or 0.0 for k in ("trace_s", "lower_s", "compile_s", "first_call_s")))


def mode_figures(cases: Sequence[CaseRecord]) -> dict[str, dict[str, float]]:
    """Per framework: cases per mode, the seconds they took, the compiling first call's median and p95
    (``compile_cost``), and the median compiled/eager time ratio."""
    out: dict[str, dict[str, float]] = {}
    for fw in sorted({c["framework"] for c in cases}):
        mine = [c for c in cases if c["framework"] == fw]
        eager = [c for c in mine if c.get("mode", "eager") == "eager"]
        compiled = [c for c in mine if c.get("mode") == "compiled"]
        first = np.array([compile_cost(c["compile"]) for c in compiled if (c.get("compile") or {}).get("first_call_s")])
        ratios = np.array([c["ratio"]["ratio"] for c in compiled
                           if (c.get("ratio") or {}).get("reference") == "eager call"])
        out[fw] = {
            "eager_cases": len(eager), "compiled_cases": len(compiled),
            "eager_s": sum(c.get("duration_s") or 0.0 for c in eager),
            "compiled_s": sum(c.get("duration_s") or 0.0 for c in compiled),
            "compiled_first_calls": int(first.size),
            "first_call_median_s": float(np.median(first)) if first.size else float("nan"),
            "first_call_p95_s": float(np.percentile(first, 95)) if first.size else float("nan"),
            "ratio_median": float(np.median(ratios)) if ratios.size else float("nan"),
        }
    return out


def describe(figures: dict[str, dict[str, float]]) -> list[str]:
    return [f"{fw}: {f['eager_cases']:.0f} eager cases took {f['eager_s']:.0f} s, {f['compiled_cases']:.0f} compiled "
            f"{f['compiled_s']:.0f} s; compiling first call median "
            f"{f['first_call_median_s']:.3f} s, p95 {f['first_call_p95_s']:.3f} s ({f['compiled_first_calls']:.0f} "
            f"calls); median time compiled/eager {f['ratio_median']:.2f}x" for fw, f in figures.items()]


@pytest.mark.parametrize("framework", ["torch", "jax", "tensorflow"])
def test_catalog_eager_and_compiled(benchmark: Any, tmp_path: Path, framework: str) -> None:
    from .conftest import FIGURES

    if importlib.util.find_spec({"tensorflow": "tensorflow"}.get(framework, framework)) is None:
        pytest.skip(f"{framework} is not installed")
    result: dict[str, float] = {}

    def run() -> None:
        t0 = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, "-m", "pytest", "--backend=cpu", "--mode=eager,compiled", "--size=small",
             f"--framework={framework}", f"--results-dir={tmp_path}", "--no-report", "-p", "no:cacheprovider", "-q"],
            cwd=ROOT, capture_output=True, text=True, timeout=7200,
        )
        result["wall"] = time.perf_counter() - t0
        assert proc.returncode in (0, 1), proc.stdout[-2000:] + proc.stderr[-2000:]

    benchmark.pedantic(run, rounds=1, iterations=1)
    [run_dir] = storage.find_runs(tmp_path)
    figures = mode_figures(storage.read_run(run_dir).cases)[framework]
    benchmark.extra_info.update({"wall_s": result["wall"], **figures})
    FIGURES.append(f"--mode eager,compiled, --size small, {result['wall']:.0f} s wall: "
                   + describe({framework: figures})[0])


if __name__ == "__main__":
    for line in describe(mode_figures(storage.read_run(sys.argv[1]).cases)):
        print(line)
