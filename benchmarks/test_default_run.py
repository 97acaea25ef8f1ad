"""(j) The default whole-catalog run (`pytest --backend=cpu`, default size and budget): wall time and
CPU time as it was (one process, the whole budget: `-n 0 --timing-precision=0`), with one worker and
today's defaults (one worker per CPU, rounds stopped once the median is known within 5%), and with
the default twice; the same verdicts (`portability compare` finds no failure introduced, fixed or
changed) and the A/A of the two default runs (quartiles of the per-case time ratios).

Slow: four whole-catalog runs (about 13 + 11 + 5.5 + 5.5 minutes on the 2-core development VM).
`python -m benchmarks.test_default_run OLD NEW [NEW2]` prints the same figures for stored runs.
"""

from __future__ import annotations

import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from portability.results import compare, storage

from .conftest import FIGURES

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = {
    "as it was (-n 0 --timing-precision=0)": ("1", ["-n", "0", "--timing-precision=0"]),
    "one worker": ("1", []),
    "default": ("", []),
    "default again": ("", []),
}


def _run(results: Path, workers: str, extra: list[str]) -> tuple[float, float]:
    """One catalog run: (wall seconds, CPU seconds of it and its children)."""
    env = {**os.environ, "PORTABILITY_WORKERS": workers}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "pytest", "--backend=cpu", f"--results-dir={results}", "--no-report",
                    "-q", *extra], cwd=ROOT, env=env, capture_output=True, text=True, timeout=4 * 3600)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def figures(old: storage.Run, new: storage.Run, again: storage.Run | None = None) -> list[str]:
    """The same verdicts, and the A/A of two runs of today's default (per-case time ratios)."""
    found = compare.counts(compare.compare_runs(old.cases, new.cases))
    lines = ["verdicts, old -> new: " + ", ".join(f"{k} {found[k]}" for k in (
        "failure introduced", "failure fixed", "failure changed"))]
    for name, (a, b) in (("old -> new", (old, new)), ("A/A new", (new, again) if again else (None, None))):
        if a is None or b is None:
            continue
        by_key = {c["key"]: c for c in a.cases}
        ratios = sorted(
            c["timing"]["median_s"] / by_key[c["key"]]["timing"]["median_s"] for c in b.cases
            if c["key"] in by_key and (c.get("timing") or {}).get("median_s")
            and (by_key[c["key"]].get("timing") or {}).get("median_s"))
        q = statistics.quantiles(ratios, n=4)
        changed = compare.counts(compare.compare_runs(a.cases, b.cases))
        lines.append(f"{name}: {len(ratios)} cases timed in both, ratio quartiles {q[0]:.3f} / {q[1]:.3f} / "
                     f"{q[2]:.3f}; compare: slower {changed['slower']}, faster {changed['faster']}")
    return lines


def test_the_default_run_before_and_after(benchmark: Any, tmp_path: Path) -> None:
    results: dict[str, tuple[float, float]] = {}

    def all_runs() -> None:
        for i, (name, (workers, extra)) in enumerate(CONFIGS.items()):
            results[name] = _run(tmp_path / str(i), workers, extra)

    benchmark.pedantic(all_runs, rounds=1, iterations=1)
    runs = [storage.read_run(storage.find_runs(tmp_path / str(i))[0]) for i in range(len(CONFIGS))]
    for name, (wall, cpu) in results.items():
        FIGURES.append(f"(j) {name}: {wall / 60:.1f} min wall, {cpu / 60:.1f} min CPU")
    FIGURES.extend(f"(j) {line}" for line in figures(runs[0], runs[2], runs[3]))
    benchmark.extra_info.update({name: {"wall_s": w, "cpu_s": c} for name, (w, c) in results.items()})


if __name__ == "__main__":
    paths = [storage.read_run(p) for p in sys.argv[1:]]
    for line in figures(*paths):
        print(line)
