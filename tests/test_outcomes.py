import pytest

from portability import outcomes
from portability.summary import function_verdicts, render


@pytest.mark.parametrize(("cases", "verdict"), [
    (["pass", "pass"], "pass"),
    (["pass", "slowdown"], "slowdown"),
    (["pass", "fail:dtype"], "partial_failure"),
    (["slowdown", "fail:dtype"], "partial_failure"),
    (["fail:dtype", "fail:not_implemented"], "complete_failure"),
    (["unavailable", "fail:dtype"], "complete_failure"),
    (["unavailable", "pass"], "pass"),
    (["unavailable", "unavailable"], "unavailable"),
    ([], "unavailable"),
])
def test_function_verdict(cases, verdict):
    assert outcomes.function_verdict(cases) == verdict


def test_top_categories_most_frequent_first():
    got = outcomes.top_categories(["fail:dtype", "pass", "fail:oom", "fail:dtype", "fail:not_implemented"], 2)
    assert got == [("dtype", 2), ("not_implemented", 1)]


def test_fail_rejects_unknown_category():
    with pytest.raises(ValueError, match="unknown failure category 'nope'; valid: not_implemented"):
        outcomes.fail("nope")


def rec(api, outcome, backend="cpu", fw="torch", ratio=None):
    return {"framework": fw, "backend": backend, "api": api, "outcome": outcome, "ratio": ratio, "id": api}


def test_summary_counts_functions_and_prints_denominators():
    records = [rec("a", "pass"), rec("a", "fail:dtype"), rec("b", "pass"), rec("c", "fail:dtype"),
               rec("d", "unavailable"), rec("a", "pass", "gpu", ratio={"reference": "host cpu"})]
    rows = {(r.framework, r.backend): r for r in function_verdicts(records)}
    cpu = rows[("torch", "cpu")]
    assert cpu.functions == 4 and cpu.assessed == 3
    assert [cpu.count(v) for v in ("pass", "partial_failure", "complete_failure", "unavailable")] == [1, 1, 1, 1]
    text = "\n".join(render(records))
    assert "1 (33%)" in text  # percentages of the 3 assessed functions
    assert "dtype 2" in text
    assert "slowdown n/a: no timing reference for torch/cpu" in text
    assert "torch/gpu" not in text.split("slowdown n/a")[1]  # the gpu row had a reference
