"""Acceptance tests of the pytest plugin with pytester: options, collection, isolation, run files."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from portability.results import storage

pytest_plugins = ["pytester"]

FAST = ("--timing-budget=0.01",)


def write_kernels(pytester: pytest.Pytester, framework: str, name: str, body: str) -> Path:
    path = pytester.path / "kernels" / framework / f"{name}.py"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(body))
    return path


def only_run(results: Path) -> storage.Run:
    runs = storage.find_runs(results)
    assert len(runs) == 1, runs
    return storage.read_run(runs[0])


def test_no_catalog_leaves_pytest_alone(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_plain="def test_one():\n    assert True\n")
    result = pytester.runpytest_subprocess()
    result.assert_outcomes(passed=1)
    assert "portability summary" not in result.stdout.str()
    assert not (pytester.path / "reports").exists()


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
    (["--lf"], None),  # with the cache on (not this project's setting), pytest's own --lf works
    (["--baseline=nowhere"], "ERROR: --baseline 'nowhere' is not a run directory"),
    (["--cpu-threads=0"], "ERROR: --cpu-threads '0' is not valid on this machine ("),
    (["--cpu-threads=many"], "ERROR: --cpu-threads 'many' is not valid on this machine ("),
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


HELP_GROUP = ["--backend=LIST", "--tpu-topology=NAME", "--jax-x64=on|off",
              "--framework=LIST", "--dtype=LIST", "--size=SIZE", "--baseline=RUN_DIR",
              "--slowdown-threshold=RATIO", "--baseline-noise=FACTOR", "--case-timeout=SECONDS",
              "--timing-budget=SECONDS", "--cpu-threads=N", "--expectations=DIR", "--no-report", "--results-dir=DIR"]


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


CHAOS = """
    import os, signal, time
    import numpy as np
    from portability.catalog import Kernel, normal

    def segfault(c, x):
        os.kill(os.getpid(), signal.SIGSEGV)

    def hang(c, x):
        time.sleep(600)

    KERNELS = [
        Kernel("torch.abs", "elementwise", normal(8), call=segfault, reference=np.abs),
        Kernel("torch.neg", "elementwise", normal(8), call=hang, reference=np.negative),
        Kernel("torch.exp", "elementwise", normal(8), reference=np.exp),
    ]
"""


def test_crash_and_hang_cost_one_case_each_and_the_run_goes_on(pytester: pytest.Pytester) -> None:
    write_kernels(pytester, "torch", "chaos", CHAOS)
    result = pytester.runpytest_subprocess("--backend=cpu", "--case-timeout=15", "--results-dir=out", *FAST, "kernels")
    result.assert_outcomes(passed=1, failed=2)
    result.stdout.fnmatch_lines([
        "*torch.abs [[]float32, cpu[]]: fail:crash: worker killed by SIGSEGV: Fatal Python error: Segmentation fault*",
        "*torch.neg [[]float32, cpu[]]: fail:timeout: no result within the case time limit of 15 s*",
    ])
    run = only_run(pytester.path / "out")
    assert run.status == storage.COMPLETE
    outcomes = {c["api"]: c["outcome"] for c in run.cases}
    assert outcomes == {"torch.abs": "fail:crash", "torch.neg": "fail:timeout", "torch.exp": "pass"}
    assert run.meta["workers_started"] == 3  # the first, one after the crash, one after the timeout
    pids = {c["api"]: c["worker_pid"] for c in run.cases}
    assert pids["torch.exp"] is not None


SLOW = """
    import time
    import numpy as np
    from portability.catalog import Kernel, normal

    def slow(c, x):
        time.sleep(0.25)
        return c.fn(x)

    KERNELS = [Kernel(f"torch.{name}", "elementwise", normal(8), call=slow, reference=getattr(np, name))
               for name in ("abs", "exp", "sin", "cos", "tan", "tanh", "sqrt", "square")]
"""


def _start(pytester: pytest.Pytester, results: str) -> subprocess.Popen[bytes]:
    cmd = [sys.executable, "-m", "pytest", "--backend=cpu", f"--results-dir={results}", "--timing-budget=0.01",
           "-p", "no:cacheprovider", "kernels"]
    # A background job of a non-interactive shell starts with SIGINT ignored, and Python then installs no
    # Ctrl-C handler: the child gets the default disposition, as from an interactive terminal, by way of a
    # small Python that sets it and execs pytest (exec keeps SIG_DFL; a preexec_fn would fork this
    # multithreaded process).
    restore = ("import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); "
               "os.execv(sys.executable, [sys.executable, *sys.argv[1:]])")
    return subprocess.Popen([sys.executable, "-c", restore, *cmd[1:]], cwd=pytester.path,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _wait_for_cases(results: Path, n: int, timeout: float = 600) -> Path:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for run in storage.find_runs(results):
            cases = run / "cases.jsonl"
            if cases.exists() and len(cases.read_text().splitlines()) >= n:
                return run
        time.sleep(0.2)
    raise AssertionError(f"fewer than {n} cases in {results} after {timeout} s")


def _gone(pid: int, timeout: float = 120) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.2)
    return False


def test_sigkill_keeps_every_finished_case(pytester: pytest.Pytester) -> None:
    write_kernels(pytester, "torch", "slow", SLOW)
    proc = _start(pytester, "out")
    run_dir = _wait_for_cases(pytester.path / "out", 2)
    proc.send_signal(signal.SIGKILL)
    proc.wait(300)
    run = storage.read_run(run_dir)
    assert run.status == storage.INTERRUPTED  # run.json still says "running"
    assert run.meta["status"] == storage.RUNNING
    assert 2 <= len(run.cases) < 8
    assert run.problems == []  # every line that was written is whole
    assert all(c["outcome"] == "pass" for c in run.cases)
    # the worker notices its parent is gone and exits: no orphan keeps running
    assert _gone(run.cases[0]["worker_pid"])


def test_ctrl_c_marks_the_run_interrupted(pytester: pytest.Pytester) -> None:
    write_kernels(pytester, "torch", "slow", SLOW)
    proc = _start(pytester, "out")
    run_dir = _wait_for_cases(pytester.path / "out", 2)
    proc.send_signal(signal.SIGINT)
    assert proc.wait(300) == pytest.ExitCode.INTERRUPTED
    run = storage.read_run(run_dir)
    assert run.meta["status"] == storage.INTERRUPTED and run.meta["ended"]
    assert len(run.cases) >= 2


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
    else:
        assert run.meta["options"]["cpu_threads"] is None
        assert meta["cpus"] == usable and meta["threads"] == len(usable)
        [case] = run.cases
        assert case["outcome"] == ("pass" if len(usable) == 1 else "fail:numerical"), case


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


def test_a_run_stopped_by_x_is_incomplete_and_expectations_refuse_it(pytester: pytest.Pytester) -> None:
    """-x stops at the first failure: the run holds real cases but not every collected one, so it is
    ``incomplete``, never ``complete``, and ``expectations update`` takes it only when told."""
    write_kernels(pytester, "torch", "stops", """
        import numpy as np
        from portability.catalog import Kernel, normal
        KERNELS = [Kernel("torch.abs", "elementwise", normal(8), reference=np.abs),
                   Kernel("torch.neg", "elementwise", normal(8), reference=np.abs),  # wrong on purpose: fails
                   Kernel("torch.sin", "elementwise", normal(8), reference=np.sin),
                   Kernel("torch.cos", "elementwise", normal(8), reference=np.cos)]
    """)
    result = pytester.runpytest_subprocess("--backend=cpu", "--results-dir=out", "--dtype=float32", "-x", *FAST,
                                           "kernels")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    run = only_run(pytester.path / "out")
    assert run.meta["collected"] == 4 and len(run.cases) == 2
    assert run.meta["status"] == run.status == storage.INCOMPLETE
    cli = [sys.executable, "-m", "portability.cli", "expectations", "update", str(run.path), "--dir", "exp"]
    refused = subprocess.run(cli, cwd=pytester.path, capture_output=True, text=True, timeout=120)
    assert refused.returncode == 2 and not (pytester.path / "exp").exists()
    assert refused.stderr.strip().splitlines() == [
        f"portability: error: {run.path} is incomplete (2 of 4 collected cases): expectations come from a complete "
        "run (--allow-incomplete takes its cases anyway)"]
    taken = subprocess.run([*cli, "--allow-incomplete"], cwd=pytester.path, capture_output=True, text=True,
                           timeout=120)
    assert taken.returncode == 0, taken.stderr
    assert "torch.neg[float32-cpu]" in (pytester.path / "exp" / "torch-cpu.txt").read_text()


def test_a_run_marked_running_is_running_while_its_process_lives(tmp_path: Path) -> None:
    import socket

    writer = storage.RunWriter(tmp_path, {"machine": {"hostname": socket.gethostname()}})
    assert storage.read_run(writer.dir).status == storage.RUNNING  # this process wrote it and lives
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    writer.update(pid=int(dead.stdout))
    assert storage.read_run(writer.dir).status == storage.INTERRUPTED  # killed: its process is gone
    writer.update(pid=os.getpid(), machine={"hostname": "another-machine"})
    assert storage.read_run(writer.dir).status == storage.INTERRUPTED  # not knowable here: not running


def test_ctrl_c_twice_never_leaves_a_partial_run_complete(pytester: pytest.Pytester) -> None:
    """A second Ctrl-C at once used to end pytest in a way the run recorded as complete (1 of 20 cases).
    Whatever the two signals interrupt, a run is complete only if every collected case finished."""
    write_kernels(pytester, "torch", "slow", SLOW)
    proc = _start(pytester, "out")
    run_dir = _wait_for_cases(pytester.path / "out", 2)
    proc.send_signal(signal.SIGINT)
    proc.send_signal(signal.SIGINT)
    proc.wait(300)
    run = storage.read_run(run_dir)
    assert run.meta["status"] != storage.RUNNING and run.meta["ended"]
    assert (run.status == storage.COMPLETE) == (len(run.cases) == run.meta["collected"] == 8), (
        run.status, len(run.cases))
    assert len(run.cases) >= 2


def test_control_codes_and_broken_utf8_in_a_message_stay_text(pytester: pytest.Pytester) -> None:
    """A framework message with terminal escapes (clear screen, window title) and undecodable bytes is
    stored and printed as visible text: no ESC reaches the terminal, every file stays valid UTF-8."""
    write_kernels(pytester, "torch", "hostile", r'''
        from portability.catalog import Kernel, normal

        def hostile(c, x):
            raise RuntimeError("boom \x1b[2J\x1b]0;pwned\x07 " + b"\xff\xfe".decode("utf-8", "surrogateescape"))

        KERNELS = [Kernel("torch.abs", "elementwise", normal(8), call=hostile)]
    ''')
    result = pytester.runpytest_subprocess("--backend=cpu", "--dtype=float32", "--results-dir=out", *FAST, "kernels")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    assert "\x1b" not in result.stdout.str() and "\\x1b[2J" in result.stdout.str()
    (case,) = only_run(pytester.path / "out").cases
    assert case["message"].startswith("RuntimeError: boom \\x1b[2J\\x1b]0;pwned\\x07 ??")
    assert "\x1b" not in (case["traceback"] or "")
    run_dir = str(only_run(pytester.path / "out").path)
    printed = subprocess.run([sys.executable, "-m", "portability.cli", "cases", run_dir],
                             cwd=pytester.path, capture_output=True, timeout=120)
    assert printed.returncode == 0 and b"\x1b" not in printed.stdout
    printed.stdout.decode("utf-8")  # valid UTF-8


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
