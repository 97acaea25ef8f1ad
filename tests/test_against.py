"""``--against PYTHON``: each case here (A) and in another environment (B), rounds interleaved, and the
change B made. CI has one environment, so B is this interpreter behind a wrapper script that sets
an environment variable the scratch kernels read: B's kernels then do more work, or fail, where A's
do not, the way another release would."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest
from scratch import only_run, write_kernels

from portability import stats
from portability.harness import against
from portability.records import ChangeRecord, check
from portability.results import compare
from portability.runner import remote

pytest_plugins = ["pytester"]

HERE = {"torch": "2.13.0+cpu", "jax": "0.10.2", "jaxlib": "0.10.2"}


def _probe(**changes: object) -> dict[str, object]:
    return {"python": "3.11.7", "protocol": remote.PROTOCOL, "frameworks": ["torch", "jax"],
            "versions": dict(HERE), **changes}


@pytest.mark.parametrize(("there", "allow_same", "problem"), [
    (_probe(versions={**HERE, "torch": "2.14.1"}), False, None),
    (_probe(), True, None),  # an A/A run, asked for
    (_probe(), False, "has the same framework versions as this environment (torch 2.13.0+cpu, jax 0.10.2, "
                      "jaxlib 0.10.2): nothing to compare; --against-same-versions runs it anyway"),
    (_probe(error="ModuleNotFoundError: No module named 'portability'"), False,
     "this project is not installed there (ModuleNotFoundError: No module named 'portability')"),
    (_probe(protocol=0), False, "has another version of this suite (worker protocol 0, here 1)"),
    (_probe(frameworks=["torch"], versions={**HERE, "torch": "2.14.1"}), False,
     "cannot import jax (it has torch): choose the frameworks both have with --framework"),
])
def test_what_the_other_environment_must_have(there: dict[str, object], allow_same: bool, problem: str | None) -> None:
    got = remote.against_problem("/venv/bin/python", there, HERE, ["torch", "jax"], allow_same)
    assert (got is None) if problem is None else (got is not None and problem in got and "\n" not in got), got


def test_one_framework_differing_is_enough() -> None:
    there = _probe(versions={**HERE, "jax": "0.10.3"})
    assert remote.against_problem("/p", there, HERE, ["torch", "jax"], False) is None
    assert remote.against_problem("/p", there, HERE, ["torch"], False) is not None  # only torch runs: the same


def test_probe_names_what_is_wrong_with_the_interpreter(tmp_path: Path) -> None:
    with pytest.raises(remote.ProbeError, match=r"^--against '/nonexistent/python': no such file$"):
        remote.probe("/nonexistent/python")
    text = tmp_path / "python"
    text.write_text("not a program")
    with pytest.raises(remote.ProbeError, match="not executable"):
        remote.probe(str(text))
    with pytest.raises(remote.ProbeError, match="did not run as a Python interpreter: exit 1"):
        remote.probe("/bin/false")
    system = Path("/usr/bin/python3")  # the interpreter this project's virtual environments are made from
    if system.exists() and system.resolve() != Path(sys.executable).resolve():
        there = remote.probe(str(system))
        problem = remote.against_problem(str(system), there, remote.here_versions(), ["torch"], False)
        assert problem is not None and "this project is not installed there (ModuleNotFoundError" in problem
    found = remote.probe(sys.executable)
    assert found["protocol"] == remote.PROTOCOL and found["executable"] == sys.executable
    assert found["versions"] == {d: v for d, v in remote.here_versions().items()}


def _wrapper(tmp_path: Path, **env: str) -> str:
    """This interpreter behind a script that sets ``env``: "another environment" for the kernels."""
    script = tmp_path / "other-python"
    exports = " ".join(f"{k}={v}" for k, v in env.items())
    script.write_text(f'#!/bin/sh\nexport {exports}\nexec "{sys.executable}" "$@"\n')
    script.chmod(0o755)
    return str(script)


KERNELS = """
    import os
    import numpy as np
    from portability.catalog import Kernel, normal

    SIDE_B = os.environ.get("PORTABILITY_TEST_SIDE") == "B"

    def heavier(c, x):  # B repeats the work five times: a release five times slower
        out = None
        for _ in range(10 if SIDE_B else 2):
            out = c.fn(x)
        return out

    def broken(c, x):  # B lost the API: a failure introduced
        if SIDE_B:
            raise NotImplementedError("'abs' not implemented for 'Float' in release B")
        return c.fn(x)

    KERNELS = [Kernel("torch.exp", "elementwise", normal(4096), reference=np.exp),
               Kernel("torch.tanh", "elementwise", normal(4096), call=heavier, reference=np.tanh),
               Kernel("torch.abs", "elementwise", normal(64), call=broken, reference=np.abs)]
"""


@pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="needs torch")
def test_an_against_run_times_both_sides_interleaved_and_says_what_b_changed(pytester: pytest.Pytester,
                                                                             tmp_path: Path) -> None:
    write_kernels(pytester, "torch", "against", KERNELS)
    other = _wrapper(tmp_path, PORTABILITY_TEST_SIDE="B")
    result = pytester.runpytest_subprocess("--backend=cpu", "--dtype=float32", "--timing-budget=0.05",
                                           f"--against={other}", "--against-same-versions", "--fail-on=regression",
                                           "--results-dir=out", "kernels")
    run = only_run(pytester.path / "out")
    got = {c["key"]: c for c in run.cases}
    changes = {k: c["change"]["change"] for k, c in got.items()}
    # the same work on both sides: never slower or faster (both sides are this interpreter), though the
    # interval of a ratio near 1 may leave out 1 itself on a busy machine (not significant)
    assert changes.pop("torch.exp[float32-cpu]") in ("unchanged", "not significant"), got["torch.exp[float32-cpu]"]
    assert changes == {"torch.tanh[float32-cpu]": "slower", "torch.abs[float32-cpu]": "failure introduced"}, changes
    exp, tanh, abs_ = got["torch.exp[float32-cpu]"], got["torch.tanh[float32-cpu]"], got["torch.abs[float32-cpu]"]
    for case in (exp, tanh):
        a, b = case["timing"], case["against"]["timing"]
        assert a["interleaved"] and b["interleaved"] and a["rounds"] == b["rounds"] >= 5
        assert a["calls_per_round"] == b["calls_per_round"]  # both average the same number of calls
        assert case["reference_timing"] is None and case["ratio"] is None  # no host reference: B/A says it
    assert tanh["change"]["ci_low"] > tanh["change"]["threshold"] == 1.1
    assert tanh["change"]["confirmation"]["change"] == "slower"  # measured twice, side by side both times
    assert abs_["outcome"] == "pass" and abs_["against"]["outcome"] == "fail:not_implemented"
    assert "release B" in abs_["against"]["message"] and abs_["change"]["detail"].startswith("NotImplementedError")
    assert all(check.case_record_problem(c) is None for c in run.cases)
    meta = run.meta["against"]
    assert meta["python"] == other and meta["frameworks"]["torch"]["visible"] == {"cpu": "cpu"}
    assert meta["versions"] == remote.here_versions()
    # the items fail on regressions only, and the end of the run lists them
    outcomes = result.parseoutcomes()
    assert (outcomes.get("failed"), outcomes.get("passed")) == (2, 1) and result.ret == 1
    text = result.stdout.str()
    assert "B torch " in text and "3 cases" in text and "failure introduced 1, failure fixed 0, failure changed 0, " \
        "slower 1, faster 0" in text
    listed = [ln.split() for ln in text.splitlines() if "[float32-cpu]" in ln and " -> " in ln]
    assert [ln[:5] for ln in listed] == [["failure", "introduced", "torch.abs[float32-cpu]", "pass", "->"],
                                         ["slower", "torch.tanh[float32-cpu]", "pass", "->", "pass"]]
    assert {c.change for c in compare.from_against(run.cases)} - {"unchanged", "not significant"} == {
        "slower", "failure introduced"}
    assert got["torch.exp[float32-cpu]"]["repro"].endswith(f"--against={other}")
    logs = sorted(p.name for p in run.path.glob("worker-*.log"))
    # the slower case was measured again in fresh workers on both sides (a second worker each, at least)
    assert {"worker-against-torch-1.log", "worker-against-torch-2.log", "worker-torch-1.log",
            "worker-torch-2.log"} <= set(logs), logs


def test_a_bad_interpreter_stops_the_run_before_anything_runs(pytester: pytest.Pytester, tmp_path: Path) -> None:
    write_kernels(pytester, "torch", "one", """
        import numpy as np
        from portability.catalog import Kernel, normal
        KERNELS = [Kernel("torch.exp", "elementwise", normal(8), reference=np.exp)]
    """)
    for args, line in (
        (["--against=/nonexistent/python"], "ERROR: --against '/nonexistent/python': no such file"),
        (["--fail-on=regression"], "ERROR: --fail-on regression needs --against PYTHON (a regression is B against A)"),
        (["--fail-on=slower"], "ERROR: --fail-on 'slower'; valid: failure, regression"),
    ):
        result = pytester.runpytest_subprocess("--results-dir=out", *args, "kernels")
        assert [ln for ln in result.stderr.lines if ln.startswith("ERROR:")] == [line]
        assert result.ret == 4
    same = pytester.runpytest_subprocess("--results-dir=out", f"--against={sys.executable}", "kernels")
    (error,) = [ln for ln in same.stderr.lines if ln.startswith("ERROR:")]
    assert "has the same framework versions as this environment" in error
    assert not (pytester.path / "out" / "runs").exists() or not any((pytester.path / "out" / "runs").iterdir())


def _change(kind: str, ratio: float) -> ChangeRecord:
    return {"change": kind, "detail": f"{ratio:.2f}x", "ratio": ratio, "ci_low": ratio * 0.95,
            "ci_high": ratio * 1.05, "threshold": 1.1}


@pytest.mark.parametrize(("first", "again", "kept"), [
    (_change("slower", 1.6), _change("slower", 1.4), "slower"),
    (_change("slower", 1.6), _change("unchanged", 1.0), "not significant"),
    (_change("faster", 0.5), _change("not significant", 0.95), "not significant"),
    (_change("faster", 0.5), _change("slower", 1.5), "not significant"),
])
def test_a_change_of_time_must_show_twice(first: ChangeRecord, again: ChangeRecord, kept: str) -> None:
    got = against.confirmed(first, again)
    assert got["change"] == kept and got["confirmation"] == again and got["ratio"] == first["ratio"]
    if kept != first["change"]:
        assert got["detail"] == f"{first['change']} at first ({first['detail']}), {again['change']} when measured again"


def test_rounds_taken_in_turn_are_compared_pair_by_pair() -> None:
    # the machine slows down over the rounds and both sides with it: B is 1.5x A in every pair
    drift = [1.0, 1.2, 2.0, 3.5, 1.1, 4.0, 2.2, 1.3, 3.0, 1.0, 2.5]
    a = [x * 1e-5 for x in drift]
    b = [x * 1.5e-5 for x in drift]
    paired = stats.paired_ratio_ci(b, a)
    assert paired.ratio == pytest.approx(1.5) and paired.low == pytest.approx(1.5) and paired.high == pytest.approx(1.5)
    apart = stats.ratio_ci(b, a)  # the two medians, each over the drift: the interval holds 1
    assert apart.low < 1 < apart.high
    with pytest.raises(ValueError, match="the same number of samples"):
        stats.paired_ratio_ci(b, a[:-1])


@pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="needs torch")
def test_compiled_cases_compare_outcomes_but_not_times_across_sides(pytester: pytest.Pytester,
                                                                    tmp_path: Path) -> None:
    # a compiled case is timed on each side against its own eager call, not in turn with the other side
    write_kernels(pytester, "torch", "one", """
        import numpy as np
        from portability.catalog import Kernel, normal
        KERNELS = [Kernel("torch.exp", "elementwise", normal(64), reference=np.exp)]
    """)
    pytester.runpytest_subprocess("--backend=cpu", "--mode=compiled", "--dtype=float32", "--timing-budget=0.02",
                                  f"--against={_wrapper(tmp_path, PORTABILITY_TEST_SIDE='B')}",
                                  "--against-same-versions", "--results-dir=out", "kernels")
    (case,) = only_run(pytester.path / "out").cases
    assert case["outcome"] in ("pass", "slowdown") and case["against"]["outcome"] in ("pass", "slowdown")
    assert case["change"]["change"] == "not comparable" and case["change"]["ratio"] is None
    assert case["change"]["detail"].startswith("not timed side by side")
