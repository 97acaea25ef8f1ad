"""Run records: case keys, and run files of older schemas read through the migration (never refused).

``tests/data/v1`` holds real run files written by schema 1 of this suite (node ids as keys):
two runs of a small torch catalog and the expectations file written from the first.
"""

import json
import shutil
from pathlib import Path

import pytest

from portability import records
from portability.results import expectations, storage

DATA = Path(__file__).parent / "data"
V1_A, V1_B = DATA / "v1" / "run-a", DATA / "v1" / "run-b"


@pytest.mark.parametrize(("name", "key"), [
    # schema-1 node ids: <dtype>(-<variant>)-<backend>, the file in front
    ("kernels/torch/linalg.py::torch.linalg.cholesky[float16-cpu]", "torch.linalg.cholesky[float16-cpu]"),
    ("kernels/torch/tiny.py::torch.exp[float32-vec-cpu]", "torch.exp[vec-float32-cpu]"),
    ("kernels/jax/x.py::jax.numpy.fft.fft[complex64-long_1d-gpu]", "jax.numpy.fft.fft[long_1d-complex64-gpu]"),
    ("kernels/tensorflow/usage_io.py::tf.io.read_file[float32-cpu]", "tf.io.read_file[float32-cpu]"),
    # keys are returned as they are
    ("torch.exp[vec-float32-cpu]", "torch.exp[vec-float32-cpu]"),
    ("  tf.abs[float32-gpu]  ", "tf.abs[float32-gpu]"),
])
def test_a_case_name_names_its_key(name: str, key: str) -> None:
    assert records.key_of(name) == key


@pytest.mark.parametrize("name", ["torch.abs", "kernels/torch/x.py::torch.abs[cpu]", "", "[float32-cpu]"])
def test_what_is_not_a_case_name_is_refused(name: str) -> None:
    with pytest.raises(ValueError, match="not a case"):
        records.key_of(name)


def test_case_key_leads_with_the_variant_and_omits_the_default() -> None:
    assert records.case_key("torch.abs", "default", "float32", "cpu") == "torch.abs[float32-cpu]"
    assert records.case_key("torch.exp", "vec", "float16", "gpu") == "torch.exp[vec-float16-gpu]"


def test_a_schema_1_run_is_read_through_the_migration() -> None:
    run = storage.read_run(V1_A)
    assert json.loads((V1_A / "run.json").read_text())["schema"] == 1  # the file on disk is untouched
    assert run.meta["schema"] == records.SCHEMA_VERSION and run.meta["migrated_from"] == 1
    assert run.problems == []
    keys = [c["key"] for c in run.cases]
    assert keys == ["torch.abs[float32-cpu]", "torch.exp[vec-float32-cpu]", "torch.exp[mat-float32-cpu]",
                    "torch.neg[float32-cpu]", "torch.sin[float32-cpu]", "torch.cos[float32-cpu]",
                    "torch.tanh[float32-cpu]", "torch.sqrt[float32-cpu]"]
    for c in run.cases:  # the old node id stays, and names the same case as the key
        assert records.key_of(c["id"]) == c["key"]
    assert storage.latest_by_key(run.cases)["torch.sin[float32-cpu]"]["outcome"] == "fail:dtype"


def test_a_newer_or_unknown_schema_is_a_one_line_error(tmp_path: Path) -> None:
    for schema, words in ((records.SCHEMA_VERSION + 1, "newer than this version reads"),
                          (0, "not one this suite ever wrote"), ("2", "not one this suite ever wrote")):
        run = tmp_path / f"run-{schema}"
        shutil.copytree(V1_A, run)
        meta = json.loads((run / "run.json").read_text())
        (run / "run.json").write_text(json.dumps({**meta, "schema": schema}))
        with pytest.raises(storage.RunFileError, match=words) as err:
            storage.read_run(run)
        assert str(err.value).startswith(str(run / "run.json")) and "\n" not in str(err.value)


def test_schema_1_expectations_are_read_as_keys_and_rewritten_as_keys(tmp_path: Path) -> None:
    assert expectations.read(DATA / "v1" / "expectations") == {
        "torch.cos[float32-cpu]": "fail:not_implemented", "torch.sin[float32-cpu]": "fail:dtype"}
    written = expectations.write(storage.read_run(V1_A).cases, tmp_path)
    text = written[0].read_text()
    assert "\ntorch.cos[float32-cpu]  # fail:not_implemented" in text and "kernels/" not in text
    assert expectations.read(tmp_path) == expectations.read(DATA / "v1" / "expectations")


V2 = DATA / "v2" / "run"  # written by schema 2 of this suite (commit d2d94c9): torch and JAX, x64 off


def test_a_schema_2_run_gains_the_compile_fields() -> None:
    run = storage.read_run(V2)
    assert json.loads((V2 / "run.json").read_text())["schema"] == 2
    assert run.meta["migrated_from"] == 2 and run.meta["compile_targets"] == {}
    assert run.meta["numerics"]["jax_enable_x64"] is False  # what that run was: kept as it was
    assert {c["key"]: (c["outcome"], c["device_only"], c["compile"]) for c in run.cases} == {
        "torch.linalg.cholesky[float16-cpu]": ("fail:not_implemented", "", None),
        "torch.linalg.cholesky[float32-cpu]": ("pass", "", None),
        "jax.numpy.fft.fft[complex128-cpu]": ("fail:dtype", "", None),
    }
