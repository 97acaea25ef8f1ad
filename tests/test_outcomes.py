import pytest

from portability import outcomes
from portability.results.summary import function_verdicts, modes_view, portability_view, render


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
    (["compiled", "compiled"], "compiles"),
    (["compiled", "unavailable"], "compiles"),
    (["compiled", "fail:dtype"], "partial_failure"),
    (["fail:not_implemented", "fail:dtype"], "complete_failure"),
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


def case(api, outcome, backend, dtype="float32", fw="jax", device_only="", frequency=0, mode="eager",
         ratio=None):
    suffix = "" if mode == "eager" else f"-{mode}"
    return {"framework": fw, "backend": backend, "api": api, "dtype": dtype, "variant": "default", "mode": mode,
            "outcome": outcome, "key": f"{api}[{dtype}-{backend}{suffix}]", "device_only": device_only,
            "frequency": frequency, "ratio": {"ratio": ratio, "reference": "eager call"} if ratio else None}


# (reference outcomes, target outcomes) per dtype -> the function's place in the portability view
PORTABILITY_TABLE = [
    ({"float32": "pass"}, {"float32": "compiled"}, None),
    ({"float32": "pass"}, {"float32": "fail:not_implemented"}, "portability"),
    ({"float32": "fail:dtype"}, {"float32": "fail:dtype"}, "both"),
    # fails on both in float16, and only on the target in float64: a portability failure
    ({"float16": "fail:dtype", "float64": "pass"}, {"float16": "fail:dtype", "float64": "fail:dtype"}, "portability"),
    ({"float16": "fail:dtype", "float64": "pass"}, {"float16": "fail:dtype", "float64": "compiled"}, "both"),
    # a target failure where the reference did not run is neither
    ({"float32": "unavailable"}, {"float32": "fail:dtype"}, None),
    ({}, {"float32": "fail:dtype"}, None),
    # fixed on the target: not a failure there
    ({"float32": "fail:numerical"}, {"float32": "compiled"}, None),
    ({"float32": "slowdown"}, {"float32": "fail:timeout"}, "portability"),
]


@pytest.mark.parametrize(("ref", "target", "expected"), PORTABILITY_TABLE)
def test_portability_view(ref, target, expected):
    records = [case("f", o, "cpu", d) for d, o in ref.items()] + [case("f", o, "tpu-compile", d)
                                                                   for d, o in target.items()]
    (row,) = portability_view(records, "cpu")
    assert ("f" in row.portability, "f" in row.both) == (expected == "portability", expected == "both")


def test_portability_view_leaves_device_specific_apis_apart_and_names_examples():
    records = [case(a, "pass", "cpu", frequency=n) for a, n in (("a", 5), ("b", 50), ("c", 9), ("d", 1))]
    records += [case("a", "fail:dtype", "gpu"), case("b", "fail:not_implemented", "gpu"),
                case("c", "fail:not_implemented", "gpu"), case("d", "pass", "gpu")]
    records += [case("torch.cuda.x", "fail:not_implemented", b, fw="jax", device_only="cuda") for b in ("cpu", "gpu")]
    (row,) = portability_view(records, "cpu")
    assert sorted(row.portability) == ["a", "b", "c"] and not row.both and len(row.compared) == 4
    assert row.categories() == [("not_implemented", 2), ("dtype", 1)]
    assert row.examples(row.portability) == ["b", "c", "a"]  # most used first
    text = "\n".join(render(records, ["cpu", "gpu"]))
    assert "portability against cpu" in text and "3 (75%)" in text
    table = text.split("portability against")[0]
    assert "device-specific" in table and "torch.cuda.x" not in table


def test_summary_of_a_compile_only_backend():
    records = [case("a", "pass", "cpu"), case("a", "compiled", "tpu-compile"), case("b", "pass", "cpu"),
               case("b", "fail:dtype", "tpu-compile"), case("c", "pass", "cpu"),
               case("c", "unavailable", "tpu-compile")]
    rows = {r.backend: r for r in function_verdicts(records)}
    assert rows["tpu-compile"].count("compiles") == 1 and rows["tpu-compile"].assessed == 2
    line = next(ln for ln in render(records, ["cpu", "tpu-compile"]) if ln.startswith("jax        tpu-compile"))
    assert "1 (50%) compile" in line and "n/a" in line


# (eager outcomes, compiled outcomes) per dtype -> the function's place in the modes view
MODES_TABLE = [
    ({"float32": "pass"}, {"float32": "pass"}, None),
    ({"float32": "pass"}, {"float32": "fail:not_implemented"}, "portability"),  # a graph break: the mode's
    ({"float32": "fail:dtype"}, {"float32": "fail:dtype"}, "both"),  # the API's own limitation
    ({"float32": "pass"}, {"float32": "slowdown"}, None),  # slower compiled is no failure
    ({"float32": "pass"}, {"float32": "unavailable"}, None),  # nothing to compile: not compared
    ({"float16": "fail:dtype", "float32": "pass"}, {"float16": "fail:dtype", "float32": "fail:numerical"},
     "portability"),
]


@pytest.mark.parametrize(("eager", "compiled", "expected"), MODES_TABLE)
def test_modes_view(eager, compiled, expected):
    records = [case("f", o, "cpu", d) for d, o in eager.items()]
    records += [case("f", o, "cpu", d, mode="compiled") for d, o in compiled.items()]
    (row,) = modes_view(records)
    assert (row.target, row.reference) == ("cpu compiled", "cpu")
    assert ("f" in row.portability, "f" in row.both) == (expected == "portability", expected == "both")
    assert portability_view(records, "cpu") == []  # modes are not hardware: never in the cross-backend view


def test_modes_view_counts_functions_per_framework_and_backend_with_their_time_ratios():
    records = [case(a, "pass", b) for a in ("a", "b", "c") for b in ("cpu", "gpu")]
    records += [case("a", "pass", "cpu", mode="compiled", ratio=0.5), case("b", "slowdown", "cpu", mode="compiled",
                                                                          ratio=3.0),
                case("c", "fail:not_implemented", "cpu", mode="compiled"),
                case("a", "pass", "gpu", mode="compiled", ratio=0.25)]
    rows = {r.target: r for r in modes_view(records)}
    assert sorted(rows) == ["cpu compiled", "gpu compiled"]
    cpu = rows["cpu compiled"]
    assert len(cpu.compared) == 3 and list(cpu.portability) == ["c"] and cpu.median_ratio == 1.75
    assert rows["gpu compiled"].median_ratio == 0.25 and rows["gpu compiled"].reference == "gpu"
    text = "\n".join(render(records, ["cpu", "gpu"]))
    assert "compiled against eager" in text
    modes = text.split("compiled against eager")[1]
    line = next(ln for ln in modes.splitlines() if ln.startswith("jax        cpu compiled  3"))
    assert "1 (33%)" in line and "not_implemented 1" in line and "1.75x (2)" in line
    targets = [ln.split()[1:3] for ln in text.splitlines()[2:6]]
    assert targets == [["cpu", "3"], ["cpu", "compiled"], ["gpu", "3"], ["gpu", "compiled"]]  # backend, then mode
