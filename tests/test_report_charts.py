"""The report's charts: the numbers each chart draws (``report.figures``), checked as tables on hand-made
and golden runs, and the SVG each chart makes of them (``report.charts``): its labels, the study's rows
from ``paper_figures.json``, its size on the committed example runs."""

from __future__ import annotations

import html
import re
from pathlib import Path
from typing import Any

import pytest

from portability.results import storage
from portability.results.report import charts, figures
from portability.results.report.data import paper_figures, short_id

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = Path(__file__).resolve().parent / "data"


def case(api: str, backend: str, outcome: str = "pass", *, dtype: str = "float32", fw: str = "torch",
         mode: str = "eager", ratio: float | None = None, reference: str = "host cpu") -> dict[str, Any]:
    suffix = f"{backend}-{mode}" if mode != "eager" else backend
    return {"key": f"{api}[{dtype}-{suffix}]", "id": f"kernels/{fw}/x.py::{api}[{dtype}-{suffix}]",
            "framework": fw, "api": api, "dtype": dtype, "variant": "default", "backend": backend, "mode": mode,
            "outcome": outcome, "timing": {"median_s": 1e-3},
            "ratio": {"ratio": ratio, "reference": reference} if ratio is not None else None}


def run(run_id: str, cases: list[dict[str, Any]], backends: list[str] | None = None) -> storage.Run:
    meta: dict[str, Any] = {"run_id": run_id, "status": "complete", "options": {"backends": backends or ["cpu"]}}
    return storage.Run(Path(run_id), meta, cases, 0, [])  # type: ignore[arg-type]


def texts(svg: str) -> str:
    """The SVG's text elements, unescaped and joined: what a reader sees written."""
    return " | ".join(html.unescape(t) for t in re.findall(r"<text[^>]*>([^<]*)</text>", svg))


GPU_RUN = run("20261124T000000Z-gpu-aaaaaa", [
    case("torch.a", "cpu"), case("torch.a", "gpu"),
    case("torch.b", "gpu", "fail:dtype", dtype="float16"), case("torch.b", "gpu"),
    case("torch.c", "gpu", "fail:oom"), case("torch.c", "gpu", "fail:dtype", dtype="float16"),
    case("torch.d", "gpu", "fail:dtype"), case("torch.d", "gpu", "fail:dtype", dtype="float16"),
    case("torch.e", "gpu", "unavailable"),
], ["cpu", "gpu"])


def test_category_shares_count_each_function_once_per_category_over_the_assessed() -> None:
    rows = figures.category_shares([GPU_RUN])
    ours = next(r for r in rows if r.source == figures.OURS and r.target == "gpu")
    # torch.e never ran: not assessed; torch.c fails with two categories and counts in both
    assert (ours.assessed, ours.failing) == (4, 3)
    assert dict(ours.counts) == {"dtype": 3, "oom": 1}
    assert ours.share("dtype") == 3 / 4 and ours.share("oom") == 1 / 4 and ours.share("numerical") == 0
    cpu = next(r for r in rows if r.target == "cpu")
    assert (cpu.assessed, cpu.failing, dict(cpu.counts)) == (1, 0, {})


def test_the_studys_categories_sit_right_before_ours_of_the_same_device_kind() -> None:
    rows = figures.category_shares([GPU_RUN])
    assert [(r.source, r.target) for r in rows] == [("ours", "cpu"), ("study", "gpu"), ("ours", "gpu")]
    study = rows[1]
    assert study.label == "study: torch / GPU (T4)"
    # the study's T4 figures for PyTorch, its names mapped onto ours, its 64 functions the denominator
    assert dict(study.counts) == {"not_implemented": 1, "dtype": 1, "oom": 1}
    assert (study.assessed, study.failing) == (64, 6)


def test_every_study_category_row_comes_from_paper_figures() -> None:
    figs = paper_figures()
    by = {(s.framework, s.target): s for s in figures.study_shares()}
    assert len(by) == len(figs["failure_categories"])
    for row in figs["failure_categories"]:
        ours = by[(row["framework"], row["backend"])]
        assert ours.counts.get("not_implemented", 0) == row["Not Implemented"]
        assert ours.counts.get("dtype", 0) == row["Type Failure"]
        assert ours.counts.get("numerical", 0) == row["Float Precision Error"]
        assert ours.counts.get("oom", 0) == row["Memory Issue"]
        assert ours.counts.get("timeout", 0) == row["Timeout"]
    # the study gives no JAX TPU failure rate: its JAX sample size, and no "any failure" count
    assert (by[("jax", "tpu")].assessed, by[("jax", "tpu")].failing) == (64, None)


def test_device_kinds_a_target_is_set_beside() -> None:
    assert figures.device_kind("tpu-compile") == "tpu"  # compiles for a TPU, shown as never run
    assert figures.device_kind("gpu compiled") == "gpu"
    assert figures.device_kind("xla-cpu") is None  # the host CPU through torch_xla: not a TPU
    assert figures.device_kind("cpu") is None


def test_labels_name_the_run_only_where_there_are_several() -> None:
    other = run("20261125T101500Z-gpu-bbbbbb", GPU_RUN.cases, ["cpu", "gpu"])
    one = [r.label for r in figures.category_shares([GPU_RUN])]
    two = [r.label for r in figures.category_shares([GPU_RUN, other])]
    assert "torch / gpu" in one
    assert f"torch / gpu · {short_id(GPU_RUN.run_id)}" in two and f"torch / gpu · {short_id(other.run_id)}" in two
    assert two.count("study: torch / GPU (T4)") == 1


def test_quantiles_interpolate_as_numpy_does() -> None:
    assert figures.quantile([1.0, 2.0, 3.0, 4.0], 25) == 1.75
    assert figures.quantile([1.0, 2.0, 3.0, 4.0], 50) == 2.5
    assert figures.quantile([5.0], 95) == 5.0
    with pytest.raises(ValueError):
        figures.quantile([], 50)


def test_ratio_distributions_group_by_framework_target_and_reference() -> None:
    cases = [case(f"torch.f{i}", "gpu", ratio=r) for i, r in enumerate((0.5, 2.0, 4.0, 20.0, 40.0))]
    cases += [case("torch.g", "gpu", "slowdown", mode="compiled", ratio=3.0, reference="eager call"),
              case("torch.h", "gpu", ratio=None), case("jax.x", "gpu", fw="jax", ratio=0.0)]
    (host, comp) = figures.ratio_distributions([run("20261124T000000Z-gpu-cccccc", cases)])
    assert (host.label, host.n, host.median, host.slower_10x, host.faster) == (
        "torch / gpu vs host cpu", 5, 4.0, 2, 1)
    box = host.box()
    assert (box["q1"], box["q3"], box["fliers"]) == (2.0, 20.0, [])
    assert (comp.target, comp.reference, comp.ratios) == ("gpu compiled", "eager call", (3.0,))


def test_ratio_chart_draws_boxes_without_a_point_per_case() -> None:
    cases = [case(f"torch.f{i}", "gpu", ratio=1.05 ** i) for i in range(400)]  # long tails: 1x to 3e8x
    svg = charts.ratio_chart([run("20261124T000000Z-gpu-dddddd", cases)])
    assert svg is not None and svg.startswith("<svg") and "<?xml" not in svg
    words = texts(svg)
    assert "torch / gpu vs host cpu" in words and "10x slower" in words and "n=400" in words
    assert svg.count("<use") < 40  # no flier marker per case
    assert charts.ratio_chart([GPU_RUN]) is None  # nothing timed


def test_charts_are_deterministic() -> None:
    assert charts.category_share_chart([GPU_RUN]) == charts.category_share_chart([GPU_RUN])


def test_category_share_chart_labels_ours_and_the_studys_rows() -> None:
    svg = charts.category_share_chart([GPU_RUN])
    assert svg is not None
    words = texts(svg)
    assert "torch / gpu" in words and "study: torch / GPU (T4)" in words
    assert "3 of 4 functions fail (75%)" in words and "study: 6 of 64 functions fail" in words
    assert "Not Implemented = not_implemented" in words  # the mapping is said on the chart
    passing = run("20261124T000000Z-cpu-eeeeee", [case("torch.a", "cpu")])
    assert charts.category_share_chart([passing]) is None


def test_modes_chart_is_none_without_compiled_cases() -> None:
    assert charts.modes_chart([GPU_RUN]) is None
    assert figures.mode_shares([GPU_RUN]) == []


def test_mode_shares_on_the_golden_run_with_compiled_cases() -> None:
    golden = storage.read_run(GOLDEN / "v4" / "run")
    (row,) = figures.mode_shares([golden])  # jax has no eager case there to compare with
    assert (row.framework, row.target, row.compared, row.compiled_only, row.both) == ("torch", "cpu compiled", 1, 0, 0)
    assert row.ratios is not None and row.ratios.reference == "eager call" and row.ratios.n == 1
    svg = charts.modes_chart([golden])
    assert svg is not None and "torch / cpu compiled" in texts(svg)


def test_mode_shares_count_compiled_only_and_both_ways_apart() -> None:
    cases = [case("torch.a", "cpu"), case("torch.a", "cpu", "fail:error", mode="compiled"),
             case("torch.b", "cpu", "fail:dtype"), case("torch.b", "cpu", "fail:dtype", mode="compiled"),
             case("torch.c", "cpu"), case("torch.c", "cpu", mode="compiled", ratio=0.5, reference="eager call")]
    (row,) = figures.mode_shares([run("20261124T000000Z-cpu-ffffff", cases)])
    assert (row.compared, row.compiled_only, row.both) == (3, 1, 1)
    assert row.compiled_only_share == 1 / 3 and row.ratios is not None and row.ratios.ratios == (0.5,)


COMPILE_RUN = run("20261206T000000Z-vm-ababab", [
    case("torch.a", "cpu"), case("torch.a", "tpu-compile", "compiled"),
    case("torch.b", "cpu"), case("torch.b", "tpu-compile", "fail:not_implemented"),
    case("torch.c", "cpu"), case("torch.c", "tpu-compile", "fail:dtype", dtype="float64"),
    case("torch.c", "tpu-compile", "compiled"),
], ["cpu", "tpu-compile"])


def test_failure_rates_put_a_compile_only_target_beside_the_studys_tpu() -> None:
    rows = figures.failure_rates([COMPILE_RUN])
    assert {r.framework for r in rows} == {"torch"}  # only the frameworks of our runs
    labels = [r.label for r in rows]
    ours = next(r for r in rows if r.target == "tpu-compile")
    assert ours.label == "torch / tpu-compile (compiled, not run)"
    assert labels.index(ours.label) == labels.index("study: torch / TPU") + 1
    assert (ours.functions, ours.complete, ours.partial) == (3, 1, 1)
    study = next(r for r in rows if r.label == "study: torch / TPU")
    fig = next(f for f in paper_figures()["failure_rates"] if f["framework"] == "torch" and f["backend"] == "tpu")
    assert (study.functions, study.complete, study.partial) == (fig["functions"], fig["complete"], fig["partial"])
    assert study.complete_pct == 100 * 14 / 64


def test_paper_chart_labels_the_studys_devices_and_ours() -> None:
    svg = charts.paper_chart([COMPILE_RUN])
    assert svg is not None
    words = texts(svg)
    for label in ("study: torch / GPU (T4)", "study: torch / TPU", "torch / tpu-compile (compiled, not run)",
                  "torch / cpu", "14 complete + 18 partial of 64 (50%)"):
        assert label in words
    assert charts.paper_chart([]) is None


def test_paper_latency_chart_sets_the_studys_medians_beside_our_ratios() -> None:
    cases = [case(f"jax.f{i}", "gpu", fw="jax", ratio=r) for i, r in enumerate((0.2, 0.4, 1.5))]
    svg = charts.paper_latency_chart([run("20261124T000000Z-gpu-acacac", cases)])
    assert svg is not None
    words = texts(svg)
    assert "study: jax / TPU vs GPU (T4)" in words and "jax / gpu vs host cpu" in words
    assert "median 0.31x of 57 functions, 0 >10x slower, 54 faster" in words  # paper_figures.json
    assert "study: torch" not in words  # no torch in our runs
    assert charts.paper_latency_chart([COMPILE_RUN]) is None


def test_charts_of_the_example_runs_stay_small() -> None:
    paths = sorted((ROOT / "reports" / "examples").glob("*/runs/*"))
    if not paths:
        pytest.skip("no example runs in this checkout")
    runs = [storage.read_run(p) for p in paths]
    drawn = {f.__name__: f(runs) for f in (charts.category_share_chart, charts.ratio_chart, charts.modes_chart,
                                           charts.paper_chart, charts.paper_latency_chart)}
    # the modes example ran every case compiled too
    assert drawn["modes_chart"] is not None and "torch / cpu compiled" in texts(drawn["modes_chart"])
    for name, svg in drawn.items():
        assert svg is None or len(svg) < 300_000, name
    assert drawn["paper_chart"] is not None and "jax / tpu-compile (compiled, not run)" in texts(drawn["paper_chart"])
