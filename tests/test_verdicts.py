"""The verdict rules of ``portability.verdicts`` as tables: how a case changes between two runs,
when a pass becomes a slowdown, and when two runs' times cannot be compared. The compare rules are
also checked on real run files (``tests/data/v1``, read through the schema migration)."""

from pathlib import Path
from typing import Any

import pytest

from portability import verdicts as v
from portability.results import compare, storage

DATA = Path(__file__).parent / "data" / "v1"

FAST, SLOW4, SLOW2 = [1e-3] * 20, [4e-3] * 20, [2e-3] * 20
NOISY = [1e-3 * (1 + 0.01 * (i % 5)) for i in range(20)]


def rec(outcome: str, samples: list[float] | None = FAST, message: str = "") -> Any:
    return {"key": "torch.abs[float32-cpu]", "framework": "torch", "api": "torch.abs", "dtype": "float32",
            "backend": "cpu", "outcome": outcome, "message": message,
            "timing": {"samples_s": samples} if samples is not None else None}


# (base, new, mismatch) -> change; threshold 1.5, noise 2.0: slower means the interval's low end > 3x
CHANGE_TABLE = [
    (rec("pass"), rec("pass"), None, v.UNCHANGED),
    (rec("pass"), rec("fail:dtype", None), None, v.INTRODUCED),
    (rec("slowdown"), rec("fail:crash", None), None, v.INTRODUCED),
    (rec("fail:dtype", None), rec("pass"), None, v.FIXED),
    (rec("fail:dtype", None), rec("slowdown"), None, v.FIXED),
    (rec("fail:dtype", None), rec("fail:not_implemented", None), None, v.CHANGED),
    (rec("fail:dtype", None), rec("fail:dtype", None), None, v.UNCHANGED),
    (rec("pass"), rec("unavailable", None), None, v.NOT_COMPARABLE),
    (rec("unavailable", None), rec("fail:dtype", None), None, v.NOT_COMPARABLE),
    (None, rec("pass"), None, v.NOT_COMPARABLE),
    (rec("pass"), None, None, v.NOT_COMPARABLE),
    (rec("pass"), rec("pass", SLOW4), None, v.SLOWER),
    (rec("pass", SLOW4), rec("pass"), None, v.FASTER),
    (rec("pass"), rec("pass", SLOW2), None, v.NOT_SIGNIFICANT),  # 2x: beyond the interval, within 3x
    (rec("pass", NOISY), rec("pass", NOISY[::-1]), None, v.UNCHANGED),
    (rec("pass"), rec("pass", SLOW4), "timed under different conditions: size small vs medium", v.NOT_COMPARABLE),
    (rec("pass"), rec("fail:dtype", None), "timed under different conditions: size small vs medium", v.INTRODUCED),
    (rec("pass", None), rec("pass"), None, v.NOT_COMPARABLE),
    # compile-only (tpu-compile): outcomes compare, there are no times
    (rec("compiled", None), rec("compiled", None), None, v.UNCHANGED),
    (rec("compiled", None), rec("fail:not_implemented", None), None, v.INTRODUCED),
    (rec("fail:dtype", None), rec("compiled", None), None, v.FIXED),
]


@pytest.mark.parametrize(("base", "new", "mismatch", "expected"), CHANGE_TABLE)
def test_change_between_two_runs(base: Any, new: Any, mismatch: str | None, expected: str) -> None:
    kind, detail, ratio = v.change(base, new, 1.5, 2.0, mismatch)
    assert kind == expected, detail
    if expected in (v.SLOWER, v.FASTER, v.NOT_SIGNIFICANT):
        assert ratio is not None and "95% CI" in detail
    if expected == v.NOT_COMPARABLE and mismatch:
        assert detail == mismatch


def test_the_noise_allowance_moves_the_bar() -> None:
    assert v.change(rec("pass"), rec("pass", SLOW2), 1.5, 1.0)[0] == v.SLOWER  # 2x > 1.5x without noise
    assert v.change(rec("pass"), rec("pass", SLOW2), 1.5, 2.0)[0] == v.NOT_SIGNIFICANT


def test_compare_on_real_schema_1_runs() -> None:
    """Two runs of a small catalog taken with schema 1 of this suite: BASE and NEW differ by one
    change of each kind; they are matched by the key their migration gave them."""
    a, b = storage.read_run(DATA / "run-a"), storage.read_run(DATA / "run-b")
    found = {c.key: c.change for c in compare.compare_runs(a.cases, b.cases,
                                                           timing_mismatch=v.timing_mismatch(a.meta, b.meta))}
    assert found == {
        "torch.abs[float32-cpu]": v.NOT_SIGNIFICANT,  # 1.01x, its interval excludes 1, far within 3x
        "torch.exp[vec-float32-cpu]": v.UNCHANGED,
        "torch.exp[mat-float32-cpu]": v.UNCHANGED,
        "torch.neg[float32-cpu]": v.INTRODUCED,
        "torch.sin[float32-cpu]": v.FIXED,
        "torch.cos[float32-cpu]": v.CHANGED,
        "torch.tanh[float32-cpu]": v.SLOWER,  # 20 ms of sleep per call in NEW
        "torch.sqrt[float32-cpu]": v.NOT_COMPARABLE,  # only in BASE
        "torch.square[float32-cpu]": v.NOT_COMPARABLE,  # only in NEW
    }
    regressions = compare.regressions(compare.compare_runs(a.cases, b.cases))
    assert sorted(c.key for c in regressions) == ["torch.neg[float32-cpu]", "torch.tanh[float32-cpu]"]


@pytest.mark.parametrize(("base", "new", "expected"), [
    ({"options": {"size": "small", "cpu_threads": 1}}, {"options": {"size": "small", "cpu_threads": 1}}, None),
    ({"options": {"size": "small", "cpu_threads": 1}}, {"options": {"size": "medium", "cpu_threads": 1}},
     "timed under different conditions: size small vs medium"),
    ({"options": {"size": "small"}}, {"options": {"size": "small", "cpu_threads": 1}},
     "timed under different conditions: cpu threads all vs 1"),  # runs from before --cpu-threads
    ({}, {"options": {"size": "medium", "cpu_threads": None}}, None),
])
def test_timing_mismatch(base: Any, new: Any, expected: str | None) -> None:
    assert v.timing_mismatch(base, new) == expected


HOST_SLOW = {"timing": {"samples_s": SLOW4}, "reference_timing": {"samples_s": FAST}}
HOST_SAME = {"timing": {"samples_s": FAST}, "reference_timing": {"samples_s": FAST}}
ALONE = {"timing": {"samples_s": SLOW4}}


@pytest.mark.parametrize(("verdict", "facts", "baseline", "noise", "outcome", "reference"), [
    (v.Verdict("pass", ""), HOST_SLOW, None, 2.0, "slowdown", "host cpu"),  # no noise allowance in one worker
    (v.Verdict("pass", ""), HOST_SAME, None, 2.0, "pass", "host cpu"),
    (v.Verdict("pass", ""), ALONE, None, 2.0, "pass", None),  # no reference: no slowdown verdict
    (v.Verdict("pass", ""), ALONE, rec("pass"), 2.0, "slowdown", "baseline"),  # 4x > 1.5 x 2
    (v.Verdict("pass", ""), {"timing": {"samples_s": SLOW2}}, rec("pass"), 2.0, "pass", "baseline"),
    (v.Verdict("pass", ""), {"timing": {"samples_s": SLOW2}}, rec("pass"), 1.0, "slowdown", "baseline"),
    (v.Verdict("fail:dtype", "x"), HOST_SLOW, None, 2.0, "fail:dtype", "host cpu"),  # a failure stays one
    # a compiled case is timed against its eager call in the same worker, rounds interleaved
    (v.Verdict("pass", ""), {**HOST_SLOW, "mode": "compiled"}, None, 2.0, "slowdown", "eager call"),
    (v.Verdict("pass", ""), {**HOST_SAME, "mode": "compiled"}, None, 2.0, "pass", "eager call"),
    (v.Verdict("pass", ""), {**ALONE, "mode": "compiled"}, rec("pass"), 2.0, "slowdown", "baseline"),
])
def test_judge_slowdown(verdict: v.Verdict, facts: Any, baseline: Any, noise: float, outcome: str,
                        reference: str | None) -> None:
    got, ratio = v.judge_slowdown(verdict, facts, baseline, 1.5, noise)
    assert got.outcome == outcome
    assert (ratio or {}).get("reference") == reference
    if outcome == "slowdown":
        assert f"x slower than the {reference} (95% CI" in got.message


def test_a_compiled_case_that_ran_passes_and_a_compile_only_case_compiles() -> None:
    ran = {"backend": "cpu", "mode": "compiled", "compile": {"first_call_s": 0.9}, "devices_used": ["cpu"]}
    assert v.case_outcome(ran).outcome == "pass"
    only = {"backend": "tpu-compile", "compile": {"device_kind": "TPU v5 lite", "compile_s": 0.1}}
    assert v.case_outcome(only).outcome == "compiled"


def test_compare_takes_the_timing_options_pytest_takes(capsys: pytest.CaptureFixture[str]) -> None:
    from portability.cli import main

    a, b = str(DATA / "run-a"), str(DATA / "run-b")
    # at 2x and no noise allowance the slow tanh is still slower; at a 1e6x bar nothing is
    assert main(["compare", a, b, "--slowdown-threshold=2", "--baseline-noise=1", "--format=json"]) == 0
    assert '"change": "slower"' in capsys.readouterr().out
    assert main(["compare", a, b, "--threshold=1000", "--noise=1000", "--format=json"]) == 0  # older spellings
    assert '"change": "slower"' not in capsys.readouterr().out
    assert main(["compare", a, b, "--slowdown-threshold=1"]) == 2
    assert capsys.readouterr().err == "portability: error: --slowdown-threshold must be greater than 1, got '1'\n"
    assert main(["compare", a, b, "--baseline-noise=0.5"]) == 2
    assert capsys.readouterr().err == "portability: error: --baseline-noise must be at least 1, got '0.5'\n"
