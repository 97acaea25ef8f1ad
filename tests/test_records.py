"""Run records: case keys, and run files of older schemas read through the migration (never refused).

``tests/data/v1`` holds real run files written by schema 1 of this suite (node ids as keys):
two runs of a small torch catalog and the expectations file written from the first.
"""

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from portability import records
from portability.records import check
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


V3 = DATA / "v3" / "run"  # written by schema 3 (commit 08c49c9): torch and JAX on cpu and tpu-compile


def test_a_schema_3_run_is_eager_and_keeps_its_compile_targets() -> None:
    run = storage.read_run(V3)
    stored = json.loads((V3 / "run.json").read_text())
    assert stored["schema"] == 3 and "modes" not in stored["options"]
    assert run.meta["migrated_from"] == 3 and run.meta["options"]["modes"] == ["eager"]
    assert run.meta["compile_targets"] == stored["compile_targets"] != {}
    assert {c["key"]: (c["outcome"], c["mode"]) for c in run.cases} == {
        "torch.linalg.cholesky[float16-cpu]": ("fail:not_implemented", "eager"),
        "torch.linalg.cholesky[float32-cpu]": ("pass", "eager"),
        "jax.numpy.fft.fft[complex128-cpu]": ("pass", "eager"),
        "jax.numpy.fft.fft[complex128-tpu-compile]": ("fail:dtype", "eager"),
    }
    assert run.problems == []


V4 = DATA / "v4" / "run"  # written by schema 4 (commit fde8be6): torch and JAX, eager and compiled


def test_a_schema_4_run_has_no_fallback_counts() -> None:
    run = storage.read_run(V4)
    assert json.loads((V4 / "run.json").read_text())["schema"] == 4 and run.meta["migrated_from"] == 4
    assert {c["key"]: (c["outcome"], c["mode"], c["host_fallbacks"]) for c in run.cases} == {
        "torch.linalg.cholesky[float16-cpu]": ("fail:not_implemented", "eager", None),
        "torch.linalg.cholesky[float32-cpu]": ("pass", "eager", None),
        "torch.linalg.cholesky[float32-cpu-compiled]": ("slowdown", "compiled", None),
        "jax.numpy.linalg.eigh[float32-cpu-compiled]": ("pass", "compiled", None),
    }
    assert run.problems == []


@pytest.mark.parametrize(("mode", "key"), [
    ("eager", "torch.abs[float32-cpu]"),  # an eager case keeps the key it always had
    ("compiled", "torch.abs[float32-cpu-compiled]"),
])
def test_the_mode_ends_a_key_where_it_is_not_eager(mode: str, key: str) -> None:
    assert records.case_key("torch.abs", "default", "float32", "cpu", mode) == key
    assert records.key_of(key) == key


# -- records read back are checked against CaseRecord ----------------------------------------------

def _good_record() -> dict[str, Any]:
    (record, *_) = storage.read_run(V2).cases
    return {**record, "expected": None, "xdist_worker": "gw0"}


DROP = object()  # a change that removes the field


@pytest.mark.parametrize(("change", "problem"), [
    ({"key": DROP}, "field 'key' is missing"),
    ({"outcome": DROP}, "field 'outcome' is missing"),
    ({"outcome": 3}, "field 'outcome' is int, expected str"),
    ({"outcome": None}, "field 'outcome' is None, expected str"),
    ({"failure": 1.5}, "field 'failure' is float, expected str | None"),
    ({"warnings": None}, "field 'warnings' is None, expected list[str]"),
    ({"warnings": ["a", 1]}, "field 'warnings' is list holding int, expected list[str]"),
    ({"device_used": "gpu"}, "field 'device_used' is str, expected list[str] | None"),
    ({"paper": 1}, "field 'paper' is int, expected bool"),
    ({"decile": True}, "field 'decile' is bool, expected int | None"),
    ({"decile": 2.5}, "field 'decile' is float, expected int | None"),
    ({"duration_s": "0.2"}, "field 'duration_s' is str, expected float"),
    ({"duration_s": False}, "field 'duration_s' is bool, expected float"),
    ({"timing": [0.1]}, "field 'timing' is list, expected dict | None"),
    ({"usage": "often"}, "field 'usage' is str, expected dict[str, Any] | None"),
    ({"expected": 0}, "field 'expected' is int, expected str | None"),
    ({"xdist_worker": None}, "field 'xdist_worker' is None, expected str"),
    # what is accepted
    ({"duration_s": 2}, None),  # a number without a fraction is read as an int
    ({"tolerance_used": [1, "x"]}, None),  # Any
    ({"timing": {"median_s": "not checked"}}, None),  # a nested TypedDict is checked as a dict
    ({"usage": {"calls": None}}, None),
    ({"expected": DROP, "xdist_worker": DROP}, None),  # NotRequired
    ({"a_field_of_later_days": 1}, None),
])
def test_a_record_is_checked_against_the_case_record_type(change: dict[str, Any], problem: str | None) -> None:
    record = _good_record()
    assert check.case_record_problem(record) is None
    for k, v in change.items():
        if v is DROP:
            del record[k]
        else:
            record[k] = v
    assert check.case_record_problem(record) == problem


def test_what_is_not_a_json_object_is_not_a_case_record() -> None:
    assert check.case_record_problem([1, 2]) == "not a case record (a JSON list)"
    assert check.case_record_problem("x") == "not a case record (a JSON str)"


def _copy_v2(tmp_path: Path, *extra: str) -> Path:
    run = tmp_path / "run"
    shutil.copytree(V2, run)
    with (run / "cases.jsonl").open("a") as f:
        f.writelines(line + "\n" for line in extra)
    return run


def test_bad_records_are_skipped_with_a_line_naming_the_file_line_and_field(tmp_path: Path) -> None:
    good = json.loads((V2 / "cases.jsonl").read_text().splitlines()[0])
    run = _copy_v2(tmp_path, json.dumps({**good, "outcome": 3}), json.dumps({k: v for k, v in good.items()
                                                                             if k != "backend"}),
                   "[1]", "{not json", json.dumps(good), '{"key": "x", "outc')
    got = storage.read_run(run)
    assert len(got.cases) == 4 and got.skipped_lines == 5
    cases = run / "cases.jsonl"
    assert got.problems == [
        f"{cases}:4: field 'outcome' is int, expected str; skipped",
        f"{cases}:5: field 'backend' is missing; skipped",
        f"{cases}:6: not a case record (a JSON list); skipped",
        f"{cases}:7: corrupt line (not JSON); skipped",
        f"{cases}:9: truncated last line; skipped",
    ]


def test_a_schema_1_record_without_what_its_key_is_made_of_is_skipped(tmp_path: Path) -> None:
    run = tmp_path / "run"
    shutil.copytree(V1_A, run)
    first = json.loads((run / "cases.jsonl").read_text().splitlines()[0])
    with (run / "cases.jsonl").open("a") as f:
        f.write(json.dumps({k: v for k, v in first.items() if k != "api"}) + "\n")
        f.write(json.dumps({**first, "variant": 3}) + "\n")
    got = storage.read_run(run)
    assert len(got.cases) == 8
    assert [p.split(": ", 1)[1] for p in got.problems] == ["field 'key' is missing; skipped"] * 2


EXAMPLES = sorted(Path(__file__).parents[1].glob("reports/examples/*/runs/*"))


@pytest.mark.parametrize("run", [V1_A, V1_B, V2, V3, *EXAMPLES],
                         ids=lambda p: str(p.relative_to(Path(__file__).parents[1])))
def test_every_committed_run_reads_without_a_problem(run: Path) -> None:
    got = storage.read_run(run)
    assert got.problems == [] and got.cases
    assert len(got.cases) == len((run / "cases.jsonl").read_text().splitlines())


def test_lone_surrogates_an_older_version_wrote_are_replaced(tmp_path: Path) -> None:
    lines = (V2 / "cases.jsonl").read_text().splitlines()
    first = json.loads(lines[0])
    first.update(message="bad byte \udcff here", warnings=["w\udc80"], usage={"k\ud800": "v"})
    line = json.dumps(first)
    assert "\\udcff" in line and "\\ud800" in line  # what json.dumps writes for such a str
    run = tmp_path / "run"
    shutil.copytree(V2, run)
    (run / "cases.jsonl").write_text("\n".join([line, *lines[1:]]) + "\n")
    (case, *_) = storage.read_run(run).cases
    assert case["message"] == "bad byte ? here" and case["warnings"] == ["w?"] and case["usage"] == {"k?": "v"}
    case["message"].encode("utf-8")  # valid UTF-8 now


@pytest.mark.parametrize(("stored", "read"), [
    ("clear \x1b[2J title \x1b]0;pwned\x07", "clear \\x1b[2J title \\x1b]0;pwned\\x07"),
    ("back\bspace form\ffeed carriage\rreturn c1\x9b", "back\\x08space form\\x0cfeed carriage\\x0dreturn c1\\x9b"),
    ("lines\nand\ttabs stay, as does caf\u00e9 and \\b", "lines\nand\ttabs stay, as does caf\u00e9 and \\b"),
])
def test_control_characters_an_older_version_stored_are_read_as_escapes(tmp_path: Path, stored: str,
                                                                           read: str) -> None:
    """Records written before messages were cleaned hold terminal escapes as a framework printed them:
    read back, they are shown as text, so 'portability cases' never passes one to the terminal."""
    lines = (V2 / "cases.jsonl").read_text().splitlines()
    first = json.loads(lines[0])
    first.update(message=stored, warnings=[stored])
    run = tmp_path / "run"
    shutil.copytree(V2, run)
    (run / "cases.jsonl").write_text("\n".join([json.dumps(first), *lines[1:]]) + "\n")
    (case, *_) = storage.read_run(run).cases
    assert case["message"] == read and case["warnings"] == [read]


def test_a_run_directory_without_run_json_is_read_as_an_interrupted_run(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    for name in ("a-lost-run", "empty", "other"):
        (runs / name).mkdir(parents=True)
    shutil.copy(V2 / "cases.jsonl", runs / "a-lost-run" / "cases.jsonl")
    (runs / "other" / "notes.txt").write_text("not a run")
    shutil.copytree(V1_A, runs / "v1")
    (runs / "v1-lost").mkdir()
    shutil.copy(V1_A / "cases.jsonl", runs / "v1-lost" / "cases.jsonl")
    assert storage.find_runs(tmp_path) == [runs / "a-lost-run", runs / "v1", runs / "v1-lost"]
    lost = storage.read_run(runs / "a-lost-run")
    assert lost.run_id == "a-lost-run" and lost.status == storage.INTERRUPTED
    assert lost.meta["schema"] == records.SCHEMA_VERSION and lost.meta["kind"] == records.KIND
    assert [c["device_only"] for c in lost.cases] == ["", "", ""]  # a schema-2 record, migrated
    assert lost.skipped_lines == 0
    (problem,) = lost.problems
    assert problem.startswith(f"{runs / 'a-lost-run' / 'run.json'}: missing: the run's options, machine and "
                              "framework versions are unknown")
    # records of schema 1 too: their key is made as their migration makes it
    v1_keys = [c["key"] for c in storage.read_run(V1_A).cases]
    assert [c["key"] for c in storage.read_run(runs / "v1-lost").cases] == v1_keys
    for name in ("empty", "other"):
        with pytest.raises(storage.RunFileError, match="not a run directory"):
            storage.read_run(runs / name)


def test_an_expectations_file_that_is_not_utf8_is_a_one_line_error_naming_it(tmp_path: Path) -> None:
    shutil.copy(DATA / "v1" / "expectations" / "torch-cpu.txt", tmp_path / "torch-cpu.txt")
    with (tmp_path / "torch-cpu.txt").open("ab") as f:
        f.write(b"torch.abs[float32-cpu]  # fail:dtype: caf\xe9\n")
    offset = (tmp_path / "torch-cpu.txt").read_bytes().index(b"\xe9")
    with pytest.raises(expectations.ExpectationsError) as err:
        expectations.read(tmp_path)
    assert str(err.value).startswith(f"{tmp_path / 'torch-cpu.txt'}: not UTF-8 text (byte 0xe9 at offset {offset})")
    assert "\n" not in str(err.value)
