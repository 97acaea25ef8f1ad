"""Acceptance tests of the pytest plugin with pytester: options, collection, isolation, run files."""

from __future__ import annotations

import json
import platform
import re
import subprocess
import sys
from pathlib import Path

import pytest
from scratch import FAST, only_run, write_kernels

from portability.results import storage

pytest_plugins = ["pytester"]


def test_no_catalog_leaves_pytest_alone(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_plain="def test_one():\n    assert True\n")
    result = pytester.runpytest_subprocess()
    result.assert_outcomes(passed=1)
    assert "portability summary" not in result.stdout.str()
    assert not (pytester.path / "reports").exists()


@pytest.mark.parametrize(("value", "machine", "expected"), [
    (None, 16 * 2**30, 8 * 2**30),  # the default: half the machine
    (None, None, None),  # a machine that does not say its memory: no limit rather than no run
    ("25%", 16 * 2**30, 4 * 2**30),
    ("8G", None, 8 * 2**30),
    ("512M", 16 * 2**30, 512 * 2**20),
    ("1.5GiB", None, int(1.5 * 2**30)),
    ("2t", None, 2 * 2**40),
    ("100000", None, 100000),
    ("off", 16 * 2**30, None),
    ("OFF", None, None),
])
def test_worker_memory_is_a_size_a_share_or_off(value, machine, expected) -> None:
    from portability.options import parse_memory

    assert parse_memory(value, machine) == expected


@pytest.mark.parametrize(("value", "machine", "message"), [
    ("50%", None, "--worker-memory '50%': this machine does not say how much memory it has; give a size"),
    ("0%", 2**30, "--worker-memory '0%': a share must be over 0% and at most 100%"),
    ("-1G", 2**30, "--worker-memory '-1G'; valid: a size such as 8G"),
    ("lots%", 2**30, "--worker-memory 'lots%'; valid: "),
])
def test_worker_memory_refuses_what_it_cannot_mean(value, machine, message) -> None:
    from portability.options import parse_memory

    with pytest.raises(ValueError, match="^" + re.escape(message)):
        parse_memory(value, machine)


@pytest.mark.parametrize(("args", "message"), [
    (["--backend=gpux"], "ERROR: unknown backend 'gpux'; valid: cpu, gpu, tpu"),
    (["--backend=cpu,"], None),  # a trailing comma is tolerated
    (["--backend=,"], "ERROR: empty --backend list; valid: cpu, gpu, tpu"),
    (["--framework=mxnet"], "ERROR: unknown framework 'mxnet'; valid: torch, jax, tensorflow"),
    (["--dtype=float8"], "ERROR: unknown dtype 'float8'; valid: float16, bfloat16, float32, float64"),
    (["--slowdown-threshold=0.5"], "ERROR: --slowdown-threshold must be greater than 1, got '0.5'"),
    (["--slowdown-threshold=fast"], "ERROR: --slowdown-threshold must be a number, got 'fast'"),
    (["--case-timeout=0"], "ERROR: --case-timeout must be greater than 0, got '0'"),
    # past what a worker's pipe can wait, every case crashed in the harness and the run said complete
    (["--case-timeout=inf"], "ERROR: --case-timeout must be at most 2.14748e+06, got 'inf'"),
    (["--case-timeout=3000000"], "ERROR: --case-timeout must be at most 2.14748e+06, got '3000000'"),
    (["--timing-budget=inf"], "ERROR: --timing-budget must be at most 2.14748e+06, got 'inf'"),
    (["--timing-budget=nan"], "ERROR: --timing-budget must be a number, got 'nan'"),
    (["--timing-precision=2"], "ERROR: --timing-precision must be a number from 0 to 1, got '2'"),
    (["--timing-precision=nan"], "ERROR: --timing-precision must be a number from 0 to 1, got 'nan'"),
    (["--timing-precision=0.02"], None),
    (["--lf"], None),  # with the cache on (not this project's setting), pytest's own --lf works
    (["--baseline=nowhere"], "ERROR: --baseline 'nowhere' is not a run directory"),
    (["--cpu-threads=0"], "ERROR: --cpu-threads '0' is not valid on this machine ("),
    (["--cpu-threads=many"], "ERROR: --cpu-threads 'many' is not valid on this machine ("),
    (["--worker-memory=lots"], "ERROR: --worker-memory 'lots'; valid: a size such as 8G or 512M, a share of this "
                               "machine's memory such as 50%, or off"),
    (["--worker-memory=150%"], "ERROR: --worker-memory '150%': a share must be over 0% and at most 100%"),
    (["--worker-memory=0G"], "ERROR: --worker-memory '0G'; valid: "),
    (["--worker-memory=off"], None),
    (["--worker-memory=1.5G"], None),
])
def test_options_are_validated_with_one_line_errors(pytester: pytest.Pytester, args, message) -> None:
    pytester.makepyfile(test_plain="def test_one():\n    assert True\n")
    result = pytester.runpytest_subprocess(*args)
    if message is None:
        assert result.ret == 0
        return
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    errors = [ln for ln in result.stderr.lines if ln.startswith("ERROR:")]
    assert len(errors) == 1 and errors[0].startswith(message), result.stderr.str()


HELP_GROUP = ["--backend=LIST", "--mode=LIST", "--tpu-topology=NAME", "--jax-x64=on|off",
              "--framework=LIST", "--dtype=LIST", "--size=SIZE", "--baseline=RUN_DIR", "--against=PYTHON",
              "--against-same-versions", "--change-threshold=RATIO", "--fail-on=failure|regression",
              "--slowdown-threshold=RATIO", "--baseline-noise=FACTOR", "--case-timeout=SECONDS",
              "--timing-budget=SECONDS", "--timing-precision=SHARE",
              "--cpu-threads=N", "--worker-memory=SIZE", "--expectations=DIR", "--no-report",
              "--results-dir=DIR"]


def test_the_help_group_lists_every_option_once_with_its_default(pytester: pytest.Pytester) -> None:
    """Pinned: the ``portability catalog`` group of ``pytest --help``, in order; each option says its default."""
    text = pytester.runpytest_subprocess("--help").stdout.str()
    group = text[text.index("portability catalog:"):].split("\n\n")[0]
    entries = [" ".join(("--" + e).split()) for e in group.split("\n  --")[1:]]
    assert [e.split(" ")[0] for e in entries] == HELP_GROUP
    for entry in entries:
        assert "(default: " in entry, entry


def test_the_header_says_what_the_run_covers(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_plain="def test_one():\n    assert True\n")
    result = pytester.runpytest_subprocess("--backend=cpu", "--framework=torch", "--size=small", "--cpu-threads=1")
    result.stdout.fnmatch_lines(["portability: frameworks torch; backends cpu; size small; "
                                 "cpu threads per worker: 1 pinned CPU, 1 thread"])


def test_malformed_entry_fails_collection_naming_it(pytester: pytest.Pytester) -> None:
    write_kernels(pytester, "torch", "broken", """
        from portability.catalog import Kernel, normal
        KERNELS = [
            Kernel("torch.abs", "elementwise", normal(4)),
            Kernel("torch.neg", "arithmetic", normal(4)),
        ]
    """)
    result = pytester.runpytest_subprocess("--backend=cpu", "kernels")
    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines(["*malformed catalog entry: *broken.py: entry 'torch.neg': unknown category "
                                 "'arithmetic'; valid: creation, *"])


def test_an_api_defined_in_two_catalog_files_is_an_error(pytester: pytest.Pytester) -> None:
    body = """
        from portability.catalog import Kernel, normal
        KERNELS = [Kernel("torch.abs", "elementwise", normal(4))]
    """
    write_kernels(pytester, "torch", "a", body)
    write_kernels(pytester, "torch", "b", body)
    result = pytester.runpytest_subprocess("--backend=cpu", "--collect-only", "kernels")
    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines(["*b.py: entry 'torch.abs' is already defined in *a.py*"])


def test_catalog_file_without_kernels_list_is_an_error(pytester: pytest.Pytester) -> None:
    write_kernels(pytester, "torch", "nolist", "KERNELS = None\n")
    result = pytester.runpytest_subprocess("--backend=cpu", "kernels")
    result.stdout.fnmatch_lines(["*nolist.py: defines no KERNELS list*"])


def test_catalog_modules_must_not_import_their_framework(pytester: pytest.Pytester) -> None:
    write_kernels(pytester, "jax", "eager", "import jax\nKERNELS = []\n")
    result = pytester.runpytest_subprocess("--backend=cpu", "kernels")
    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines(["*eager.py: imports jax at module level; reach it through ctx.fw / ctx.fn*"])


def test_unavailable_backend_stops_at_once_naming_what_each_framework_sees(pytester: pytest.Pytester) -> None:
    write_kernels(pytester, "torch", "one", """
        import numpy as np
        from portability.catalog import Kernel, normal
        KERNELS = [Kernel("torch.abs", "elementwise", normal(8), reference=np.abs)]
    """)
    result = pytester.runpytest_subprocess("--backend=gpu", "--results-dir", "out", "kernels")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    errors = [ln for ln in result.stderr.lines if ln.startswith("ERROR:")]
    assert len(errors) == 1
    assert errors[0].startswith("ERROR: backend 'gpu' is not available on this machine: torch sees cpu (torch: ")
    assert not storage.find_runs(pytester.path / "out")  # nothing ran, nothing is left behind


def test_dtype_option_restricts_the_sweep_and_ids_are_stable(pytester: pytest.Pytester) -> None:
    write_kernels(pytester, "torch", "few", """
        import numpy as np
        from portability.catalog import Kernel, normal
        KERNELS = [Kernel("torch.abs", "elementwise", {"vec": normal(8), "mat": normal(4, 4)},
                          dtypes=("float32", "float64", "float16"), reference=np.abs)]
    """)
    result = pytester.runpytest_subprocess("--backend=cpu", "--dtype=float64,float16", "--collect-only", "-q",
                                           "kernels")
    result.stdout.fnmatch_lines([
        "kernels/torch/few.py::torch.abs[vec-float64-cpu]",
        "kernels/torch/few.py::torch.abs[mat-float64-cpu]",
        "kernels/torch/few.py::torch.abs[vec-float16-cpu]",
        "kernels/torch/few.py::torch.abs[mat-float16-cpu]",
    ])
    assert "float32" not in result.stdout.str()
    assert not (pytester.path / "reports").exists()  # collecting starts no worker and writes no run


def test_framework_errors_are_data(pytester: pytest.Pytester) -> None:
    """A message from a framework is stored as it is; one JSON record per case."""
    write_kernels(pytester, "torch", "raises", """
        from portability.catalog import Kernel, normal
        def boom(c, x):
            raise RuntimeError("<script>alert(1)</script> not implemented for 'Half'")
        KERNELS = [Kernel("torch.abs", "elementwise", normal(4), call=boom)]
    """)
    pytester.runpytest_subprocess("--backend=cpu", "--results-dir=out", *FAST, "kernels")
    run = only_run(pytester.path / "out")
    (case,) = run.cases
    assert case["outcome"] == "fail:not_implemented"
    assert case["message"] == "RuntimeError: <script>alert(1)</script> not implemented for 'Half'"
    line = (run.path / "cases.jsonl").read_text().splitlines()[0]
    assert json.loads(line)["id"] == "kernels/torch/raises.py::torch.abs[float32-cpu]"


def test_catalog_file_named_like_a_stdlib_module_runs_when_named_on_the_command_line(pytester: pytest.Pytester):
    """Regression: pytest imported explicitly named files as test modules, putting kernels/<fw> on
    sys.path, where kernels/torch/random.py shadowed `random` in the spawned worker."""
    write_kernels(pytester, "torch", "random", """
        import numpy as np
        from portability.catalog import Kernel, normal
        KERNELS = [Kernel("torch.abs", "elementwise", normal(4), reference=np.abs)]
    """)
    result = pytester.runpytest_subprocess("--backend=cpu", "--results-dir=out", *FAST, "kernels/torch/random.py")
    result.assert_outcomes(passed=1)
    assert not [ln for ln in result.stdout.lines if "Module" in ln]


SLEEPY = """
    import os, time
    import numpy as np
    from portability.catalog import Kernel, normal

    CALLS = [0]

    def sleepy(c, x):
        CALLS[0] += 1
        slow = {"always": True, "first7": CALLS[0] <= 7}.get(os.environ.get("SLEEPY", ""), False)
        time.sleep(0.05 if slow else 0.002)
        return c.fn(x)

    KERNELS = [Kernel("torch.abs", "elementwise", normal(8), call=sleepy, reference=np.abs)]
"""


@pytest.mark.parametrize(("mode", "outcome"), [("always", "slowdown"), ("first7", "pass")])
def test_a_slowdown_against_a_baseline_must_show_twice(pytester: pytest.Pytester, monkeypatch, mode, outcome):
    write_kernels(pytester, "torch", "sleepy", SLEEPY)
    args = ("--backend=cpu", "--timing-budget=0.01", "kernels")
    monkeypatch.setenv("SLEEPY", "")
    pytester.runpytest_subprocess("--results-dir=base", *args).assert_outcomes(passed=1)
    [base] = storage.find_runs(pytester.path / "base")
    monkeypatch.setenv("SLEEPY", mode)
    pytester.runpytest_subprocess("--results-dir=new", f"--baseline={base}", *args).assert_outcomes(passed=1)
    (case,) = only_run(pytester.path / "new").cases
    assert case["outcome"] == outcome
    first, again = case["ratio"], case["ratio"]["confirmation"]
    assert first["reference"] == "baseline" and first["ci_low"] > 1.5 * 2.0  # flagged on the first measurement
    if mode == "always":
        assert again["ci_low"] > 3.0 and "slower than the baseline" in case["message"]
    else:  # the stall passed: the second measurement runs at the baseline's speed
        assert again["ratio"] < 2.0 and case["message"] == ""


def test_a_directory_option_given_as_a_separate_token_is_caught(tmp_path: Path) -> None:
    """``--baseline /tmp/run`` (no '='): pytest takes the directory for its rootdir and would collect
    from it without the project's configuration; the plugin says how to write it instead."""
    run = tmp_path / "run"
    run.mkdir()
    (run / "run.json").write_text("{}")
    root = Path(__file__).resolve().parents[1]
    proc = subprocess.run([sys.executable, "-m", "pytest", "--backend=cpu", "--baseline", str(run), "--collect-only"],
                          cwd=root, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 4
    assert f"write --baseline={run} (with '=')" in proc.stderr, proc.stdout[-500:]


def test_a_results_folder_given_as_a_separate_token_under_xdist_is_caught_before_it_exists(tmp_path: Path) -> None:
    """Under -n the controller would create the folder and each xdist worker, reading the same
    arguments, would take it for a test path: one line before anything runs, not a traceback per worker."""
    out = tmp_path / "out"
    root = Path(__file__).resolve().parents[1]
    proc = subprocess.run([sys.executable, "-m", "pytest", "--backend=cpu", "-n", "2", "--results-dir", str(out),
                           "kernels/torch/fft.py"], cwd=root, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 4, proc.stdout[-1000:]
    assert f"write --results-dir={out} (with '=')" in proc.stderr and "Traceback" not in proc.stderr + proc.stdout
    assert not out.exists()


THREADS = """
    from portability.catalog import Kernel
    # the worker's own view of its thread pool: 1 under the default --cpu-threads
    KERNELS = [Kernel("torch.get_num_threads", "utility", lambda rng: {}, call=lambda c: c.fn(),
                      reference=lambda: 1)]
"""


@pytest.mark.parametrize("threads", ["default", "all"])
def test_workers_get_one_pinned_cpu_unless_told_otherwise(pytester: pytest.Pytester, threads: str) -> None:
    from portability.runner import cpus

    write_kernels(pytester, "torch", "threads", THREADS)
    args = () if threads == "default" else (f"--cpu-threads={threads}",)
    result = pytester.runpytest_subprocess("--backend=cpu", "--results-dir=out", *FAST, *args, "kernels")
    run = only_run(pytester.path / "out")
    meta = run.meta["frameworks"]["torch"]
    usable = cpus.allowed()
    if threads == "default":
        result.assert_outcomes(passed=1)
        assert run.meta["options"]["cpu_threads"] == 1
        assert meta["threads"] == 1 and meta["cpus"] == [usable[-1]]
        if platform.libc_ver()[0] == "glibc":  # freed memory kept for the next call (runner.allocator)
            assert meta["allocator"] == {"trim_threshold": -1, "mmap_max": 0, "arena_max": 1}
    else:
        assert run.meta["options"]["cpu_threads"] is None
        assert meta["cpus"] == usable and meta["threads"] == len(usable)
        [case] = run.cases
        assert case["outcome"] == ("pass" if len(usable) == 1 else "fail:numerical"), case


ASYNC_DISPATCH = """
    import numpy as np
    from portability.catalog import Kernel
    # what the worker's JAX does with a CPU computation: run it on the calling thread (False) or hand it
    # to a thread of its own (True, JAX's default); the reference says what the run should have chosen
    KERNELS = [Kernel("jax.config.values.get", "utility", lambda rng: {},
                      call=lambda c: np.asarray(c.fn("jax_cpu_enable_async_dispatch")),
                      reference=lambda: np.asarray({expected}))]
"""


@pytest.mark.parametrize("threads", ["default", "all"])
def test_jax_runs_cpu_computations_on_the_calling_thread_of_a_one_cpu_worker(pytester: pytest.Pytester,
                                                                            threads: str) -> None:
    from portability.runner import cpus

    one_cpu = threads == "default" or len(cpus.allowed()) == 1
    write_kernels(pytester, "jax", "dispatch", ASYNC_DISPATCH.replace("{expected}", str(not one_cpu)))
    args = () if threads == "default" else (f"--cpu-threads={threads}",)
    result = pytester.runpytest_subprocess("--backend=cpu", "--results-dir=out", *FAST, *args, "kernels")
    run = only_run(pytester.path / "out")
    assert run.meta["frameworks"]["jax"]["timing_settings"] == {"jax_cpu_enable_async_dispatch": not one_cpu}
    [case] = run.cases
    assert case["outcome"] == "pass", case
    result.assert_outcomes(passed=1)


LEAVES_GARBAGE = """
    import os
    import numpy as np
    from portability.catalog import Kernel, normal

    def _cycle(c, x):
        node = {"payload": np.ones(8_000_000)}  # 64 MB that only a reference cycle keeps
        node["self"] = node
        return lambda: (node, c.fn(x))[1]  # the timed call holds it until the case is over

    def _rss_mb(c, x):
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20

    def _bounded(rss, x):
        assert rss < 1200, f"worker RSS {rss:.0f} MB after 30 cases of 64 MB garbage each"

    KERNELS = [
        Kernel("jax.numpy.asarray", "creation", {f"v{i:02d}": normal(8) for i in range(30)}, setup=_cycle,
               reference=lambda x: x),
        Kernel("jax.numpy.array", "creation", normal(8), call=_rss_mb, check=_bounded),
    ]
"""


@pytest.mark.skipif(not Path("/proc/self/statm").exists(), reason="reads the worker's memory from /proc")
def test_what_a_case_leaves_behind_is_freed_before_the_next(pytester: pytest.Pytester) -> None:
    """Cyclic garbage of a case (here 64 MB that the timed thunk held) is collected once the case
    is over, not frozen with the worker's long-lived objects: 30 such cases leave memory flat."""
    write_kernels(pytester, "jax", "garbage", LEAVES_GARBAGE)
    result = pytester.runpytest_subprocess("--backend=cpu", "--results-dir=out", *FAST, "kernels")
    result.assert_outcomes(passed=31)
    run = only_run(pytester.path / "out")
    assert [c["api"] for c in run.cases][-1] == "jax.numpy.array"  # measured after the 30 others


@pytest.mark.parametrize("flag", ["--lf", "--ff", "--sw"])
def test_cache_options_are_refused_where_the_project_turns_the_cache_off(pytester: pytest.Pytester, flag: str) -> None:
    """With the project's ini (``addopts = -p no:cacheprovider``) pytest still accepts these and reran
    everything; now one line says why not and what to do instead."""
    pytester.makeini("[pytest]\naddopts = -p no:cacheprovider\n")
    pytester.makepyfile(test_plain="def test_one():\n    assert True\n")
    result = pytester.runpytest_subprocess(flag)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    errors = [ln for ln in result.stderr.lines if ln.startswith("ERROR:")]
    assert errors == [f"ERROR: {flag} needs pytest's cache, which this project turns off (-p no:cacheprovider); "
                      "rerun failing cases by node id (portability cases RUN_DIR --outcome fail lists them)"]
