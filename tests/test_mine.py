"""``portability mine`` and ``portability sample`` on a small fixture corpus (tests/fixtures/corpus)."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from portability.cli import main
from portability.usage import mine, sample, tables

CORPUS = Path(__file__).parent / "fixtures" / "corpus"


def counts(framework: str, introspect: bool = False) -> dict[str, int]:
    table = mine.mine([CORPUS], framework, "fixture", introspect=introspect)
    return {row["api"]: row["calls"] for row in table["apis"]}


def test_aliases_and_nested_attributes_resolve_to_qualified_names() -> None:
    torch = counts("torch")
    assert torch["torch.nn.functional.relu"] == 1  # import torch.nn.functional as F
    assert torch["torch.linalg.svd"] == 1  # nested attribute
    assert torch["torch.nn.Linear"] == 2  # from torch.nn import Linear as Dense; nn.Linear(...)
    assert torch["torch.nn.Conv2d"] == 1  # from torch import nn
    assert counts("jax") == {"jax.numpy.sum": 1}
    tf = counts("tensorflow")
    assert tf["tf.compat.v1.placeholder"] == 1  # import tensorflow.compat.v1 as tf
    assert tf["tf.cast"] == 1  # tensorflow.compat.v2 is the TF2 API under its TF2 names
    assert tf["tf.reshape"] == 1
    assert tf["tf.function"] == 1  # a decorator is a call


def test_methods_count_under_their_class_only_where_the_receiver_is_known() -> None:
    table = mine.mine([CORPUS], "torch", "fixture", introspect=False)
    apis = {row["api"]: row["calls"] for row in table["apis"]}
    assert apis["torch.Tensor.view"] == 1  # t = torch.zeros(...); t.view(...)
    assert apis["torch.Tensor.sum"] == 1  # a method on a method's result
    assert apis["torch.nn.Linear.reset_parameters"] == 1  # self.proj = nn.Linear(...)
    assert apis["torch.jit.script"] == 1 and apis["torch.no_grad"] == 1
    bucket = {row["api"]: row["calls"] for row in table["method_bucket"]}
    assert bucket["<method>.append"] == 1 and bucket["<method>.mystery"] == 1
    assert not any(api.endswith((".append", ".mystery")) for api in apis)  # never guessed into an API


def test_builtins_private_names_and_other_libraries_are_not_framework_calls() -> None:
    table = mine.mine([CORPUS], "torch", "fixture", introspect=False)
    apis = {row["api"] for row in table["apis"]}
    assert not {"print", "range", "len"} & apis
    assert table["calls"]["builtins_skipped"] == 4  # print, super, range, len in the two torch files
    tf = mine.mine([CORPUS], "tensorflow", "fixture", introspect=False)
    assert tf["calls"]["private_skipped"] == 1  # tensorflow._api.v2.math.abs
    assert not any("keras" in row["api"] or "_api" in row["api"] for row in tf["apis"])


def test_a_file_that_does_not_parse_is_counted_and_skipped() -> None:
    table = mine.mine([CORPUS], "torch", "fixture", introspect=False)
    assert table["files"] == {"files_seen": 5, "files_parsed": 2, "files_without_framework": 2, "files_skipped": 1}
    (skipped,) = table["skipped_files"]
    assert skipped["file"].endswith("broken.py") and skipped["reason"].startswith("SyntaxError")


def test_introspection_checks_names_against_the_installed_framework() -> None:
    pytest.importorskip("torch")
    table = mine.mine([CORPUS], "torch", "fixture", introspect=True)
    rows = {row["api"]: row for row in table["apis"]}
    assert rows["torch.linalg.svd"]["exists"] is True
    assert table["framework_version"]


def test_deciles_split_ranks_into_ten_groups_most_called_last() -> None:
    calls = Counter({f"api{i}": i for i in range(1, 101)})
    dec = mine.deciles(calls)
    assert Counter(dec.values()) == {d: 10 for d in range(10, 101, 10)}
    assert dec["api100"] == 100 and dec["api1"] == 10


def _table(n: int = 200) -> dict:
    calls = Counter({f"torch.f{i}": i for i in range(1, n + 1)})
    dec = mine.deciles(calls)
    rows = [{"rank": r, "api": a, "calls": calls[a], "files": 1, "decile": dec[a], "exists": a != "torch.f150"}
            for r, a in enumerate(sorted(calls, key=lambda a: -calls[a]), start=1)]
    return {"framework": "torch", "framework_version": "x", "apis": rows}


def test_sample_takes_the_top_then_per_decile_and_is_reproducible() -> None:
    a = sample.draw(_table(), seed=7, per_decile=3, top=5)
    b = sample.draw(_table(), seed=7, per_decile=3, top=5)
    c = sample.draw(_table(), seed=8, per_decile=3, top=5)
    assert a == b and a["functions"] != c["functions"]
    names = [f["api"] for f in a["functions"]]
    assert names[:5] == ["torch.f200", "torch.f199", "torch.f198", "torch.f197", "torch.f196"]
    per = Counter(f["drawn"] for f in a["functions"])
    assert per == {"top": 5, **{f"decile {d}": 3 for d in range(10, 101, 10)}}
    assert "torch.f150" not in names and a["excluded_missing"] == 1  # missing APIs are not eligible


def test_an_excluded_pick_is_replaced_by_the_next_draw_and_recorded() -> None:
    first = sample.draw(_table(), seed=7, per_decile=3, top=5)
    victim = next(f["api"] for f in first["functions"] if f["drawn"] == "decile 30")
    again = sample.draw(_table(), seed=7, per_decile=3, top=5, exclude={victim: "needs the network"})
    assert victim not in [f["api"] for f in again["functions"]]
    assert Counter(f["drawn"] for f in again["functions"])["decile 30"] == 3
    assert again["excluded"] == [{"api": victim, "drawn": "decile 30", "reason": "needs the network"}]


def test_mine_and_sample_commands_write_table_and_seeded_sample(tmp_path: Path, capsys) -> None:
    assert main(["mine", str(CORPUS), "--framework", "torch", "--no-import", "-o", str(tmp_path / "freq")]) == 0
    out = capsys.readouterr().out
    assert "2 files mined, 2 without torch, 1 skipped (do not parse) of 5" in out
    assert (tmp_path / "freq.csv").read_text().splitlines()[0] == "rank,api,calls,files,decile,exists"
    table = json.loads((tmp_path / "freq.json").read_text())
    assert table["corpus"]["description"] == "" and table["kind"] == "portability-frequency"
    assert main(["sample", "--framework", "torch", "--seed", "3", "--per-decile", "1", "--top", "2",
                 "--table", str(tmp_path / "freq.json"), "-o", str(tmp_path / "s.json")]) == 0
    drawn = json.loads((tmp_path / "s.json").read_text())
    assert drawn["seed"] == 3 and len(drawn["table"]["sha256"]) == 64
    assert drawn["functions"][0]["drawn"] == "top"


def test_bad_input_gets_one_line_errors(tmp_path: Path, capsys) -> None:
    assert main(["mine", str(tmp_path / "nope"), "--framework", "torch"]) == 2
    assert "corpus path" in capsys.readouterr().err
    (tmp_path / "t.json").write_text('{"kind": "something-else"}')
    assert main(["sample", "--framework", "torch", "--seed", "1", "--table", str(tmp_path / "t.json")]) == 2
    assert "not a portability frequency table" in capsys.readouterr().err
    (tmp_path / "x.txt").write_text("torch.f1\n")
    table = mine.mine([CORPUS], "torch", introspect=False)
    tables.write_table(table, tmp_path / "f")
    assert main(["sample", "--framework", "torch", "--seed", "1", "--table", str(tmp_path / "f.json"),
                 "--exclude", str(tmp_path / "x.txt"), "-o", str(tmp_path / "s.json")]) == 2
    assert "gives no reason" in capsys.readouterr().err
