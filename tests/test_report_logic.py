"""The report's pure parts on hand-made case records: the cross-hardware view needs runs on two
accelerators, which no CI machine has (the page itself is tested on real runs in test_report.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from portability.results import report, storage
from portability.results.report import matrix


def case(api: str, backend: str, outcome: str = "pass", median: float = 1e-3, fw: str = "torch") -> dict[str, Any]:
    return {"key": f"{api}[float32-{backend}]", "id": f"kernels/{fw}/x.py::{api}[float32-{backend}]",
            "framework": fw, "api": api, "dtype": "float32",
            "backend": backend, "outcome": outcome, "timing": {"median_s": median}}


def run(run_id: str, cases: list[dict[str, Any]]) -> storage.Run:
    return storage.Run(Path(run_id), {"run_id": run_id, "status": "complete"}, cases, 0, [])


def test_cross_hardware_counts_failures_on_one_side_and_time_ratios() -> None:
    gpu = run("20261124T000000Z-gpu-aaaaaa", [
        case("torch.a", "gpu", median=1e-3), case("torch.b", "gpu", median=1e-3),
        case("torch.c", "gpu", median=1e-3), case("torch.d", "gpu", "fail:dtype"),
        case("torch.e", "gpu", median=2e-3)])
    tpu = run("20261124T000000Z-tpu-bbbbbb", [
        case("torch.a", "tpu", median=0.5e-3), case("torch.b", "tpu", median=20e-3),
        case("torch.c", "tpu", "fail:not_implemented"), case("torch.d", "tpu", "fail:dtype"),
        case("torch.e", "tpu", median=4e-3)])
    cols = [report.Column(r.run_id, b, r) for r, b in ((gpu, "gpu"), (tpu, "tpu"))]
    (row,) = report.cross_hardware(cols)
    assert row["framework"] == "torch" and row["functions"] == 5
    assert row["fail_on_one"] == 1  # torch.c; torch.d fails on both
    assert row["compared"] == 3 and row["faster"] == 1 and row["slower"] == 2 and row["slower_10x"] == 1
    assert row["median_ratio"] == 2.0  # ratios 0.5, 20, 2


def test_no_cross_hardware_view_with_one_accelerator_or_only_cpus() -> None:
    cpu = run("20261124T000000Z-cpu-cccccc", [case("torch.a", "cpu")])
    gpu = run("20261124T000000Z-gpu-dddddd", [case("torch.a", "gpu")])
    assert report.cross_hardware([report.Column(cpu.run_id, "cpu", cpu), report.Column(gpu.run_id, "gpu", gpu)]) == []


def test_paper_comparison_puts_our_rates_beside_the_papers() -> None:
    gpu = run("20261124T000000Z-gpu-eeeeee", [case("torch.a", "gpu"), case("torch.b", "gpu", "fail:dtype"),
                                              case("torch.b", "gpu"), case("torch.c", "gpu", "fail:oom")])
    rows = report.paper_comparison([gpu])
    ours = next(r for r in rows if r["source"] == "this run")
    assert (ours["functions"], ours["complete"], ours["partial"], ours["any"]) == (3, 1, 1, 2)
    paper = next(r for r in rows if r["source"] == "paper" and r["framework"] == "torch" and r["backend"] == "gpu")
    assert (paper["functions"], paper["any"]) == (64, 6)  # the study's T4 figures, from the carried data
    assert rows.index(paper) < rows.index(ours)


def _matrix_run(run_id: str = "20261206T000000Z-vm-ffffff", **meta: Any) -> storage.Run:
    cases = [case("torch.a", "cpu"), case("torch.a", "tpu-compile", "compiled"),
             case("torch.b", "cpu"), case("torch.b", "tpu-compile", "fail:not_implemented"),
             case("torch.c", "cpu", "fail:dtype"), case("torch.c", "tpu-compile", "fail:dtype"),
             case("torch.d", "cpu"), case("torch.d", "tpu-compile", "unavailable")]
    for c in cases:
        c["repro"] = f"pytest '{c['id']}' --backend={c['backend']} --size=small"
        c["category"] = "linalg" if c["api"] in ("torch.b", "torch.c") else "elementwise"
    cases[3].update(message="<img src=x onerror=alert(1)></script>", traceback="Traceback\nNotImplementedError: x")
    return storage.Run(Path(run_id), {"run_id": run_id, "status": "complete",
                                      "options": {"backends": ["cpu", "tpu-compile"]}, **meta}, cases, 0, [])


@pytest.mark.parametrize(("api", "cpu", "tpu"), [
    ("torch.a", "pass", "compiles"),
    ("torch.b", "pass", "port-complete"),  # fails on the target only: a portability failure
    ("torch.c", "lim-complete", "lim-complete"),  # fails on the reference too: a limitation
    ("torch.d", "pass", "unavailable"),
])
def test_matrix_cells_tell_portability_failures_from_limitations(api: str, cpu: str, tpu: str) -> None:
    m = matrix.build([_matrix_run()])
    (fw,) = m["frameworks"]
    assert [c["target"] for c in fw["columns"]] == ["cpu", "tpu-compile"]
    assert [c["reference"] for c in fw["columns"]] == [None, "cpu"]
    row = next(r for r in fw["rows"] if r["api"] == api)
    assert [m["classes"][cls] for cls, _, _ in row["cells"]] == [cpu, tpu]


def test_matrix_cells_hold_their_cases_and_rebuild_each_repro() -> None:
    run = _matrix_run()
    m = matrix.build([run])
    (fw,) = m["frameworks"]
    strings = m["strings"]
    seen = []
    for row in fw["rows"]:
        for cls, first, n in row["cells"]:
            assert cls >= 0 and n == 1
            k = m["cases"][first]
            key = row["api"] + strings[k[0]]
            seen.append(key)
            record = next(c for c in run.cases if c["key"] == key)
            assert strings[k[1]] == record["outcome"]
            repro = strings[k[2]].replace(m["id_mark"], strings[row["file"]] + key)
            assert repro == record["repro"]
    assert sorted(seen) == sorted(c["key"] for c in run.cases)
    b = next(m["cases"][first] for r in fw["rows"] if r["api"] == "torch.b" for _, first, _ in r["cells"][1:])
    assert strings[b[3]] == "<img src=x onerror=alert(1)></script>\nTraceback\nNotImplementedError: x"
    assert fw["counts"] == [{"pass": 3, "lim-complete": 1},
                            {"compiles": 1, "port-complete": 1, "lim-complete": 1, "unavailable": 1}]


def test_matrix_rows_are_grouped_by_category_and_runs_without_versions_are_kept() -> None:
    m = matrix.build([_matrix_run()])  # its run.json has no framework versions (lost, or hand-made)
    (fw,) = m["frameworks"]
    assert [(r["category"], r["api"]) for r in fw["rows"]] == [
        ("elementwise", "torch.a"), ("elementwise", "torch.d"), ("linalg", "torch.b"), ("linalg", "torch.c")]
    assert fw["columns"][0]["version"] == "version unknown"


@pytest.mark.parametrize(("cases", "sentence"), [
    ([case("jax.a", "cpu", fw="jax"), case("jax.a", "tpu-compile", "fail:dtype", fw="jax"),
      case("jax.b", "cpu", fw="jax"), case("jax.b", "tpu-compile", "compiled", fw="jax"),
      case("jax.c", "cpu", "fail:dtype", fw="jax"), case("jax.c", "tpu-compile", "fail:dtype", fw="jax")],
     "JAX 0.10.2: 1 of 3 functions fail only on tpu-compile (not on cpu), mostly dtype (jax.a)."),
    ([case("jax.a", "cpu", fw="jax"), case("jax.a", "tpu-compile", "compiled", fw="jax")],
     "JAX 0.10.2: no function fails only on tpu-compile."),
    ([case("jax.a", "cpu", fw="jax"), {**case("jax.a", "tpu-compile", "unavailable", fw="jax"),
                                        "message": "cannot see tpu-compile: libtpu is not installed"}],
     "JAX 0.10.2: tpu-compile cannot be asked (cannot see tpu-compile: libtpu is not installed)."),
    ([case("jax.a", "cpu", fw="jax"), case("jax.b", "cpu", "fail:missing", fw="jax")],
     "JAX 0.10.2: 1 of 2 functions fail on cpu in some case; no second target to compare with."),
], ids=["portability", "none", "unavailable", "one target"])
def test_each_frameworks_sentence_is_drawn_from_its_cases(cases: list[dict[str, Any]], sentence: str) -> None:
    backends = sorted({c["backend"] for c in cases}, key=lambda b: b != "cpu")
    r = storage.Run(Path("r"), {"run_id": "20261206T000000Z-vm-ffffff", "status": "complete",
                                "options": {"backends": backends},
                                "frameworks": {"jax": {"versions": {"jax": "0.10.2"}}}}, cases, 0, [])
    (fw,) = matrix.build([r])["frameworks"]
    assert fw["sentence"] == sentence


def test_runs_that_say_the_same_are_said_once() -> None:
    cases = [case("jax.a", "cpu", fw="jax"), case("jax.a", "tpu-compile", "fail:dtype", fw="jax"),
             case("jax.b", "cpu", fw="jax"), case("jax.b", "tpu-compile", "compiled", fw="jax"),
             case("jax.b", "xla-cpu", fw="jax")]
    runs = [storage.Run(Path(i), {"run_id": f"20261206T00000{i}Z-vm-ffffff", "status": "complete",
                                  "options": {"backends": ["cpu", "tpu-compile", "xla-cpu"]},
                                  "frameworks": {"jax": {"versions": {"jax": "0.10.2"}}}}, cases, 0, [])
            for i in "12"]
    (fw,) = matrix.build(runs)["frameworks"]
    assert len(fw["columns"]) == 6
    assert fw["sentence"] == ("JAX 0.10.2: 1 of 2 functions fail only on tpu-compile (not on cpu), mostly dtype "
                              "(jax.a) (in 2 runs); no function fails only on xla-cpu.")


def test_an_against_run_gives_a_column_per_environment_and_its_changes_in_the_sentence() -> None:
    a = case("torch.a", "cpu")
    a.update(repro="pytest 'kernels/torch/x.py::torch.a[float32-cpu]'", against={"outcome": "fail:dtype"},
             change={"change": "failure introduced", "detail": "pass -> fail:dtype"})
    r = storage.Run(Path("r"), {"run_id": "20261206T000000Z-vm-ffffff", "status": "complete",
                                "frameworks": {"torch": {"versions": {"torch": "2.13.0"}}},
                                "against": {"python": "/b/python",
                                            "frameworks": {"torch": {"versions": {"torch": "2.14.1"}}}}},
                    [a], 0, [])
    m = matrix.build([r])
    (fw,) = m["frameworks"]
    assert [(c["version"], c["run"].endswith("(against)")) for c in fw["columns"]] == [
        ("2.13.0", False), ("2.14.1", True)]
    (row,) = fw["rows"]
    assert [m["classes"][c[0]] for c in row["cells"]] == ["pass", "lim-complete"]
    b = m["cases"][row["cells"][1][1]]
    assert m["strings"][b[2]].endswith(" --against /b/python")
    assert "failure introduced" in m["strings"][b[10]]
    assert fw["sentence"] == "PyTorch 2.13.0 / 2.14.1: 2.14.1 against 2.13.0, side by side: 1 failure introduced."


def test_the_page_embeds_the_matrix_so_no_run_text_closes_its_script(tmp_path: Path) -> None:
    html = report.render([_matrix_run()])
    data = html[html.index('<script type="application/json" id="matrix-data">'):]
    data = data[:data.index("</script>")]
    assert "<img" not in data and "\\u003cimg src=x" in data


def test_a_compile_only_column_sits_beside_the_studys_tpu_and_is_never_a_tpu_run() -> None:
    cases = [case("torch.a", "cpu"), case("torch.a", "tpu-compile", "compiled"),
             case("torch.b", "cpu"), case("torch.b", "tpu-compile", "fail:not_implemented"),
             case("torch.c", "cpu", "fail:dtype"), case("torch.c", "tpu-compile", "fail:dtype")]
    both = storage.Run(Path("r"), {"run_id": "20261206T000000Z-vm-ffffff", "status": "complete",
                                   "options": {"backends": ["cpu", "tpu-compile"]},
                                   "compile_targets": {"tpu-compile": {"torch": {"chip": "TPU v5 lite",
                                                                                  "topology": "v5e:1x1"}}}},
                       cases, 0, [])
    rows = report.paper_comparison([both])
    ours = next(r for r in rows if r["source"] == "this run" and r["backend"] == "tpu-compile")
    assert ours["where"].startswith("tpu-compile (TPU v5 lite v5e:1x1, compiled, not run)")
    paper_tpu = next(r for r in rows if r["source"] == "paper" and r["framework"] == "torch" and r["backend"] == "tpu")
    assert rows.index(ours) == rows.index(paper_tpu) + 1  # right below the study's TPU row
    (port,) = report.portability_rows([both])
    assert (port["reference"], port["target"], port["compared"], port["portability"], port["both"]) == (
        "cpu", "tpu-compile", 3, 1, 1)
    assert port["examples"] == "torch.b" and port["both_examples"] == "torch.c"
    # no cross-hardware timing view for a column that never ran
    cols = [report.Column(both.run_id, b, both) for b in ("cpu", "tpu-compile")]
    assert report.cross_hardware(cols) == []


def test_one_unreadable_run_does_not_stop_the_report_of_the_others(tmp_path: Path) -> None:
    """A run of a newer schema in the results folder: the folder's report leaves it out with one line;
    a run named on the command line must be read, so there it is the error."""
    import json
    import shutil
    import subprocess
    import sys

    good = Path(__file__).parent / "data" / "v2" / "run"
    shutil.copytree(good, tmp_path / "runs" / "good")
    shutil.copytree(good, tmp_path / "runs" / "newer")
    meta = json.loads((tmp_path / "runs" / "newer" / "run.json").read_text())
    (tmp_path / "runs" / "newer" / "run.json").write_text(json.dumps({**meta, "schema": 99}))
    cli = [sys.executable, "-m", "portability.cli", "report", "-o", str(tmp_path / "index.html")]
    folder = subprocess.run([*cli, "--results-dir", str(tmp_path)], capture_output=True, text=True, timeout=300)
    assert folder.returncode == 0, folder.stderr
    assert folder.stdout.startswith(f"wrote {tmp_path / 'index.html'} (") and folder.stdout.rstrip().endswith(
        "1 runs)")
    (line,) = folder.stderr.strip().splitlines()
    assert line.startswith(f"left out {tmp_path / 'runs' / 'newer' / 'run.json'}") and "newer than" in line
    named = subprocess.run([*cli, str(tmp_path / "runs" / "newer")], capture_output=True, text=True, timeout=300)
    assert named.returncode == 2 and "newer than this version reads" in named.stderr
