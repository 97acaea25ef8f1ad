import pytest

from portability import outcomes
from portability.results.summary import function_verdicts, render


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
    return {"framework": fw, "backend": backend, "api": api, "outcome": outcome, "ratio": ratio, "id": api, "key": api}


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


def test_unavailable_error_names_what_each_framework_sees():
    from portability.harness.session import unavailable_error

    infos = {
        "torch": {"visible": {"cpu": "cpu", "gpu": "cuda:0 H100"}, "reasons": {"tpu": "torch_xla is not installed"}},
        "jax": {"visible": {"cpu": "cpu:0"}, "reasons": {"gpu": "Unknown backend: 'gpu'", "tpu": "no libtpu"}},
    }
    assert unavailable_error(("cpu", "gpu"), infos) is None  # gpu is visible to torch: jax's gpu cases are skipped
    msg = unavailable_error(("cpu", "tpu"), infos)
    assert msg == ("backend 'tpu' is not available on this machine: torch sees cpu, gpu; jax sees cpu "
                   "(torch: torch_xla is not installed; jax: no libtpu)")


def test_a_backend_one_framework_cannot_see_is_unavailable_not_a_failure(tmp_path):
    """On a machine where torch sees a GPU but TensorFlow does not, TF's gpu cases are `unavailable`."""
    from portability.catalog import Kernel
    from portability.catalog.cases import Case
    from portability.harness.execute import CaseContext, run_case
    from portability.options import settings

    opts = {"backend": "cpu,gpu", "framework": None, "dtype": None, "baseline": None, "slowdown_threshold": 1.5,
            "baseline_noise": 2.0,
            "case_timeout": 10, "timing_budget": 0.1, "results_dir": str(tmp_path)}

    class NoPool:
        def run(self, *args):
            raise AssertionError("an unavailable case must not be sent to a worker")

    infos = {"tensorflow": {"visible": {"cpu": "/CPU:0"}, "reasons": {"gpu": "a CPU-only build"}}}
    ctx = CaseContext(settings(opts.get, ["tensorflow"]), NoPool(), infos)  # type: ignore[arg-type]
    kernel = Kernel("tf.abs", "elementwise", lambda rng: {})
    case = Case("kernels/tensorflow/x.py", "tensorflow", "tf.abs", "float32", "default", "gpu")
    record = run_case(ctx, case, kernel, "kernels/tensorflow/x.py::tf.abs[float32-gpu]", None)
    assert record["outcome"] == "unavailable"
    assert record["message"] == "cannot see gpu: a CPU-only build"
    assert record["key"] == "tf.abs[float32-gpu]"
