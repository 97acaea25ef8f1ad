"""The report's pure parts on hand-made case records: the cross-hardware view needs runs on two
accelerators, which no CI machine has (the page itself is tested on real runs in test_report.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from portability.results import report, storage


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


def test_case_details_escape_framework_text() -> None:
    c = case("torch.a", "cpu", "fail:error")
    c.update(message="<img src=x onerror=alert(1)>", traceback="Traceback\n<script>x()</script>", repro="pytest 'a'")
    html = report.case_details([c])
    assert "<img" not in html and "<script>" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html and "&lt;script&gt;x()&lt;/script&gt;" in html


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
