"""What cases share is made once: a kernel's inputs are drawn once per variant for all its dtypes, and
every case gets its own copy (the same values as a fresh draw, whatever an earlier case did to its
inputs in place); a NumPy reference is computed once for the cases of one kernel, variant, dtype and
size on each target and in each mode."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from scratch import FAST, only_run, write_kernels

from portability.catalog import Draw, Keep, Kernel
from portability.runner.execute import CaseRunner

pytest_plugins = ["pytester"]


class _Adapter:
    """What ``CaseRunner`` asks of an adapter before any case runs."""

    framework = "torch"

    def numerics(self) -> dict[str, Any]:
        return {}


def _counting(draws: list[str], extra: Any = None) -> Any:
    def build(rng: Any) -> dict[str, Any]:
        draws.append(rng.size)
        return {"x": rng.standard_normal((4, 3)), "idx": Keep(np.arange(3)), "shape": [4, 3], "mode": "sum",
                **({"extra": extra} if extra is not None else {})}

    return build


def test_a_variant_is_drawn_once_and_each_case_gets_a_fresh_copy() -> None:
    draws: list[str] = []
    kernel = Kernel("torch.add", "elementwise", {"a": _counting(draws), "b": _counting(draws)},
                    dtypes=("float32", "float64", "float16"))
    runner = CaseRunner(_Adapter())  # type: ignore[arg-type]
    first = runner.inputs("k.py", kernel, "a", "small")
    expected = {"x": first["x"].copy(), "idx": first["idx"].value.copy(), "shape": list(first["shape"])}
    # what an in-place kernel does to its inputs
    first["x"][:] = 0
    first["idx"].value[:] = -1
    first["shape"].append(99)
    for _ in range(3):
        again = runner.inputs("k.py", kernel, "a", "small")
        np.testing.assert_array_equal(again["x"], expected["x"])
        np.testing.assert_array_equal(again["idx"].value, expected["idx"])
        assert again["shape"] == expected["shape"] and again["mode"] == "sum"
        again["x"] += 1
    assert draws == ["small"]
    # another variant, another size: drawn once each; the values are the seeded draw's
    fresh = Kernel("torch.add", "elementwise", {"a": _counting([]), "b": _counting([])}).variants["b"]
    b = runner.inputs("k.py", kernel, "b", "small")
    np.testing.assert_array_equal(b["x"], fresh(Draw(np.random.default_rng(kernel.seed("b")), "small"))["x"])
    runner.inputs("k.py", kernel, "b", "small")
    runner.inputs("k.py", kernel, "a", "medium")
    assert draws == ["small", "small", "medium"]


def test_another_kernel_forgets_the_last_ones_inputs() -> None:
    draws: list[str] = []
    one = Kernel("torch.add", "elementwise", _counting(draws))
    two = Kernel("torch.sub", "elementwise", _counting(draws))
    runner = CaseRunner(_Adapter())  # type: ignore[arg-type]
    for kernel in (one, two, one):
        runner.inputs("k.py", kernel, "default", "small")
    assert draws == ["small"] * 3


@pytest.mark.parametrize("extra", [object(), list(range(1000))], ids=["an object", "a long list"])
def test_inputs_that_are_not_plain_data_are_drawn_for_every_case(extra: Any) -> None:
    draws: list[str] = []
    kernel = Kernel("torch.add", "elementwise", _counting(draws, extra=extra))
    runner = CaseRunner(_Adapter())  # type: ignore[arg-type]
    a = runner.inputs("k.py", kernel, "default", "small")
    b = runner.inputs("k.py", kernel, "default", "small")
    assert draws == ["small", "small"] and a is not b


#: A kernel whose setup changes its inputs in place (a Keep array reaches torch without a copy) and
#: fails if they are not as drawn, counting its draws in a file beside it.
IN_PLACE = """
    from pathlib import Path
    import numpy as np
    from portability.catalog import FLOATS, Keep, Kernel

    DRAWS = Path(__file__).with_suffix(".draws")

    def build(rng):
        with DRAWS.open("a") as f:
            f.write("draw\\n")
        return {"x": rng.standard_normal((8, 8)), "k": Keep(np.arange(8, dtype=np.int64))}

    def setup(c, x, k):  # once per case
        if k.tolist() != list(range(8)):
            raise ValueError(f"an earlier case changed these inputs: {k.tolist()}")
        k.fill_(7)  # in place, in the arrays the case was given
        return lambda: x * 2

    def reference(x, k):
        return x * 2

    KERNELS = [Kernel("torch.add", "elementwise", build, dtypes=FLOATS, setup=setup, reference=reference)]
"""


def test_a_kernel_that_changes_its_inputs_does_not_change_the_next_dtypes(pytester: pytest.Pytester) -> None:
    path = write_kernels(pytester, "torch", "in_place", IN_PLACE)
    result = pytester.runpytest_subprocess("--backend=cpu", "-n", "0", "--results-dir=out", *FAST, "kernels")
    cases = only_run(pytester.path / "out").cases
    assert sorted(c["dtype"] for c in cases) == ["bfloat16", "float16", "float32", "float64"]
    assert {c["outcome"] for c in cases} == {"pass"}, [(c["dtype"], c["message"]) for c in cases]
    assert result.ret == 0
    # the worker drew once for its four cases (the catalog's collection does not draw)
    assert Path(path.with_suffix(".draws")).read_text().splitlines() == ["draw"]


def test_a_reference_is_computed_once_for_the_cases_that_share_it() -> None:
    calls: list[str] = []

    def reference(x: Any) -> Any:
        calls.append(str(x.dtype))
        return np.sin(x)

    kernel = Kernel("torch.sin", "elementwise", _counting([]), dtypes=("float32", "float64"), reference=reference)
    runner = CaseRunner(_Adapter())  # type: ignore[arg-type]
    raw = {"x": np.linspace(0.0, 1.0, 7)}
    right = [np.sin(raw["x"].astype(np.float32))]
    wrong = [right[0] + 1]

    def check(out: list[Any], dtype: str, backend: str, same: bool = True) -> dict[str, Any]:
        key = ("k.py", kernel.api, "default", dtype, "small") if same else None
        result, how = runner.check_output(kernel, None, None, raw, dtype, backend, 0, out, host=out, same=key)
        assert how == "numpy" and result is not None
        return result

    assert check(right, "float32", "cpu")["ok"]
    assert not check(wrong, "float32", "gpu")["ok"]  # the kept reference still tells a wrong output
    assert check(right, "float32", "cpu")["ok"] and calls == ["float64"]
    assert check([np.sin(raw["x"])], "float64", "cpu")["ok"] and len(calls) == 2  # another dtype: its own
    assert not check(wrong, "float32", "cpu", same=False)["ok"] and len(calls) == 3  # no key: computed again


#: A JAX kernel whose NumPy reference counts its calls in a file beside it.
COUNTED_REFERENCE = """
    from pathlib import Path
    import numpy as np
    from portability.catalog import Kernel, normal

    CALLS = Path(__file__).with_suffix(".references")

    def reference(x):
        with CALLS.open("a") as f:
            f.write(f"{x.dtype}\\n")
        return np.sin(x)

    KERNELS = [Kernel("jax.numpy.sin", "elementwise", normal(8), dtypes=("float32", "float64"), reference=reference)]
"""


def test_eager_and_compiled_cases_share_their_reference(pytester: pytest.Pytester) -> None:
    path = write_kernels(pytester, "jax", "counted", COUNTED_REFERENCE)
    result = pytester.runpytest_subprocess("--backend=cpu", "--mode=eager,compiled", "-n", "0",
                                           "--results-dir=out", *FAST, "kernels")
    cases = only_run(pytester.path / "out").cases
    assert sorted((c["dtype"], c["mode"]) for c in cases) == [
        ("float32", "compiled"), ("float32", "eager"), ("float64", "compiled"), ("float64", "eager")]
    assert {(c["outcome"], c["check"]) for c in cases} == {("pass", "numpy")}, [c["message"] for c in cases]
    assert result.ret == 0
    # one reference per dtype for its two cases
    assert path.with_suffix(".references").read_text().splitlines() == ["float64", "float64"]
