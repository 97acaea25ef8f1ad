"""(i) ``--against``: how much noise two environments timed side by side leave, and how small a change
they still see.

- A/A: a framework's whole catalog at ``--size small`` against the same environment
  (``--against-same-versions``): per case the B/A ratio of medians and its interval; the target is no
  case flagged slower or faster at the default ``--change-threshold``.
- Sensitivity: a scratch catalog of torch functions whose call repeats its work 20 times on A and
  20 x F times on B (F = 1.0, 1.1, 1.25, 1.5, 2.0; B is this interpreter behind a script that says
  F), so each case's true B/A ratio is F: how many cases each threshold flags at each F.

``python -m benchmarks.test_against RUN_DIR`` prints the same figures for a stored ``--against`` run.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import textwrap
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from portability.records import CaseRecord
from portability.results import storage

ROOT = Path(__file__).resolve().parents[1]
THRESHOLDS = (1.05, 1.1, 1.2, 1.25, 1.5)
FACTORS = (1.0, 1.1, 1.25, 1.5, 2.0)


def flagged(cases: Sequence[CaseRecord], threshold: float) -> int:
    """Cases whose B/A interval lies wholly beyond ``threshold`` either way (slower or faster)."""
    return sum(1 for c in cases if (ch := c.get("change")) and ch["ci_low"] is not None
               and (ch["ci_low"] > threshold or ch["ci_high"] < 1 / threshold))


def against_figures(cases: Sequence[CaseRecord]) -> dict[str, dict[str, Any]]:
    """Per framework: cases, cases timed side by side, B/A ratio quartiles, cases flagged per threshold,
    and the run's changes as drawn (at its own threshold)."""
    out: dict[str, dict[str, Any]] = {}
    for fw in sorted({c["framework"] for c in cases}):
        mine = [c for c in cases if c["framework"] == fw]
        timed = [c for c in mine if (c.get("change") or {}).get("ratio") is not None]
        ratios = np.array([c["change"]["ratio"] for c in timed])  # type: ignore[index]
        changes: dict[str, int] = {}
        for c in mine:
            if c.get("change"):
                changes[c["change"]["change"]] = changes.get(c["change"]["change"], 0) + 1  # type: ignore[index]
        out[fw] = {"cases": len(mine), "timed": len(timed),
                   "quartiles": [float(q) for q in np.percentile(ratios, [25, 50, 75])] if ratios.size else [],
                   "outside_0.9_1.1": int(np.sum((ratios < 0.9) | (ratios > 1.1))) if ratios.size else 0,
                   "flagged": {t: flagged(timed, t) for t in THRESHOLDS}, "changes": changes}
    return out


def describe(figures: dict[str, dict[str, Any]]) -> list[str]:
    lines = []
    for fw, f in figures.items():
        q = "/".join(f"{x:.3f}" for x in f["quartiles"]) or "-"
        flags = ", ".join(f"{t:g}x: {n}" for t, n in f["flagged"].items())
        lines.append(f"{fw}: {f['cases']} cases, {f['timed']} timed side by side; B/A quartiles {q}, "
                     f"{f['outside_0.9_1.1']} outside 0.9-1.1x; flagged per threshold {flags}; changes {f['changes']}")
    return lines


def _pytest(*args: str, cwd: Path = ROOT, timeout: float = 7200) -> float:
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "pytest", "--no-report", "-p", "no:cacheprovider", "-q", *args],
                          cwd=cwd, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode in (0, 1), proc.stdout[-2000:] + proc.stderr[-2000:]
    return time.perf_counter() - t0


@pytest.mark.parametrize("framework", ["torch", "jax", "tensorflow"])
def test_aa_interleaved(benchmark: Any, tmp_path: Path, framework: str) -> None:
    from .conftest import FIGURES

    if importlib.util.find_spec(framework) is None:
        pytest.skip(f"{framework} is not installed")
    wall: dict[str, float] = {}

    def run() -> None:
        # two xdist workers where pytest-xdist is installed (tox -e bench has it), as the release runs
        workers = ("-n", "2") if importlib.util.find_spec("xdist") else ()
        wall["s"] = _pytest("--backend=cpu", "--size=small", f"--framework={framework}", f"--results-dir={tmp_path}",
                            f"--against={sys.executable}", "--against-same-versions", *workers)

    benchmark.pedantic(run, rounds=1, iterations=1)
    [run_dir] = storage.find_runs(tmp_path)
    figures = against_figures(storage.read_run(run_dir).cases)[framework]
    benchmark.extra_info.update({"wall_s": wall["s"], **{k: v for k, v in figures.items() if k != "flagged"},
                                 "flagged": {str(k): v for k, v in figures["flagged"].items()}})
    FIGURES.append(f"A/A interleaved ({wall['s']:.0f} s): " + describe({framework: figures})[0])
    # the target: no change of time at the default threshold, once measured twice (``flagged`` counts
    # first measurements, before that confirmation)
    changed = {k: figures["changes"].get(k, 0) for k in ("slower", "faster")}
    assert changed == {"slower": 0, "faster": 0}, f"the A/A drew changes of time: {changed}"


#: Work a kernel repeats: 20 calls on side A, round(20 x F) on side B.
SENSITIVITY = """
    import os
    import numpy as np
    from portability.catalog import Kernel, normal, positive

    REPEAT = round(20 * float(os.environ.get("PORTABILITY_BENCH_FACTOR", "1")))

    def repeated(c, x):
        out = None
        for _ in range(REPEAT):
            out = c.fn(x)
        return out

    UNARY = ["exp", "sin", "cos", "tanh", "sigmoid", "abs", "neg", "square", "floor", "ceil", "round", "sign",
             "exp2", "expm1", "erf", "relu", "trunc", "frac", "reciprocal", "rsqrt", "sqrt", "log", "log1p", "log2"]
    REDUCE = ["sum", "mean", "amax", "amin", "prod", "std", "var", "max", "median", "norm"]
    KERNELS = ([Kernel(f"torch.{n}", "elementwise", positive(4096), call=repeated, check=lambda out, x: None)
                for n in UNARY]
               + [Kernel(f"torch.{n}", "reduction", positive(64, 64), call=repeated, check=lambda out, x: None)
                  for n in REDUCE])
"""


def test_sensitivity(benchmark: Any, tmp_path: Path) -> None:
    from .conftest import FIGURES

    if importlib.util.find_spec("torch") is None:
        pytest.skip("torch is not installed")
    catalog = tmp_path / "catalog"
    (catalog / "kernels" / "torch").mkdir(parents=True)
    (catalog / "kernels" / "torch" / "sensitivity.py").write_text(textwrap.dedent(SENSITIVITY))
    found: dict[float, dict[str, Any]] = {}

    def run() -> None:
        for factor in FACTORS:
            wrapper = tmp_path / f"python-{factor}"
            wrapper.write_text(f'#!/bin/sh\nexport PORTABILITY_BENCH_FACTOR={factor}\nexec "{sys.executable}" "$@"\n')
            wrapper.chmod(0o755)
            out = tmp_path / f"out-{factor}"
            _pytest("--backend=cpu", "--dtype=float32", f"--results-dir={out}", f"--against={wrapper}",
                    "--against-same-versions", "kernels", cwd=catalog, timeout=1800)
            [run_dir] = storage.find_runs(out)
            found[factor] = against_figures(storage.read_run(run_dir).cases)["torch"]

    benchmark.pedantic(run, rounds=1, iterations=1)
    for factor, f in found.items():
        FIGURES.append(f"sensitivity F={factor:g}: {f['timed']} cases, median B/A {f['quartiles'][1]:.3f}; flagged "
                       + ", ".join(f"{t:g}x: {n}" for t, n in f["flagged"].items())
                       + f"; changes at the default threshold, measured twice: {f['changes']}")
    benchmark.extra_info.update({str(k): {"median": v["quartiles"][1], "flagged": {str(t): n for t, n in
                                                                                  v["flagged"].items()}}
                                 for k, v in found.items()})


if __name__ == "__main__":
    for line in describe(against_figures(storage.read_run(sys.argv[1]).cases)):
        print(line)
