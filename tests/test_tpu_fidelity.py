"""The compile-only TPU backend against what is publicly known about JAX on a TPU (``tpu_facts.py``):
each fact's case is compiled for a TPU v5e with the real TPU compiler and must get the outcome the
fact implies. CI installs the ``tpu-compile`` extra (``.ci/run`` sets PORTABILITY_REQUIRE_TPU_COMPILE),
so there the test never skips."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest
from tpu_facts import FACTS, Fact

from portability.catalog.load import load_kernels
from portability.results import storage

ROOT = Path(__file__).resolve().parents[1]


def _require_libtpu() -> None:
    if importlib.util.find_spec("libtpu") is None or importlib.util.find_spec("jax") is None:
        if os.environ.get("PORTABILITY_REQUIRE_TPU_COMPILE"):
            pytest.fail("the tpu-compile extra is not installed: pip install -c constraints.txt -e '.[tpu-compile]'")
        pytest.skip("needs jax and the tpu-compile extra (libtpu)")


def _node(key: str) -> str:
    api = key.split("[", 1)[0]
    for path in sorted((ROOT / "kernels" / "jax").glob("*.py")):
        if any(k.api == api for k in load_kernels(path)):
            return f"{path.relative_to(ROOT)}::{key}"
    raise AssertionError(f"{api} is in no catalog file")


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, bool], dict[str, str]]:
    """(key, x64) -> the stored record's outcome and message, from one real run per x64 setting."""
    _require_libtpu()
    got: dict[tuple[str, bool], dict[str, str]] = {}
    for x64 in (True, False):
        keys = sorted({f.key for f in FACTS if f.x64 == x64})
        out = tmp_path_factory.mktemp(f"x64-{x64}")
        proc = subprocess.run(
            [sys.executable, "-m", "pytest", *map(_node, keys), "--backend=tpu-compile", "--size=small",
             f"--jax-x64={'on' if x64 else 'off'}", f"--results-dir={out}", "--no-report", "-p", "no:cacheprovider",
             "-p", "no:randomly", "-q"],
            cwd=ROOT, capture_output=True, text=True, timeout=900,
        )
        runs = storage.find_runs(out)
        assert len(runs) == 1, proc.stdout[-3000:] + proc.stderr[-3000:]
        run = storage.read_run(runs[0])
        assert run.meta["compile_targets"]["tpu-compile"]["jax"]["chip"] == "TPU v5 lite"
        assert run.meta["options"]["jax_x64"] is x64 and run.meta["numerics"]["jax_enable_x64"] is x64
        for case in run.cases:
            got[(case["key"], x64)] = {"outcome": case["outcome"], "message": case["message"]}
    return got


@pytest.mark.parametrize("fact", FACTS, ids=[f"{f.key}-x64-{'on' if f.x64 else 'off'}" for f in FACTS])
def test_fact(fact: Fact, outcomes: dict[tuple[str, bool], dict[str, str]]) -> None:
    assert fact.source and fact.fact
    case = outcomes.get((fact.key, fact.x64))
    assert case is not None, f"{fact.key} did not run"
    assert case["outcome"] == fact.outcome, f"{fact.fact} ({fact.source}): got {case['outcome']}: {case['message']}"
    assert fact.message in case["message"], case["message"]
    if case["outcome"] == "compiled":
        assert "TPU v5 lite" in case["message"] and "nothing ran" in case["message"]
