"""``--mode eager,compiled`` with the real compilers of the three frameworks (torch.compile with inductor,
jax.jit, tf.function with XLA) on a scratch catalog: keys, records, time against eager, and each way a
compiled case can end (pass, a failure of the mode, unavailable by nature)."""

from __future__ import annotations

import importlib.util

import pytest
from scratch import FAST, only_run, write_kernels

pytest_plugins = ["pytester"]

TORCH = """
    import numpy as np
    from portability.catalog import Kernel, normal, unchecked

    def branches(c, x):  # Python control flow on a value: eager runs it, a whole-graph compiler cannot
        return c.fn(x) if float(x.sum()) > -1e9 else -c.fn(x)

    KERNELS = [Kernel("torch.exp", "elementwise", normal(64), reference=np.exp),
               Kernel("torch.abs", "elementwise", normal(64), call=branches, reference=np.abs),
               Kernel("torch.Tensor.tolist", "utility", normal(8), call=lambda c, x: x.tolist(),
                      check=lambda out, x: None, out_dtype=unchecked("a list of Python floats"))]
"""

JAX = """
    import numpy as np
    from portability.catalog import Kernel, normal

    KERNELS = [Kernel("jax.numpy.exp", "elementwise", normal(64), reference=np.exp),
               Kernel("jax.numpy.nonzero", "indexing", normal(16), reference=lambda x: np.nonzero(x),
                      out_dtype="int64")]
"""

TENSORFLOW = """
    import numpy as np
    from portability.catalog import Kernel, normal

    IDS = [0, 0, 1, 1, 2, 2, 3, 3]

    def segments(c, x):
        return c.fn(x, c.fw.constant(IDS))

    KERNELS = [Kernel("tf.math.exp", "elementwise", normal(64), reference=np.exp),
               Kernel("tf.math.segment_mean", "reduction", normal(8), call=segments,
                      reference=lambda x: x.reshape(4, 2).mean(axis=1))]
"""


def _needs(module: str) -> None:
    if importlib.util.find_spec(module) is None:
        pytest.skip(f"{module} is not installed")


def test_every_case_runs_eager_and_compiled_and_is_judged_against_eager(pytester: pytest.Pytester) -> None:
    for module in ("torch", "jax", "tensorflow"):
        _needs(module)
    write_kernels(pytester, "torch", "modes", TORCH)
    write_kernels(pytester, "jax", "modes", JAX)
    write_kernels(pytester, "tensorflow", "modes", TENSORFLOW)
    result = pytester.runpytest_subprocess("--backend=cpu", "--mode=eager,compiled", "--dtype=float32",
                                           "--results-dir=out", *FAST, "kernels")
    run = only_run(pytester.path / "out")
    got = {c["key"]: c for c in run.cases}
    outcomes = {k: c["outcome"] for k, c in got.items()}
    apis = [("torch.exp", "torch.abs", "torch.Tensor.tolist"), ("jax.numpy.exp", "jax.numpy.nonzero"),
            ("tf.math.exp", "tf.math.segment_mean")]
    assert set(outcomes) == {f"{api}[float32-cpu{mode}]" for group in apis for api in group
                             for mode in ("", "-compiled")}
    assert {o for k, o in outcomes.items() if not k.endswith("-compiled]")} == {"pass"}, outcomes
    assert outcomes["torch.abs[float32-cpu-compiled]"] == "fail:data_dependent"
    assert outcomes["torch.Tensor.tolist[float32-cpu-compiled]"] == "unavailable"
    assert outcomes["jax.numpy.nonzero[float32-cpu-compiled]"] == "fail:data_dependent"
    assert outcomes["tf.math.segment_mean[float32-cpu-compiled]"] == "fail:not_implemented"
    assert run.meta["options"]["modes"] == ["eager", "compiled"]
    for key in ("torch.exp[float32-cpu-compiled]", "jax.numpy.exp[float32-cpu-compiled]",
                "tf.math.exp[float32-cpu-compiled]"):
        case = got[key]
        # a pass, or slower than eager (a compiled call's dispatch costs more than a 64-element op): never a failure
        assert case["outcome"] in ("pass", "slowdown"), case["message"]
        assert case["mode"] == "compiled" and case["check"] == "numpy"
        assert case["ratio"]["reference"] == "eager call" and case["ratio"]["ci_low"] <= case["ratio"]["ratio"]
        assert case["reference_timing"]["interleaved"] is True
        assert case["compile"]["first_call_s"] > 0  # the call that compiled, kept apart from the rounds
        assert case["repro"].endswith("--backend=cpu --mode=compiled")
    assert set(got["jax.numpy.exp[float32-cpu-compiled]"]["compile"]) >= {"trace_s", "lower_s", "compile_s"}
    assert got["torch.Tensor.tolist[float32-cpu-compiled]"]["message"].startswith("returns no array (float)")
    assert "data-dependent expression" in got["torch.abs[float32-cpu-compiled]"]["message"]
    assert "must be statically specified" in got["jax.numpy.nonzero[float32-cpu-compiled]"]["traceback"]
    assert "No registered 'SegmentMean' OpKernel for XLA_CPU_JIT" in got[
        "tf.math.segment_mean[float32-cpu-compiled]"]["message"]
    text = result.stdout.str()
    assert "compiled against eager" in text
    modes = text.split("compiled against eager")[1]
    for fw, failing in (("torch", "data_dependent 1"), ("jax", "data_dependent 1"), ("tensorflow",
                                                                                   "not_implemented 1")):
        line = next(ln for ln in modes.splitlines() if ln.startswith(f"{fw} "))
        assert "cpu compiled" in line and failing in line, line


def test_the_mode_is_validated_and_shown(pytester: pytest.Pytester) -> None:
    write_kernels(pytester, "torch", "one", """
        import numpy as np
        from portability.catalog import Kernel, normal
        KERNELS = [Kernel("torch.exp", "elementwise", normal(8), reference=np.exp)]
    """)
    bad = pytester.runpytest_subprocess("--mode=jit", "kernels")
    assert [ln for ln in bad.stderr.lines if ln.startswith("ERROR:")] == [
        "ERROR: unknown mode 'jit'; valid: eager, compiled"]
    listed = pytester.runpytest_subprocess("--backend=cpu,tpu-compile", "--mode=eager,compiled", "--dtype=float32",
                                           "--collect-only", "-q", "kernels")
    ids = [ln for ln in listed.stdout.lines if "::" in ln]
    # a compile-only backend compiles by nature: one case under its usual key
    assert ids == ["kernels/torch/one.py::torch.exp[float32-cpu]",
                   "kernels/torch/one.py::torch.exp[float32-cpu-compiled]",
                   "kernels/torch/one.py::torch.exp[float32-tpu-compile]"]
    header = pytester.runpytest_subprocess("--backend=cpu,tpu-compile", "--mode=eager,compiled", "--collect-only",
                                           "kernels").stdout.str()
    assert "backends cpu, tpu-compile (a TPU v5e:1x1, compiled, nothing run); modes eager, compiled;" in header


def test_torch_compiled_without_a_cpp_compiler_is_unavailable(pytester: pytest.Pytester,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """inductor compiles C++ on the CPU: with none to be found (here $CXX names a compiler that does not
    exist, which torch then insists on) the compiled case is unavailable, never a failure of the API."""
    _needs("torch")
    monkeypatch.setenv("CXX", "/nonexistent/g++")
    write_kernels(pytester, "torch", "one", """
        import numpy as np
        from portability.catalog import Kernel, normal
        KERNELS = [Kernel("torch.exp", "elementwise", normal(8), reference=np.exp)]
    """)
    result = pytester.runpytest_subprocess("--backend=cpu", "--mode=eager,compiled", "--dtype=float32",
                                           "--results-dir=out", *FAST, "kernels")
    result.assert_outcomes(passed=1, skipped=1)
    got = {c["key"]: c for c in only_run(pytester.path / "out").cases}
    assert got["torch.exp[float32-cpu]"]["outcome"] == "pass"
    compiled = got["torch.exp[float32-cpu-compiled]"]
    assert compiled["outcome"] == "unavailable"
    assert compiled["message"].startswith("torch.compile's inductor needs a C++ compiler on the CPU and finds none "
                                          "(InvalidCxxCompiler: ")
