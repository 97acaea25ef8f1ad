"""pytest -n (pytest-xdist): same verdicts as a serial run, one merged run directory, device pinning."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from portability.harness import parallel
from portability.results import storage
from portability.runner import cpus as cpus_module
from portability.runner import procs

pytest_plugins = ["pytester"]
ROOT = Path(__file__).resolve().parents[1]


def test_plan_on_the_cpu_shares_the_host():
    assert parallel.plan(("cpu",), 4) == {"workers": 4, "shared": "cpu", "devices": None}
    # compiling for a TPU needs no device: each worker compiles on the host
    assert parallel.plan(("cpu", "tpu-compile"), 2, []) == {"workers": 2, "shared": "cpu", "devices": None}


def test_plan_pins_one_gpu_per_worker_or_refuses():
    gpus = [{"uuid": "GPU-a"}, {"uuid": "GPU-b"}, {"uuid": "GPU-c"}]
    assert parallel.plan(("cpu", "gpu"), 2, gpus)["devices"] == ["GPU-a", "GPU-b"]
    with pytest.raises(ValueError, match=r"^-n 4 with --backend=gpu needs one GPU per worker .* has 3 NVIDIA "
                                         r"GPU\(s\): run without -n, or with -n 3$"):
        parallel.plan(("gpu",), 4, gpus)
    with pytest.raises(ValueError, match="cannot pin workers to TPU"):
        parallel.plan(("tpu",), 2, gpus)


def test_pin_sets_the_visible_device_for_the_framework_workers(monkeypatch):
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    parallel.pin({"workerid": "gw1", "portability_device": "GPU-b"})
    assert os.environ["CUDA_VISIBLE_DEVICES"] == "GPU-b"


def test_gpu_backend_with_n_is_refused_without_enough_gpus(pytester: pytest.Pytester):
    if parallel.environment.nvidia_gpus():
        pytest.skip("this machine has NVIDIA GPUs")
    pytester.makepyfile(test_plain="def test_one():\n    pass\n")
    result = pytester.runpytest_subprocess("-n", "2", "--backend=gpu")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert [ln for ln in result.stderr.lines if ln.startswith("ERROR:")] == [
        "ERROR: -n 2 with --backend=gpu needs one GPU per worker to pin each to its own device; "
        "this machine has 0 NVIDIA GPU(s): run without -n"]


def test_parallel_run_gives_the_serial_verdicts_in_one_run_directory(pytester: pytest.Pytester):
    for fw, name in (("torch", "linalg"), ("jax", "linalg"), ("torch", "random")):
        dest = pytester.path / "kernels" / fw
        dest.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / "kernels" / fw / f"{name}.py", dest / f"{name}.py")
    args = ("--backend=cpu", "--timing-budget=0.01", "-p", "no:cacheprovider", "kernels")
    serial = pytester.runpytest_subprocess("--results-dir=serial", *args)
    par = pytester.runpytest_subprocess("--results-dir=par", "-n", "2", *args)
    assert serial.ret == par.ret == 1  # the same real failures in both
    [s_dir], [p_dir] = storage.find_runs(pytester.path / "serial"), storage.find_runs(pytester.path / "par")
    s_run, p_run = storage.read_run(s_dir), storage.read_run(p_dir)
    s_out = {c["key"]: c["outcome"] for c in s_run.cases}
    p_out = {c["key"]: c["outcome"] for c in p_run.cases}
    assert p_out == s_out
    assert {"pass", "fail:dtype", "fail:not_implemented"} <= set(s_out.values())
    assert p_run.status == storage.COMPLETE and p_run.meta["cases"] == p_run.meta["collected"] == len(p_out)
    assert p_run.meta["parallel"]["workers"] == 2
    assert {c["xdist_worker"] for c in p_run.cases} == {"gw0", "gw1"}  # timings taken side by side
    assert set(p_run.meta["frameworks"]) == {"torch", "jax"}
    pinned = p_run.meta["xdist_cpus"]  # one CPU each by default, a different one while there are enough
    assert set(pinned) == {"gw0", "gw1"} and all(len(cpus) == 1 for w in pinned.values() for cpus in w.values())
    if len(cpus_module.allowed()) >= 2:
        assert {c for cpus in pinned["gw0"].values() for c in cpus}.isdisjoint(
            c for cpus in pinned["gw1"].values() for c in cpus)
    par.stdout.fnmatch_lines(["*portability summary*", f"run written to {p_dir.relative_to(pytester.path)}*"])


GiB = 1024**3


@pytest.mark.parametrize(("paths", "backend", "threads", "asked", "env", "cpus", "memory", "workers"), [
    ([], None, None, None, {}, 16, 64 * GiB, 16),  # `pytest` at the root: the catalog, one worker per CPU
    (["kernels/torch/fft.py::torch.fft.fft"], "cpu,tpu-compile", "1", None, {}, 2, 24 * GiB, 2),
    (["kernels"], "cpu", "4", None, {}, 16, 64 * GiB, 4),  # --cpu-threads 4: four CPUs each
    (["kernels"], "cpu", "all", None, {}, 16, 64 * GiB, 1),
    (["kernels"], "cpu", None, None, {}, 16, 8 * GiB, 4),  # memory for four (2 GiB each)
    (["kernels"], "cpu", None, None, {}, 1, 8 * GiB, 1),
    (["kernels"], "cpu,gpu", None, None, {}, 16, 64 * GiB, 1),  # a device per worker: the user's -n
    (["tests"], None, None, None, {}, 16, 64 * GiB, 1),  # not the catalog: this project's own tests
    (["kernels", "tests/test_timing.py"], None, None, None, {}, 16, 64 * GiB, 1),
    (["kernels"], None, None, "-n given", {}, 16, 64 * GiB, 1),
    (["kernels"], None, None, None, {"PORTABILITY_WORKERS": "1"}, 16, 64 * GiB, 1),
    (["kernels"], None, None, None, {"PORTABILITY_WORKERS": "3"}, 16, 64 * GiB, 3),
    (["kernels"], None, None, None, {"PORTABILITY_WORKERS": ""}, 2, None, 2),  # empty: unset
])
def test_a_catalog_run_gets_a_worker_per_cpu_unless_told(paths, backend, threads, asked, env, cpus, memory, workers):
    got, why = parallel.default_workers(paths, ["kernels"], backend, threads, asked, env, cpus, memory)
    assert got == workers, why


def test_a_bad_workers_variable_is_one_line():
    with pytest.raises(ValueError, match=r"^PORTABILITY_WORKERS='many'; valid: a number of workers \(1: one "
                                         r"process\)$"):
        parallel.default_workers(["kernels"], [], None, None, None, {"PORTABILITY_WORKERS": "many"}, 2, None)


def test_by_default_a_catalog_run_spreads_over_the_cpus_and_says_so(pytester: pytest.Pytester,
                                                                      monkeypatch: pytest.MonkeyPatch):
    dest = pytester.path / "kernels" / "torch"
    dest.mkdir(parents=True)
    shutil.copy(ROOT / "kernels" / "torch" / "fft.py", dest / "fft.py")
    monkeypatch.delenv("PORTABILITY_WORKERS")
    expected, why = parallel.default_workers(["kernels"], [], "cpu", None, None, {}, len(cpus_module.allowed()),
                                             procs.machine_memory())
    result = pytester.runpytest_subprocess("--backend=cpu", "--timing-budget=0.01", "--results-dir=out", "kernels")
    [run_dir] = storage.find_runs(pytester.path / "out")
    run = storage.read_run(run_dir)
    if expected == 1:  # a one-CPU machine: one process, as before
        assert run.meta["parallel"] is None
        return
    assert f"portability: {expected} workers by default ({why}; -n 0 runs one process)" in result.stdout.lines
    assert run.meta["parallel"]["workers"] == expected and run.meta["parallel"]["chosen"].startswith(
        f"{expected} workers by default")
    assert len({c["xdist_worker"] for c in run.cases}) == expected
    serial = pytester.runpytest_subprocess("--backend=cpu", "--timing-budget=0.01", "--results-dir=one", "-n", "0",
                                           "kernels")
    assert serial.ret == result.ret
    assert storage.read_run(storage.find_runs(pytester.path / "one")[0]).meta["parallel"] is None
