"""Fault injection: each fault a careless or hostile user (or an unlucky machine) brings to a run, on a
small scratch catalog, and what the run files say afterwards: the cases kept, the status, the exit
code and the message. README "When things go wrong" lists them."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from scratch import FAST, SLOW, gone, only_run, start, wait_for_cases, write_kernels

from portability.results import storage

pytest_plugins = ["pytester"]

# -- a case that kills, hangs, eats memory or leaves processes behind costs one case -------------------

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


GREEDY = """
    import numpy as np
    from portability.catalog import Kernel, normal

    def greedy(c, x):
        held = []
        for _ in range(40):  # 8 GB if nothing stopped it, in 200 MB steps each touched
            held.append(np.ones(25_000_000))
        return c.fn(x)

    KERNELS = [Kernel("torch.abs", "elementwise", normal(8), call=greedy, reference=np.abs),
               Kernel("torch.exp", "elementwise", normal(8), reference=np.exp)]
"""


def test_a_worker_over_its_memory_limit_is_fail_oom_and_replaced(pytester: pytest.Pytester) -> None:
    """A kernel allocating without end drove the machine into the kernel's OOM killer, which took the
    worker (recorded fail:crash). Now the worker is stopped at --worker-memory: fail:oom, and the next
    case runs in a new worker."""
    write_kernels(pytester, "torch", "greedy", GREEDY)
    result = pytester.runpytest_subprocess("--backend=cpu", "--dtype=float32", "--worker-memory=1G",
                                           "--results-dir=out", *FAST, "kernels")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*torch.abs [[]float32, cpu[]]: fail:oom: worker held * GiB, over the "
                                 "--worker-memory limit of 1.00 GiB: stopped*"])
    run = only_run(pytester.path / "out")
    assert {c["api"]: c["outcome"] for c in run.cases} == {"torch.abs": "fail:oom", "torch.exp": "pass"}
    assert run.meta["options"]["worker_memory_bytes"] == 2**30
    assert run.meta["workers_started"] == 2


def test_the_default_memory_limit_is_half_the_machine(pytester: pytest.Pytester) -> None:
    from portability.runner import procs

    write_kernels(pytester, "torch", "one", """
        import numpy as np
        from portability.catalog import Kernel, normal
        KERNELS = [Kernel("torch.exp", "elementwise", normal(8), reference=np.exp)]
    """)
    result = pytester.runpytest_subprocess("--backend=cpu", "--dtype=float32", "--results-dir=out", *FAST, "kernels")
    result.assert_outcomes(passed=1)
    total = procs.machine_memory()
    assert total is not None and only_run(pytester.path / "out").meta["options"]["worker_memory_bytes"] == total // 2


LEAVES_PROCESSES = """
    import subprocess, sys, time
    import numpy as np
    from portability.catalog import Kernel, normal

    def _spawn(tag):
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
        with open(f"child-{tag}.pid", "a") as f:
            f.write(f"{child.pid}\\n")

    def leaves_one(c, x):
        _spawn("returns")
        return c.fn(x)

    def leaves_one_and_hangs(c, x):
        _spawn("hangs")
        time.sleep(600)

    KERNELS = [Kernel("torch.abs", "elementwise", normal(8), call=leaves_one, reference=np.abs),
               Kernel("torch.neg", "elementwise", normal(8), call=leaves_one_and_hangs, reference=np.negative)]
"""


def test_processes_a_kernel_starts_end_with_its_worker(pytester: pytest.Pytester) -> None:
    """27 processes outlived a run that started them. Each worker leads a process group, killed with it."""
    write_kernels(pytester, "torch", "leaves", LEAVES_PROCESSES)
    result = pytester.runpytest_subprocess("--backend=cpu", "--dtype=float32", "--case-timeout=10",
                                           "--results-dir=out", *FAST, "kernels")
    result.assert_outcomes(passed=1, failed=1)
    for tag in ("hangs", "returns"):  # the first when its worker timed out, the second at the run's end
        pids = [int(p) for p in (pytester.path / f"child-{tag}.pid").read_text().split()]
        assert pids and all(gone(pid, 30) for pid in pids), tag


LOUD = """
    import os, sys
    import numpy as np
    from portability.catalog import Kernel, normal

    said = []

    def loud(c, x):
        if not said:  # once: 40 MB through Python and through the file descriptor, as native code writes
            said.append(True)
            for _ in range(20):
                sys.stdout.write("y" * 1_000_000 + "\\n")
                os.write(2, b"z" * 1_000_000 + b"\\n")
            print("the last line", flush=True)
        return c.fn(x)

    KERNELS = [Kernel("torch.abs", "elementwise", normal(8), call=loud, reference=np.abs)]
"""


def test_a_worker_log_keeps_its_head_and_tail(pytester: pytest.Pytester) -> None:
    """A kernel printing 100 MB per call left a 734 MB log; a log now keeps its first 16 MiB and last MiB."""
    from portability.runner import procs

    write_kernels(pytester, "torch", "loud", LOUD)
    result = pytester.runpytest_subprocess("--backend=cpu", "--dtype=float32", "--results-dir=out", *FAST, "kernels")
    result.assert_outcomes(passed=1)
    (log,) = only_run(pytester.path / "out").path.glob("worker-torch-*.log")
    assert log.stat().st_size <= procs.LOG_HEAD_BYTES + procs.LOG_TAIL_BYTES + 200
    text = log.read_bytes()
    assert b"bytes of output left out here" in text
    assert text.rstrip().endswith(b"the last line")


# -- stopping a run: the finished cases stay, the run says how it ended ----------------------------------

def test_sigkill_keeps_every_finished_case(pytester: pytest.Pytester) -> None:
    write_kernels(pytester, "torch", "slow", SLOW)
    proc = start(pytester, "--results-dir=out")
    run_dir = wait_for_cases(pytester.path / "out", 2)
    proc.send_signal(signal.SIGKILL)
    proc.wait(300)
    run = storage.read_run(run_dir)
    assert run.status == storage.INTERRUPTED  # run.json still says "running"
    assert run.meta["status"] == storage.RUNNING
    assert 2 <= len(run.cases) < 8
    assert run.problems == []  # every line that was written is whole
    assert all(c["outcome"] == "pass" for c in run.cases)
    # the worker notices its parent is gone and exits: no orphan keeps running
    assert gone(run.cases[0]["worker_pid"])


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_ctrl_c_or_sigterm_marks_the_run_interrupted(pytester: pytest.Pytester, sig: signal.Signals) -> None:
    """Ctrl-C, and SIGTERM (kill, a CI job's time limit) alike: exit code 2, the run interrupted, its
    finished cases kept. SIGTERM used to end Python at once, leaving run.json ``running``."""
    write_kernels(pytester, "torch", "slow", SLOW)
    proc = start(pytester, "--results-dir=out")
    run_dir = wait_for_cases(pytester.path / "out", 2)
    proc.send_signal(sig)
    assert proc.wait(300) == pytest.ExitCode.INTERRUPTED
    run = storage.read_run(run_dir)
    assert run.meta["status"] == storage.INTERRUPTED and run.meta["ended"]
    assert len(run.cases) >= 2


def test_ctrl_c_twice_never_leaves_a_partial_run_complete(pytester: pytest.Pytester) -> None:
    """A second Ctrl-C at once used to end pytest in a way the run recorded as complete (1 of 20 cases).
    Whatever the two signals interrupt, a run is complete only if every collected case finished."""
    write_kernels(pytester, "torch", "slow", SLOW)
    proc = start(pytester, "--results-dir=out")
    run_dir = wait_for_cases(pytester.path / "out", 2)
    proc.send_signal(signal.SIGINT)
    proc.send_signal(signal.SIGINT)
    proc.wait(300)
    run = storage.read_run(run_dir)
    assert run.meta["status"] != storage.RUNNING and run.meta["ended"]
    assert (run.status == storage.COMPLETE) == (len(run.cases) == run.meta["collected"] == 8), (
        run.status, len(run.cases))
    assert len(run.cases) >= 2


def test_ctrl_c_under_xdist_keeps_the_finished_cases(pytester: pytest.Pytester) -> None:
    """Ctrl-C on ``pytest -n 2`` deleted the whole run directory (3 tries of 3): the workers had not
    reported back, and the controller decided nothing ran. The terminal signals the whole foreground
    process group; so does this test."""
    write_kernels(pytester, "torch", "slow", SLOW)
    proc = start(pytester, "--results-dir=out", "-n", "2")
    run_dir = wait_for_cases(pytester.path / "out", 3)
    os.killpg(proc.pid, signal.SIGINT)
    assert proc.wait(300) == pytest.ExitCode.INTERRUPTED
    run = storage.read_run(run_dir)
    assert run.meta["status"] == storage.INTERRUPTED and run.meta["ended"]
    assert len(run.cases) >= 3 and run.problems == []
    assert "torch" in run.meta["frameworks"]  # what the workers saw, although they never reported back


def test_a_background_job_ignoring_sigint_says_so_and_stops_on_sigterm(pytester: pytest.Pytester) -> None:
    """``pytest ... &`` in a script starts with SIGINT ignored (POSIX shells do that to background jobs):
    the run respects it, as every well-behaved program does, says so in its header, and stops on
    SIGTERM with its cases kept."""
    write_kernels(pytester, "torch", "slow", SLOW)
    log = pytester.path / "pytest.log"
    proc = start(pytester, "--results-dir=out", sigint="ignored", output=log)
    run_dir = wait_for_cases(pytester.path / "out", 2)
    proc.send_signal(signal.SIGINT)
    wait_for_cases(pytester.path / "out", 4)  # SIGINT changed nothing: it goes on
    assert proc.poll() is None
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(300) == pytest.ExitCode.INTERRUPTED
    assert storage.read_run(run_dir).meta["status"] == storage.INTERRUPTED
    header = [ln for ln in log.read_text().splitlines() if "SIGINT is ignored" in ln]
    assert header == [f"portability: SIGINT is ignored in this process (started as a background job of a script, "
                      f"as POSIX shells start them): Ctrl-C does not stop it; kill -TERM {proc.pid} does, and "
                      "keeps every finished case"]


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


# -- a disk that fills, a folder that cannot be written ---------------------------------------------------

MANY = """
    import numpy as np
    from portability.catalog import Kernel, normal
    NAMES = ("abs", "exp", "sin", "cos", "tan", "tanh", "sqrt", "square", "negative", "floor", "ceil", "sign")
    KERNELS = [Kernel(f"torch.{name}", "elementwise", normal(8), reference=getattr(np, name)) for name in NAMES]
"""


def _with_file_size_limit(limit: int) -> str:
    """A Python prefix that caps the size of every file the run writes, then execs pytest: a write past
    the cap fails as on a full disk (EFBIG instead of ENOSPC; Python ignores SIGXFSZ), in this run only."""
    return (f"import os, resource, sys; resource.setrlimit(resource.RLIMIT_FSIZE, ({limit}, {limit})); "
            "os.execv(sys.executable, [sys.executable, *sys.argv[1:]])")


def _run_capped(pytester: pytest.Pytester, limit: int, *args: str) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-c", _with_file_size_limit(limit), "-m", "pytest", "--backend=cpu", "--dtype=float32",
           "-p", "no:cacheprovider", *FAST, *args, "kernels"]
    return subprocess.run(cmd, cwd=pytester.path, capture_output=True, text=True, timeout=600)


def test_a_full_disk_stops_the_run_at_the_first_failed_write(pytester: pytest.Pytester) -> None:
    """13 cases ran after the disk filled and were in no file; the run ended in a traceback with exit
    code 1, run.json said running, .tmp files stayed. Now: one line, exit code 2, every whole record
    kept, the run marked, nothing half-written left."""
    write_kernels(pytester, "torch", "many", MANY)
    done = _run_capped(pytester, 8000, "--results-dir=out")
    assert done.returncode == pytest.ExitCode.INTERRUPTED, done.stdout + done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    run = only_run(pytester.path / "out")
    cases_file = run.path.relative_to(pytester.path) / "cases.jsonl"  # as --results-dir=out names it
    said = [ln for ln in done.stdout.splitlines() if "cannot write" in ln]
    assert said == [f"run stopped: cannot write {cases_file}: File too large; its {len(run.cases)} finished cases are "
                    f"in {cases_file.parent} (no report written)",
                    f"! _pytest.outcomes.Exit: cannot write {cases_file}: File too large !"], done.stdout
    assert 1 <= len(run.cases) < 12 and run.problems == []  # whole records only
    assert run.meta["status"] == run.status == storage.INTERRUPTED
    assert run.meta["stopped"] == f"cannot write {cases_file}: File too large"
    assert run.meta["cases"] == len(run.cases)
    assert not list(run.path.glob(".*tmp"))


def test_a_results_folder_that_cannot_be_written_is_one_line(pytester: pytest.Pytester) -> None:
    """A results folder that is a file, or where nothing can be written, was an INTERNALERROR traceback."""
    write_kernels(pytester, "torch", "many", MANY)
    (pytester.path / "afile").write_text("not a folder")
    result = pytester.runpytest_subprocess("--backend=cpu", "--results-dir=afile", *FAST, "kernels")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert [ln for ln in result.stderr.lines if ln.startswith("ERROR:")] == [
        "ERROR: --results-dir 'afile': cannot write afile/runs: Not a directory"]
    assert "INTERNALERROR" not in result.stdout.str() + result.stderr.str()

    full = _run_capped(pytester, 100, "--results-dir=out")  # not even run.json fits
    assert full.returncode == pytest.ExitCode.USAGE_ERROR
    errors = [ln for ln in full.stderr.splitlines() if ln.startswith("ERROR:")]
    assert len(errors) == 1 and errors[0].startswith("ERROR: --results-dir 'out': cannot write out/runs/")
    assert errors[0].endswith("/run.json: File too large")
    assert list((pytester.path / "out" / "runs").iterdir()) == []  # no empty run left behind


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into a read-only folder: no fault to inject")
def test_a_read_only_results_folder_is_one_line(pytester: pytest.Pytester) -> None:
    write_kernels(pytester, "torch", "many", MANY)
    (pytester.path / "ro" / "runs").mkdir(parents=True)
    (pytester.path / "ro" / "runs").chmod(0o555)
    result = pytester.runpytest_subprocess("--backend=cpu", "--results-dir=ro", *FAST, "kernels")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    errors = [ln for ln in result.stderr.lines if ln.startswith("ERROR:")]
    assert len(errors) == 1 and errors[0].startswith("ERROR: --results-dir 'ro': cannot write ro/runs/")
    assert errors[0].endswith(": Permission denied")


# -- hostile text ---------------------------------------------------------------------------------------

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
    json.loads((Path(run_dir) / "run.json").read_text(encoding="utf-8"))


# -- broken run files beside a new run ------------------------------------------------------------------

def test_broken_runs_in_the_results_folder_do_not_stop_the_report_of_a_new_run(pytester: pytest.Pytester) -> None:
    """A run of a newer schema, or one with damaged lines, in the results folder stopped the report of
    every run; now the page is written, the newer run left out and the damaged lines noted, one line each."""
    import shutil

    v2 = Path(__file__).parent / "data" / "v2" / "run"
    runs = pytester.path / "out" / "runs"
    shutil.copytree(v2, runs / "newer")
    meta = json.loads((v2 / "run.json").read_text())
    (runs / "newer" / "run.json").write_text(json.dumps({**meta, "schema": 99}))
    shutil.copytree(v2, runs / "damaged")
    with (runs / "damaged" / "cases.jsonl").open("a") as f:
        f.write("{not json\n")
    write_kernels(pytester, "torch", "one", """
        import numpy as np
        from portability.catalog import Kernel, normal
        KERNELS = [Kernel("torch.exp", "elementwise", normal(8), reference=np.exp)]
    """)
    result = pytester.runpytest_subprocess("--backend=cpu", "--dtype=float32", "--results-dir=out", *FAST, "kernels")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines([
        "report of 2 runs written to out/index.html",
        f"report: left out out/runs/newer/run.json: schema version 99 is newer than this version reads "
        f"({storage.SCHEMA_VERSION}): upgrade",
        "report: note: out/runs/damaged/cases.jsonl:4: truncated last line; skipped",
    ])
    assert (pytester.path / "out" / "index.html").stat().st_size > 0
