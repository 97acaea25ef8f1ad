"""The catalog's self-test (issue: every kernel resolves, runs in float32 on the CPU at --size small, and
has a check that can fail) and its coverage of the study's sample and of our usage sample."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from portability.catalog import (
    CatalogError,
    Draw,
    Kernel,
    block_mean,
    linear_layer,
    normal,
    same,
    sparse_coo,
    unchecked,
)
from portability.catalog.load import validate
from portability.cli import main
from portability.runner import selftest
from portability.runner.backends import installed
from portability.usage import inventory
from portability.vocabulary import FRAMEWORKS

ROOT = Path(__file__).resolve().parents[1]
MIN_FUNCTIONS = 150


@pytest.mark.parametrize("framework", list(FRAMEWORKS))
def test_every_kernel_resolves_runs_and_has_a_check_that_can_fail(framework: str) -> None:
    if framework not in installed():
        pytest.skip(f"{framework} is not installed")
    result = selftest.run_in_subprocess(framework, str(ROOT / "kernels"), "small")
    assert result["checked"] >= MIN_FUNCTIONS
    assert result["problems"] == [], "\n".join(result["problems"])


def test_the_catalog_covers_the_paper_sample_and_our_usage_sample() -> None:
    cover = inventory.coverage(inventory.load(ROOT / "kernels"))
    for fw, c in cover.items():
        assert c["functions"] >= MIN_FUNCTIONS, (fw, c["functions"])
        assert c["paper_missing"] == [], (fw, c["paper_missing"])
        assert c["sample_missing"] == [], (fw, c["sample_missing"])
        assert c["paper_total"] >= 60 and c["sample_total"] >= 140, (fw, c["paper_total"], c["sample_total"])


def test_catalog_command_lists_kernels_and_prints_coverage(capsys) -> None:
    assert main(["catalog", "--kernels", str(ROOT / "kernels")]) == 0
    out = capsys.readouterr().out
    for fw in FRAMEWORKS:
        line = next(x for x in out.splitlines() if x.startswith(f"{fw}: "))
        assert "paper functions covered" in line and "usage sample covered" in line
    assert main(["catalog", "--framework", "jax", "--format", "csv", "--kernels", str(ROOT / "kernels")]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("framework,api,file,category,calls,decile,sample,paper")
    assert all(x.startswith("jax,") for x in lines[1:]) and len(lines) > MIN_FUNCTIONS
    assert main(["catalog", "--framework", "mxnet"]) == 2
    assert "unknown framework 'mxnet'; valid: torch, jax, tensorflow" in capsys.readouterr().err


BAD_CATALOG = '''
    import numpy as np

    from portability.catalog import Kernel, normal

    KERNELS = [
        # sound: the CPU float64 run is the reference
        Kernel(api="torch.exp", category="elementwise", inputs=normal(8)),
        # a property check that looks at nothing: it cannot fail
        Kernel(api="torch.sin", category="elementwise", inputs=normal(8), check=lambda out, x: None),
        # a reference that ignores the output's values (only its shape)
        Kernel(api="torch.cos", category="elementwise", inputs=normal(8),
               check=lambda out, x: None if np.shape(out) == x.shape else 1 / 0),
        # an integer-only kernel with no check: on the CPU it could only be compared with itself
        Kernel(api="torch.bitwise_not", category="elementwise", inputs=normal(8), dtypes=("int64",)),
        # does not resolve and does not say so
        Kernel(api="torch.no_such_function", category="elementwise", inputs=normal(8)),
        # says removed, yet resolves
        Kernel(api="torch.tan", category="elementwise", inputs=normal(8), removed="removed in torch 9"),
        # declared removed, and really missing: a sound fail:missing
        Kernel(api="torch.gone_for_good", category="elementwise", inputs=normal(8), removed="removed in torch 2.0"),
        # the builder is broken
        Kernel(api="torch.abs", category="elementwise", inputs=lambda rng: {"x": rng.no_such_method(3)}),
        # CUDA only, and says so: its CPU failure is the finding
        Kernel(api="torch.cuda.FloatTensor", category="creation", inputs=normal(8), call=lambda c, x: c.fn(3),
               device_only="cuda"),
        # says CUDA only, yet runs on the CPU
        Kernel(api="torch.cosh", category="elementwise", inputs=normal(8), device_only="cuda"),
    ]
'''


def test_the_self_test_finds_each_kind_of_unsound_kernel(tmp_path: Path) -> None:
    if "torch" not in installed():
        pytest.skip("torch is not installed")
    (tmp_path / "kernels" / "torch").mkdir(parents=True)
    (tmp_path / "kernels" / "torch" / "bad.py").write_text(textwrap.dedent(BAD_CATALOG))
    result = selftest.run_in_subprocess("torch", str(tmp_path / "kernels"), "small")
    problems = "\n".join(result["problems"])
    assert result["checked"] == 10
    assert "torch.exp" not in problems and "torch.gone_for_good" not in problems
    assert "torch.sin[float32-default]: its check (property) accepts an altered output" in problems
    assert "torch.cos[float32-default]: its check (property) accepts an altered output" in problems
    assert "torch.bitwise_not[int64-default]: no check that can fail (check: self)" in problems
    assert "torch.no_such_function: does not resolve" in problems and "does not say removed=" in problems
    assert "torch.tan: resolves, yet says removed='removed in torch 9'" in problems
    assert "torch.abs[float32-default]: input builder failed: AttributeError" in problems
    assert "torch.cuda.FloatTensor" not in problems
    assert "torch.cosh[float32-default]: says device_only='cuda', yet passes on the CPU" in problems
    assert len(result["problems"]) == 7, problems


@pytest.mark.parametrize(("kwargs", "error"), [
    ({"out_dtype": None}, "out_dtype=None would switch the output dtype check off silently; give the dtype, "
                          "same(...), or unchecked('why')"),
    ({"out_dtype": unchecked(" ")}, "unchecked() needs the reason the output dtype is not checked"),
    ({"random": True}, "a random kernel needs a property check (check=...)"),
    ({"category": "arithmetic"}, "unknown category 'arithmetic'; valid: creation, "),
])
def test_validation_refuses_an_entry_naming_it(kwargs: dict[str, Any], error: str) -> None:
    kernel = Kernel("torch.abs", **{"category": "elementwise", "inputs": normal(4), **kwargs})
    with pytest.raises(CatalogError) as info:
        validate(kernel, "torch", "kernels/torch/elementwise.py")
    assert str(info.value).startswith("kernels/torch/elementwise.py: entry 'torch.abs': " + error)


@pytest.mark.parametrize(("out_dtype", "expected"), [
    ("same", {"float16": "float16", "int32": "int32"}),
    ("float32", {"float16": "float32", "int32": "float32"}),
    (same("float32"), {"float16": None, "float32": "float32"}),
    (unchecked("converts to int32: the check reads it"), {"float16": None, "int32": None}),
])
def test_expected_output_dtype(out_dtype: Any, expected: dict[str, str | None]) -> None:
    kernel = Kernel("torch.abs", "elementwise", normal(4), out_dtype=out_dtype)
    validate(kernel, "torch", "kernels/torch/elementwise.py")
    assert {d: kernel.expected_dtype(d) for d in expected} == expected


@pytest.mark.parametrize(("layout", "w_shape"), [("out_in", (64, 32)), ("in_out", (32, 64))])
def test_linear_layer_lays_the_weight_out_as_asked(layout: str, w_shape: tuple[int, int]) -> None:
    drawn = linear_layer(8, 32, 64, layout=layout, bias_scale=0.0)(Draw(np.random.default_rng(0), "small"))
    assert (drawn["x"].shape, drawn["w"].shape, drawn["b"].shape) == ((8, 32), w_shape, (64,))
    assert not drawn["b"].any()
    with pytest.raises(ValueError, match="unknown layout 'keras'; valid: out_in, in_out"):
        linear_layer(8, 32, 64, layout="keras")


def test_sparse_coo_holds_a_matrix_of_the_density_asked() -> None:
    drawn = sparse_coo((64, 1024), 1024, 0.05)(Draw(np.random.default_rng(0), "small"))
    indices, shape = drawn["indices"].value, drawn["dense_shape"].value
    dense = np.zeros(shape)
    dense[tuple(indices.T)] = drawn["values"]
    assert shape.tolist() == [64, 1024] and indices.dtype == np.int64
    assert np.array_equal(indices, np.argwhere(dense != 0))  # row-major, no repeats
    assert 0.04 < len(indices) / dense.size < 0.06


def test_block_mean_averages_each_block() -> None:
    x = np.arange(2 * 4 * 6, dtype=np.float64).reshape(2, 4, 6)
    out = block_mean(x, (2, 3))
    assert out.shape == (2, 2, 2)
    assert out[1, 0, 1] == x[1, 0:2, 3:6].mean()
