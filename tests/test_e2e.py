"""End to end: the whole catalog at ``--size small`` on the CPU for all three frameworks, run files checked.

One real run (a few minutes on 2 cores) shared by the tests of this module.
"""

from __future__ import annotations

import subprocess
import sys
from collections import Counter, defaultdict
from pathlib import Path

import pytest

from portability.results import storage
from portability.runner.backends import installed
from portability.usage import inventory
from portability.vocabulary import FRAMEWORKS

ROOT = Path(__file__).resolve().parents[1]
REQUIRED = {"key", "id", "framework", "api", "category", "dtype", "variant", "backend", "outcome", "failure", "message",
            "device_used", "check", "timing", "repro", "paper"}


def _one_run(tmp_path_factory: pytest.TempPathFactory, name: str,
             args: list[str]) -> tuple[subprocess.CompletedProcess[str], storage.Run]:
    """``pytest ARGS`` from the project root into a results folder of its own: its output and its run."""
    if sorted(installed()) != sorted(FRAMEWORKS):
        pytest.skip(f"the end-to-end run needs all three frameworks; installed: {installed()}")
    out = tmp_path_factory.mktemp(name)
    proc = subprocess.run([sys.executable, "-m", "pytest", *args, f"--results-dir={out}", "-p", "no:cacheprovider"],
                          cwd=ROOT, capture_output=True, text=True, timeout=1500)
    runs = storage.find_runs(out)
    assert len(runs) == 1, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc, storage.read_run(runs[0])


@pytest.fixture(scope="module")
def cpu_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess[str], storage.Run]:
    return _one_run(tmp_path_factory, "e2e", ["--backend=cpu", "--size=small", "--timing-budget=0.05"])


def test_run_completes_and_prints_the_summary(cpu_run):
    proc, run = cpu_run
    assert proc.returncode in (0, 1), proc.stderr[-3000:]  # 1: some cases fail, which is the finding
    text = proc.stdout
    assert "portability summary (functions per framework and backend)" in text
    for fw in FRAMEWORKS:
        assert any(line.startswith(f"{fw} ") and " cpu " in line for line in text.splitlines()), fw
    assert f"run written to {run.path}" in text
    assert "slowdown n/a" in text  # a cpu run without --baseline has no slowdown verdicts, and says so


def test_run_json_describes_machine_and_frameworks(cpu_run):
    _, run = cpu_run
    m = run.meta
    assert m["schema"] == storage.SCHEMA_VERSION and m["status"] == storage.COMPLETE
    assert m["started"] < m["ended"]
    assert m["machine"]["cpu"] and m["machine"]["python"].startswith("3.")
    assert m["machine"]["git"]["commit"]
    assert set(m["frameworks"]) == set(FRAMEWORKS)
    assert m["frameworks"]["torch"]["versions"]["torch"].startswith("2.")
    assert m["frameworks"]["jax"]["visible"] == {"cpu": m["frameworks"]["jax"]["visible"]["cpu"]}
    assert m["numerics"]["jax_enable_x64"] is True and m["options"]["jax_x64"] is True  # the suite's default
    assert m["cases"] == m["collected"] == len(run.cases)
    assert m["options"]["size"] == "small"


def test_every_case_has_a_complete_record(cpu_run):
    _, run = cpu_run
    ids = [c["key"] for c in run.cases]
    assert len(ids) == len(set(ids))
    for c in run.cases:
        assert set(c) >= REQUIRED, c["id"]
        assert c["backend"] == "cpu"
        assert c["id"].startswith(f"kernels/{c['framework']}/") and c["id"].endswith(f"::{c['key']}")
        assert c["key"].startswith(f"{c['api']}[") and c["key"].endswith(f"{c['dtype']}-{c['backend']}]")
        if c["outcome"] == "pass":
            assert c["device_used"] in ([], ["cpu"]), c["id"]
            assert c["timing"]["rounds"] >= 5 and c["timing"]["first_call_s"] > 0
            assert c["check"] in ("numpy", "property", "self", "cpu-float64", "cpu-float32"), (c["id"], c["check"])


def test_every_function_of_the_catalog_ran(cpu_run):
    _, run = cpu_run
    inv = inventory.load(ROOT / "kernels")
    for fw in FRAMEWORKS:
        ran = {c["api"] for c in run.cases if c["framework"] == fw}
        assert ran == {k.api for _, k in inv.kernels[fw]}, fw
        assert len(ran) >= 150, (fw, len(ran))


def test_real_dtype_and_not_implemented_failures_and_no_harness_errors(cpu_run):
    _, run = cpu_run
    by_fw = defaultdict(Counter)
    for c in run.cases:
        by_fw[c["framework"]][c["outcome"]] += 1
        assert not c["message"].startswith("harness error"), (c["id"], c["message"])
    for fw in FRAMEWORKS:
        assert by_fw[fw]["fail:dtype"] > 0, (fw, by_fw[fw])
    assert sum(by_fw[fw]["fail:not_implemented"] for fw in FRAMEWORKS) > 0
    cases = {c["key"]: c for c in run.cases}
    # JAX runs with 64-bit types (the suite's default): its float64 cases compute in float64 on the CPU
    jax64 = [c for c in cases.values() if c["framework"] == "jax" and c["dtype"] == "float64"]
    assert jax64 and not any(c["outcome"] == "fail:downcast" for c in jax64)
    assert cases["jax.numpy.matmul[float64-cpu]"]["output_dtypes"] == ["float64"]
    # torch has no CPU Cholesky in half precision
    chol = cases.get("torch.linalg.cholesky[float16-cpu]")
    assert chol and chol["outcome"] == "fail:not_implemented" and "not implemented for 'Half'" in chol["message"]


# -- the compiled mode on a selection (the whole catalog compiled takes about 12 min with -n 2: README) --------

@pytest.fixture(scope="module")
def modes_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess[str], storage.Run]:
    files = [f"kernels/{fw}/elementwise.py" for fw in FRAMEWORKS]
    return _one_run(tmp_path_factory, "modes", [*files, "--backend=cpu", "--mode=eager,compiled", "--dtype=float32",
                                                "--size=small", "--timing-budget=0.02", "--no-report"])


def test_every_case_of_a_selection_runs_eager_and_compiled(modes_run):
    proc, run = modes_run
    assert proc.returncode in (0, 1), proc.stderr[-3000:]
    keys = {c["key"]: c for c in run.cases}
    eager = {k for k, c in keys.items() if c["mode"] == "eager"}
    compiled = {k for k, c in keys.items() if c["mode"] == "compiled"}
    assert eager and {k.removesuffix("-compiled]") + "]" for k in compiled} == eager
    assert not [k for k, c in keys.items() if c["message"].startswith("harness error")]
    for fw in FRAMEWORKS:
        ran = [c for c in keys.values() if c["framework"] == fw and c["mode"] == "compiled"
               and c["outcome"] in ("pass", "slowdown")]
        assert ran, fw
        for c in ran:
            assert c["ratio"]["reference"] == "eager call" and c["compile"]["first_call_s"] > 0, c["key"]
            assert c["check"] in ("numpy", "property", "eager", "cpu-float64"), (c["key"], c["check"])
    modes = proc.stdout.split("compiled against eager")[1]
    for fw in FRAMEWORKS:
        assert any(line.startswith(f"{fw} ") and "cpu compiled" in line for line in modes.splitlines()), fw
