"""(c) A/A and (d) wall time: the whole catalog at --size small run twice per framework on this CPU.

The second run takes the first as its ``--baseline``: with the same code on the same machine no
case may be a slowdown and no case that passed may fail (a "regression"). The first run's files
give the wall time and where it went: framework import, worker start, first calls, timed rounds,
checks (references), and the harness (the rest: collection, pipes, records, freeing memory).
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from portability.results import storage
from portability.runner import backends

from .conftest import FIGURES

ROOT = Path(__file__).resolve().parents[1]


def run_catalog(framework: str, results: Path, *extra: str) -> tuple[storage.Run, float]:
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "--backend=cpu", "--size=small", f"--framework={framework}",
         f"--results-dir={results}",
         "-p", "no:cacheprovider", "-q", *extra],
        cwd=ROOT, capture_output=True, text=True, timeout=1800,
    )
    wall = time.perf_counter() - t0
    [run_dir] = storage.find_runs(results)
    assert proc.returncode in (0, 1), proc.stdout[-2000:] + proc.stderr[-2000:]
    return storage.read_run(run_dir), wall


def breakdown(run: storage.Run, wall: float) -> dict[str, float]:
    info = run.meta["frameworks"]
    imports = sum(meta["import_s"] for meta in info.values())
    starts = sum(run.meta["worker_startup_s"]) - imports
    first = sum((c.get("timing") or {}).get("first_call_s") or 0 for c in run.cases)
    rounds = sum(sum(t["samples_s"]) * t["calls_per_round"] for c in run.cases if (t := c.get("timing")))
    checks = sum(c.get("check_s") or 0 for c in run.cases)
    in_worker = sum(c.get("worker_s") or 0 for c in run.cases)
    parts = {"import": imports, "worker start": starts, "first calls": first, "timed rounds": rounds,
             "checks": checks,
             # inputs, setup, the calibration call, freeing memory: the worker's share of the harness
             "worker harness": in_worker - first - rounds - checks}
    # pytest start-up and collection, pipes, classification, records, terminal output
    parts["pytest harness"] = wall - sum(parts.values())
    return parts


@pytest.mark.parametrize("framework", ["torch", "jax", "tensorflow"])
def test_aa_and_wall_time(benchmark: Any, framework: str, tmp_path: Path) -> None:
    if framework not in backends.installed():
        pytest.skip(f"{framework} is not installed")
    first: dict[str, Any] = {}

    def run_a() -> None:
        first["run"], first["wall"] = run_catalog(framework, tmp_path / "a")

    benchmark.pedantic(run_a, rounds=1, iterations=1)
    a: storage.Run = first["run"]
    b, _ = run_catalog(framework, tmp_path / "b", f"--baseline={a.path}")

    a_out = {c["id"]: c["outcome"] for c in a.cases}
    slow = [c["id"] for c in b.cases if c["outcome"] == "slowdown"]
    regressions = [c["id"] for c in b.cases if a_out.get(c["id"]) == "pass" and c["outcome"].startswith("fail")]
    ratios = sorted(c["ratio"]["ratio"] for c in b.cases if c.get("ratio"))
    parts = breakdown(a, first["wall"])
    benchmark.extra_info.update({"cases": len(a.cases), "wall_s": first["wall"], "breakdown_s": parts,
                                 "aa_slowdowns": slow, "aa_regressions": regressions,
                                 "aa_median_ratio": ratios[len(ratios) // 2] if ratios else None})
    shares = ", ".join(f"{k} {v:.1f} s ({100 * v / first['wall']:.0f}%)" for k, v in parts.items())
    FIGURES.append(f"catalog {framework:<10} cpu: {len(a.cases)} cases in {first['wall']:.1f} s wall: {shares}")
    FIGURES.append(f"A/A {framework:<10}: {len(slow)} slowdowns, {len(regressions)} regressions among "
                   f"{len(b.cases)} cases; median time ratio B/A {ratios[len(ratios) // 2]:.3f}, "
                   f"range {ratios[0]:.2f}-{ratios[-1]:.2f}")
    assert not slow, f"A/A flagged slowdowns: {slow[:5]}"
    assert not regressions, f"A/A flagged regressions: {regressions[:5]}"
