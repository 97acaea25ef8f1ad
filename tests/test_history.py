"""``portability history`` and the report's History section, on small runs made from the real schema-4
run in tests/data (torch.linalg.cholesky eager and compiled, jax.numpy.linalg.eigh compiled) with their
framework versions, outcomes and timing samples edited. Samples are constants, so no verdict here
depends on the speed of the machine."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from portability.cli import main
from portability.results import history, report, storage

V4 = Path(__file__).resolve().parent / "data" / "v4" / "run"
EAGER32, EAGER16 = "torch.linalg.cholesky[float32-cpu]", "torch.linalg.cholesky[float16-cpu]"
Edit = Callable[[dict[str, Any]], "dict[str, Any] | list[dict[str, Any]] | None"]


def timed(record: dict[str, Any], seconds: float) -> dict[str, Any]:
    """The record passing with every sample ``seconds``: its time ratio against another is exact."""
    timing = {**(record.get("timing") or {}), "samples_s": [seconds] * 20, "median_s": seconds}
    return {**record, "outcome": "pass", "failure": None, "message": "", "timing": timing}


def make_run(root: Path, name: str, torch: str, started: str, edit: Edit | None = None,
             meta: dict[str, Any] | None = None) -> Path:
    """A copy of the v4 run under ``root/name`` with torch at ``torch``, started at ``started`` (its
    run id made from it), each case record passed through ``edit`` (None drops it, a list adds more)."""
    run = root / name
    shutil.copytree(V4, run)
    m = json.loads((V4 / "run.json").read_text())
    m["frameworks"]["torch"]["versions"]["torch"] = torch
    m.update(started=f"2026-12-{started}:00.000+00:00", run_id=f"202612{started}-vm-{name}",
             **(meta or {}))
    (run / "run.json").write_text(json.dumps(m))
    out = []
    for line in (V4 / "cases.jsonl").read_text().splitlines():
        got = (edit or (lambda r: r))(json.loads(line))
        out += got if isinstance(got, list) else [got] if got is not None else []
    (run / "cases.jsonl").write_text("".join(json.dumps(r) + "\n" for r in out))
    return run


def renamed(record: dict[str, Any], api: str) -> dict[str, Any]:
    return {**record, "api": api, "key": record["key"].replace(record["api"], api),
            "id": record["id"].replace(record["api"], api)}


def v29(r: dict[str, Any]) -> dict[str, Any]:
    """torch 2.9.0: cholesky passes in float16 too, float32 takes 1 ms."""
    if r["key"] == EAGER16:
        return {**timed(r, 2e-3)}
    return timed(r, 1e-3) if r["key"] == EAGER32 else r


def v213(r: dict[str, Any]) -> dict[str, Any] | list[dict[str, Any]]:
    """torch 2.13.0: float16 refused (the real run's fail:not_implemented), float32 1 ms; and a second API."""
    if r["key"] == EAGER32:
        return [timed(r, 1e-3), renamed(timed(r, 4e-3), "torch.linalg.cholesky_ex")]
    return r


def v214(r: dict[str, Any]) -> dict[str, Any] | list[dict[str, Any]]:
    """torch 2.14.1: float16 now a dtype failure, float32 5x slower, cholesky_ex gone from the API,
    and a new API."""
    if r["key"] == EAGER16:
        return {**r, "outcome": "fail:dtype", "failure": "dtype", "message": "RuntimeError: unsupported dtype"}
    if r["key"] == EAGER32:
        gone = {**renamed(r, "torch.linalg.cholesky_ex"), "outcome": "fail:missing", "failure": "missing",
                "message": "module 'torch.linalg' has no attribute 'cholesky_ex'", "timing": None}
        return [timed(r, 5e-3), gone, renamed(timed(r, 1e-3), "torch.linalg.inv_ex")]
    return r


@pytest.fixture
def three(tmp_path: Path) -> list[Path]:
    """Three torch versions (and the same jax in each), given out of release order."""
    return [make_run(tmp_path, "c", "2.14.1+cu128", "09T10:00", v214),
            make_run(tmp_path, "a", "2.9.0", "07T10:00", v29), make_run(tmp_path, "b", "2.13.0+cpu", "08T10:00", v213)]


def read(paths: list[Path]) -> list[storage.Run]:
    return [storage.read_run(p) for p in paths]


# -- release order ---------------------------------------------------------------------------------

@pytest.mark.parametrize(("older", "newer"), [
    ("2.9.0", "2.13.0"), ("2.13.0", "2.14.1+cu128"), ("2.9.0+cu128", "2.13.0+cpu"), ("0.4.8", "0.10.2"),
    ("2.20.0", "2.21.0"), ("0.4.36.dev20241122", "0.4.36"), ("2.14.0.dev20250101", "2.14.0a1"),
    ("2.14.0a1", "2.14.0b2"), ("2.14.0b2", "2.14.0rc1"), ("2.14.0rc1", "2.14.0"), ("2.14.0", "2.14.0.post1"),
    ("2.13", "2.13.1"), ("1.9", "1.10"), ("2.21.0", "unknown"),
])
def test_versions_sort_in_release_order(older: str, newer: str) -> None:
    assert history.version_key(older) < history.version_key(newer)
    assert sorted([newer, older], key=history.version_key) == [older, newer]


def test_a_local_build_suffix_does_not_order_and_trailing_zeros_do_not_count() -> None:
    release = lambda v: history.version_key(v)[:4]  # noqa: E731 -- all but the tie-break on the whole string
    assert release("2.13.0+cpu") == release("2.13.0+cu128") == release("2.13.0") == release("2.13")
    assert sorted(["2.13.0+cu128", "2.13.0+cpu"], key=history.version_key) == ["2.13.0+cpu", "2.13.0+cu128"]


# -- history ---------------------------------------------------------------------------------------

def test_cells_follow_the_versions_in_release_order_with_the_functions_verdicts(three: list[Path]) -> None:
    (jax, torch) = history.build(read(three))
    assert (jax.framework, jax.versions) == ("jax", ["0.10.2"])
    assert torch.versions == ["2.9.0", "2.13.0+cpu", "2.14.1+cu128"]
    row = torch.cells[("torch.linalg.cholesky", "cpu")]
    assert [row[v].text for v in torch.versions] == ["pass 1.5 ms", "partial(not_implemented) 1 ms",
                                                     "partial(dtype) 5 ms"]
    assert [c.side.run_id[-1] for c in row.values()] == ["a", "b", "c"]
    gone = torch.cells[("torch.linalg.cholesky_ex", "cpu")]
    assert {v: c.text for v, c in gone.items()} == {"2.13.0+cpu": "pass 4 ms", "2.14.1+cu128": "complete(missing)"}
    # the compiled target's cells come from the same runs, its verdict the summary's
    assert {c.verdict for c in torch.cells[("torch.linalg.cholesky", "cpu compiled")].values()} == {"slowdown"}


def test_changes_between_neighbours_name_verdicts_categories_times_and_apis(three: list[Path]) -> None:
    torch = history.build(read(three), ["torch"])[0]
    assert [c.text for c in torch.changes] == [
        "torch.linalg.cholesky [cpu] 2.9.0 -> 2.13.0+cpu: pass -> partial_failure; not_implemented appeared",
        "torch.linalg.cholesky_ex [cpu] 2.9.0 -> 2.13.0+cpu: added (not in the earlier version's run)",
        "torch.linalg.cholesky [cpu] 2.13.0+cpu -> 2.14.1+cu128: dtype appeared; not_implemented gone; "
        "5.00x slower (1 of 1 timed cases beyond 3x)",
        "torch.linalg.cholesky_ex [cpu] 2.13.0+cpu -> 2.14.1+cu128: pass -> complete_failure; missing appeared",
        "torch.linalg.inv_ex [cpu] 2.13.0+cpu -> 2.14.1+cu128: added (not in the earlier version's run)",
    ]
    assert torch.changed()[("torch.linalg.cholesky", "cpu")] == {"2.13.0+cpu", "2.14.1+cu128"}
    assert ("torch.linalg.cholesky", "cpu compiled") not in torch.changed()  # the same samples in every run
    assert torch.rows(changes_only=True) == [("torch.linalg.cholesky", "cpu"), ("torch.linalg.cholesky_ex", "cpu"),
                                             ("torch.linalg.inv_ex", "cpu")]


def test_a_time_ratio_within_the_noise_allowance_is_no_change(tmp_path: Path) -> None:
    """2x slower is within threshold x noise (1.5 x 2 = 3); with noise 1 it is beyond 1.5x."""
    runs = read([make_run(tmp_path, "a", "2.9.0", "07T10:00", lambda r: timed(r, 1e-3) if r["key"] == EAGER32 else r),
                 make_run(tmp_path, "b", "2.13.0", "08T10:00", lambda r: timed(r, 2e-3) if r["key"] == EAGER32 else r)])
    assert history.build(runs, ["torch"])[0].changes == []
    (change,) = history.build(runs, ["torch"], noise=1.0)[0].changes
    assert change.what == ("2.00x slower (1 of 1 timed cases beyond 1.5x)",)


def test_the_newest_run_of_a_version_is_shown_and_the_note_says_so(tmp_path: Path) -> None:
    runs = read([make_run(tmp_path, "old", "2.13.0+cpu", "07T10:00", v29),
                 make_run(tmp_path, "new", "2.13.0+cpu", "08T10:00"),
                 make_run(tmp_path, "base", "2.9.0", "01T10:00")])
    torch = history.build(runs, ["torch"])[0]
    assert torch.cells[("torch.linalg.cholesky", "cpu")]["2.13.0+cpu"].side.run_id.endswith("-new")
    assert "torch 2.13.0+cpu on cpu: 2 runs; the newest is shown, 20261208T10:00-vm-new " \
           "(not 20261207T10:00-vm-old)" in torch.notes


def test_times_of_runs_of_other_input_sizes_are_not_compared(tmp_path: Path) -> None:
    v4 = json.loads((V4 / "run.json").read_text())
    medium = {"options": {**v4["options"], "size": "medium"}}
    runs = read([make_run(tmp_path, "a", "2.9.0", "07T10:00", lambda r: timed(r, 1e-3) if r["key"] == EAGER32 else r),
                 make_run(tmp_path, "b", "2.13.0", "08T10:00", lambda r: timed(r, 9e-3) if r["key"] == EAGER32 else r,
                          medium)])
    torch = history.build(runs, ["torch"])[0]
    assert torch.changes == []
    assert "torch 2.9.0 -> 2.13.0 on cpu: timed under different conditions: size small vs medium; times not " \
           "compared" in torch.notes


def test_a_run_without_run_json_has_no_version_and_is_left_out_with_a_note(tmp_path: Path) -> None:
    run = make_run(tmp_path, "lost", "2.13.0", "08T10:00")
    (run / "run.json").unlink()
    notes: list[str] = []
    assert history.build(read([run]), notes=notes) == []
    assert notes == ["lost: no jax version recorded; left out", "lost: no torch version recorded; left out"]


# -- against runs: two environments in one run -------------------------------------------------------

def against_run(tmp_path: Path) -> Path:
    """A run of torch 2.13.0+cpu made against an environment with torch 2.12.0 (jax the same in both):
    each case record holds the other environment's result, or None where it has none."""
    other = {"python": "3.11.7", "frameworks": {"torch": {"versions": {"torch": "2.12.0"}},
                                                "jax": {"versions": {"jax": "0.10.2"}}}}

    def edit(r: dict[str, Any]) -> dict[str, Any]:
        if r["key"] == EAGER16:  # 2.12.0 passed in float16
            b = {"outcome": "pass", "failure": None, "message": "", "timing": timed(r, 1e-3)["timing"]}
        elif r["key"] == EAGER32:
            b = {"outcome": "pass", "failure": None, "message": "", "timing": r["timing"]}
        elif r["framework"] == "jax":
            b = {"outcome": "fail:numerical", "failure": "numerical", "message": "differs", "timing": None}
        else:
            b = None  # the compiled torch case: no result on the other side
        return {**r, "against": b}

    return make_run(tmp_path, "ab", "2.13.0+cpu", "08T10:00", edit, {"against": other})


def test_an_against_run_gives_one_side_per_environment(tmp_path: Path) -> None:
    run = storage.read_run(against_run(tmp_path))
    found = {(s.framework, s.version, s.against): s for s in history.sides([run])}
    assert sorted(found) == [("jax", "0.10.2", False), ("jax", "0.10.2", True),
                             ("torch", "2.12.0", True), ("torch", "2.13.0+cpu", False)]
    b = found[("torch", "2.12.0", True)]
    # side B: the other environment's results under the names of the run's own cases
    assert [(c["key"], c["outcome"]) for c in b.cases] == [(EAGER32, "pass"), (EAGER16, "pass")]
    assert b.label.endswith("(against)")


def test_the_history_of_an_against_run_compares_its_two_environments(tmp_path: Path) -> None:
    jax, torch = history.build(read([against_run(tmp_path)]))
    assert torch.versions == ["2.12.0", "2.13.0+cpu"]
    assert [c.text for c in torch.changes] == [
        "torch.linalg.cholesky [cpu] 2.12.0 -> 2.13.0+cpu: pass -> partial_failure; not_implemented appeared"]
    # the compiled case ran in this environment only: no neighbour to compare with
    assert list(torch.cells[("torch.linalg.cholesky", "cpu compiled")]) == ["2.13.0+cpu"]
    # jax is the same version on both sides: the run's own side is shown, and the note says which
    assert jax.versions == ["0.10.2"]
    assert jax.cells[("jax.numpy.linalg.eigh", "cpu compiled")]["0.10.2"].verdict == "pass"
    assert any("2 runs; the newest is shown" in n and "(against)" in n for n in jax.notes)


# -- the command -----------------------------------------------------------------------------------

def test_the_command_prints_versions_a_table_and_the_changes(
        three: list[Path], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["history", *map(str, three), "--framework", "torch", "--changes-only"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == ("torch: 3 versions in release order: 2.9.0 (20261207T10:00-vm-a), 2.13.0+cpu "
                      "(20261208T10:00-vm-b), 2.14.1+cu128 (20261209T10:00-vm-c)")
    assert out[1].split() == ["function", "target", "2.9.0", "2.13.0+cpu", "2.14.1+cu128"]
    rows = {line.split()[0]: line.split()[2:] for line in out[3:6]}
    assert rows["torch.linalg.cholesky"] == ["pass", "1.5", "ms", "*partial(not_implemented)", "1", "ms",
                                             "*partial(dtype)", "5", "ms"]
    assert rows["torch.linalg.cholesky_ex"] == ["-", "*pass", "4", "ms", "*complete(missing)"]
    assert out[6] == "5 changes between neighbouring versions (3 of 4 functions x targets; * marks a changed cell):"
    assert out[7] == ("  torch.linalg.cholesky [cpu] 2.9.0 -> 2.13.0+cpu: pass -> partial_failure; "
                      "not_implemented appeared")
    assert len(out) == 12


def test_the_command_without_changes_only_lists_every_function_and_one_version_says_so(
        three: list[Path], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["history", *map(str, three)]) == 0
    out = capsys.readouterr().out
    assert "jax: 1 version in release order: 0.10.2 (20261209T10:00-vm-c)\n" \
           "  note: jax 0.10.2 on cpu compiled: 3 runs; the newest is shown" in out
    assert "  history needs runs of two or more versions of jax\n" in out
    assert "torch.linalg.cholesky     cpu compiled  slowdown 58.9 µs" in out


def test_the_command_writes_json(three: list[Path], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["history", *map(str, three), "--framework", "torch", "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    (torch,) = data["frameworks"]
    assert [v["version"] for v in torch["versions"]] == ["2.9.0", "2.13.0+cpu", "2.14.1+cu128"]
    row = next(r for r in torch["rows"] if r["api"] == "torch.linalg.cholesky" and r["target"] == "cpu")
    assert row["cells"]["2.14.1+cu128"] == {"verdict": "partial_failure", "categories": ["dtype"], "median_s": 5e-3,
                                            "run": "20261209T10:00-vm-c", "changed": True}
    assert len(torch["changes"]) == 5 and (data["threshold"], data["noise"]) == (1.5, 2.0)


@pytest.mark.parametrize(("args", "error"), [
    (["--framework", "pytorch"], "portability: error: unknown framework 'pytorch'; valid: torch, jax, tensorflow"),
    (["--framework", "tensorflow"], "portability: error: framework 'tensorflow' is in none of these runs; they "
                                    "hold: jax, torch"),
    (["--slowdown-threshold", "fast"], "portability: error: "),
])
def test_bad_input_gets_one_line_naming_it(three: list[Path], args: list[str], error: str,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["history", *map(str, three), *args]) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and err[0].startswith(error)
    if "--slowdown-threshold" in args:
        assert "'fast'" in err[0]


def test_a_path_that_is_no_run_gets_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["history", str(tmp_path)]) == 2
    assert capsys.readouterr().err.splitlines() == [f"portability: error: {tmp_path}: not a run directory "
                                                    "(no run.json, no cases.jsonl)"]


# -- the report ------------------------------------------------------------------------------------

def test_the_report_shows_the_history_with_changed_cells_marked(three: list[Path]) -> None:
    html = report.render(read(three))
    section = html[html.index('<h2 id="history">'):html.index('<h2 id="functions">')]
    assert '<table class="plain history" id="history-torch">' in section
    assert ('<td class="v partial_failure changed" title="dtype appeared; not_implemented gone; 5.00x slower (1 of 1 '
            'timed cases beyond 3x)"><span class="mark">*</span>partial(dtype) 5 ms</td>') in section
    assert '<th title="20261208T10:00-vm-b">2.13.0+cpu</th>' in section
    assert "torch.linalg.cholesky_ex [cpu] 2.13.0+cpu -&gt; 2.14.1+cu128: pass -&gt; complete_failure" in section
    # the unchanged rows (the compiled target) fold away under their own table
    assert "1 function x targets without a change (those a target ran under one version only among them)" \
           "</summary>" in section
    assert 'id="history-torch-unchanged"' in section
    assert "One version only in these runs: jax 0.10.2." in section


def test_the_report_of_one_version_says_history_needs_two(tmp_path: Path) -> None:
    html = report.render(read([make_run(tmp_path, "a", "2.13.0+cpu", "08T10:00")]))
    section = html[html.index('<h2 id="history">'):html.index('<h2 id="functions">')]
    assert "<p>History needs runs of two or more versions of a framework: these runs hold one version each " \
           "(jax 0.10.2, torch 2.13.0+cpu).</p>" in section
    assert "<table" not in section


def test_the_two_sides_of_an_against_run_are_compared_by_the_changes_it_drew(tmp_path: Path) -> None:
    """Timed side by side, a 1.3x change is one (the run's 1.1x threshold, confirmed), where two
    separate runs would need 3x; the other environment holds the earlier release here, so B's
    "faster" reads as the later (this) release being slower."""
    other = {"python": "3.11.7", "frameworks": {"torch": {"versions": {"torch": "2.12.0"}}}}

    def edit(r: dict[str, Any]) -> dict[str, Any] | None:
        if r["framework"] != "torch" or r["key"] not in (EAGER32, EAGER16):
            return None
        a = timed(r, 1.3e-3)
        change = {"change": "faster", "detail": "0.77x", "ratio": 1 / 1.3, "ci_low": 0.75, "ci_high": 0.79,
                  "threshold": 1.1}
        return {**a, "against": {**a, "timing": timed(r, 1e-3)["timing"]}, "change": change}

    (torch,) = history.build(read([make_run(tmp_path, "ab", "2.13.0+cpu", "08T10:00", edit, {"against": other})]))
    assert torch.versions == ["2.12.0", "2.13.0+cpu"]
    assert [c.text for c in torch.changes] == [
        "torch.linalg.cholesky [cpu] 2.12.0 -> 2.13.0+cpu: 1.30x slower (2 of 2 cases beyond 1.1x, timed side by side)"]
