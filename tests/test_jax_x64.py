"""``--jax-x64``: JAX with 64-bit types (the default) against JAX's default configuration, where a
float64 case silently computes in float32 (``fail:downcast``), run for real on a few JAX cases."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

from portability.results import storage

ROOT = Path(__file__).resolve().parents[1]
CASES = ["kernels/jax/linalg.py::jax.numpy.matmul[float64-cpu]", "kernels/jax/linalg.py::jax.numpy.matmul[float32-cpu]",
         "kernels/jax/fft.py::jax.numpy.fft.fft[complex128-cpu]"]


def run(tmp_path: Path, x64: str) -> storage.Run:
    proc = subprocess.run([sys.executable, "-m", "pytest", *CASES, "--size=small", "--timing-budget=0.01",
                           f"--jax-x64={x64}", f"--results-dir={tmp_path}", "--no-report", "-p", "no:cacheprovider"],
                          cwd=ROOT, capture_output=True, text=True, timeout=600)
    [path] = storage.find_runs(tmp_path)
    assert proc.returncode in (0, 1), proc.stdout[-2000:] + proc.stderr[-2000:]
    return storage.read_run(path)


@pytest.mark.skipif(importlib.util.find_spec("jax") is None, reason="needs jax")
def test_64_bit_types_on_by_default_and_the_default_configuration_as_its_own_category(tmp_path: Path) -> None:
    on, off = run(tmp_path / "on", "on"), run(tmp_path / "off", "off")
    assert on.meta["numerics"]["jax_enable_x64"] is True and off.meta["numerics"]["jax_enable_x64"] is False
    got_on = {c["key"]: c for c in on.cases}
    got_off = {c["key"]: c for c in off.cases}
    assert {k: c["outcome"] for k, c in got_on.items()} == dict.fromkeys(got_on, "pass")
    for key in ("jax.numpy.matmul[float64-cpu]", "jax.numpy.fft.fft[complex128-cpu]"):
        assert got_off[key]["outcome"] == "fail:downcast", got_off[key]["message"]
        assert "jax_enable_x64" in got_off[key]["message"]
        assert got_off[key]["repro"] == f"pytest '{next(c for c in CASES if c.endswith(key))}' --backend=cpu " \
                                       "--size=small --jax-x64=off"  # runs it again as it ran
    assert got_off["jax.numpy.matmul[float32-cpu]"]["outcome"] == "pass"
