"""The HTML report, compare, expectations and export, on real runs made by the suite.

Two real runs of a small catalog (torch and JAX FFTs, a kernel whose error message holds
``<script>`` and one that fails only under torch.compile):
A sweeps float32 and float16, B only float32 (a different catalog of cases). The
page is opened in headless Chromium (Debian's /usr/bin/chromium, which .ci/run installs), driven
by Playwright, with every request that is not a local file recorded.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import portability
from portability.cli import main
from portability.results import storage, summary
from portability.runner.backends import installed

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")
XSS = "<script>window.__xss = 1</script> refused <b>this</b>"

HOSTILE_KERNEL = f'''
from portability.catalog import Kernel, normal


def _refuse(c, x):
    raise ValueError({XSS!r})


def _eager_only(c, x):
    import torch

    if torch.compiler.is_compiling():  # a function that ports to every backend but not to torch.compile
        raise RuntimeError("refused when compiled")
    return c.fn(x)


KERNELS = [Kernel("torch.sin", "elementwise", normal(8), call=_refuse, dtypes=("float32", "float16")),
           Kernel("torch.cos", "elementwise", normal(8), call=_eager_only, dtypes=("float32",))]
'''


def _run(cwd: Path, results: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], storage.Run]:
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "--backend=cpu", "--size=small", f"--results-dir={results}",
         "-p", "no:cacheprovider", "--timing-budget=0.02", *args],
        cwd=cwd, capture_output=True, text=True, timeout=600,
    )
    runs = storage.find_runs(results)
    assert runs, proc.stdout[-2000:] + proc.stderr[-2000:]
    return proc, storage.read_run(runs[-1])


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    if not {"torch", "jax"} <= set(installed()):
        pytest.skip("needs torch and jax")
    tmp = tmp_path_factory.mktemp("report")
    for fw in ("torch", "jax"):
        (tmp / "kernels" / fw).mkdir(parents=True)
        shutil.copy(ROOT / "kernels" / fw / "fft.py", tmp / "kernels" / fw / "fft.py")
    (tmp / "kernels" / "torch" / "hostile.py").write_text(HOSTILE_KERNEL)
    # run A compiles each case too: the page holds both modes and time ratios against eager
    proc_a, a = _run(tmp, tmp / "A", "kernels", "--dtype=float32,float16", "--mode=eager,compiled")
    _, b = _run(tmp, tmp / "B", "kernels", "--dtype=float32", "--no-report")
    return {"tmp": tmp, "a": a, "b": b, "proc_a": proc_a}


def test_a_pytest_run_writes_the_report_and_no_report_skips_it(runs: dict[str, Any]) -> None:
    assert (runs["tmp"] / "A" / "index.html").is_file()
    assert f"report of 1 runs written to {runs['tmp'] / 'A' / 'index.html'}" in runs["proc_a"].stdout
    assert not (runs["tmp"] / "B" / "index.html").exists()


@pytest.fixture(scope="module")
def page_html(runs: dict[str, Any]) -> Path:
    out = runs["tmp"] / "page" / "index.html"
    assert main(["report", str(runs["a"].path), str(runs["b"].path), "-o", str(out),
                 "--compare", str(runs["b"].path), str(runs["a"].path)]) == 0
    return out


@pytest.fixture(scope="module")
def browser() -> Any:
    if not CHROMIUM.exists():
        pytest.fail("Debian's chromium is needed (apt-get install chromium; .ci/run installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--no-first-run"])
        yield b
        b.close()


@pytest.fixture
def opened(browser: Any, page_html: Path) -> Any:
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.problems = []  # console errors, page errors, and requests leaving the machine
    page.on("console", lambda m: page.problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
    page.on("pageerror", lambda e: page.problems.append(f"page error: {e}"))
    page.on("request", lambda r: None if r.url.startswith(("file:", "data:", "blob:"))
            else page.problems.append(f"request: {r.url}"))
    page.on("dialog", lambda d: page.problems.append(f"dialog: {d.message}"))
    page.goto(page_html.as_uri())
    page.wait_for_selector("html[data-matrix-ready]")
    page.wait_for_selector("#paper-functions-table_wrapper")
    yield page
    page.close()


def test_the_page_loads_offline_without_errors_or_requests(opened: Any) -> None:
    # every script has run once the load event has fired and the page has painted a frame after it
    opened.wait_for_load_state("load")
    opened.evaluate("() => new Promise(done => requestAnimationFrame(() => setTimeout(done, 0)))")
    assert opened.problems == []
    assert opened.evaluate("window.__xss") is None  # the message's script never ran


def test_the_modes_table_says_what_the_run_files_say(opened: Any, runs: dict[str, Any]) -> None:
    rows = opened.locator("#modes-table tbody tr")
    expected = {(r.framework, r.target): len(r.compared) for r in summary.modes_view(runs["a"].cases) if r.compared}
    assert expected and rows.count() == len(expected)
    for i in range(rows.count()):
        cells = rows.nth(i).locator("td").all_inner_texts()
        assert int(cells[3]) == expected[(cells[0], cells[1])]


def test_summary_numbers_equal_those_computed_from_the_run_files(opened: Any, runs: dict[str, Any]) -> None:
    shown = opened.eval_on_selector_all(
        "#summary-table tbody tr",
        "rows => rows.map(r => [r.dataset.key, ...[...r.querySelectorAll('td[data-verdict]')]"
        ".map(td => td.dataset.verdict + '=' + td.dataset.count)])")
    expected = []
    for run in (runs["a"], runs["b"]):
        for row in summary.function_verdicts(run.cases):
            expected.append([f"{run.run_id}|{row.framework}|{row.backend}",
                             *(f"{k}={row.count(v)}" for k, v in (("pass", "pass"), ("slowdown", "slowdown"),
                                                                  ("partial", "partial_failure"),
                                                                  ("complete", "complete_failure"),
                                                                  ("unavailable", "unavailable"))),
                             f"device-specific={len(row.device_specific)}"])
    assert sorted(shown) == sorted(expected)
    assert any("partial=1" in " ".join(r) or "complete=1" in " ".join(r) for r in shown)  # the hostile kernel


def _expected_cells(run: storage.Run) -> dict[tuple[str, str], Counter[str]]:
    """(framework, target) -> how many functions the matrix must colour with each class, from the run
    files: the function verdict, and for a failure whether it passes where the target is compared
    (the reference backend, or eager for a compiled target)."""
    backends = run.meta["options"]["backends"]
    ref = summary.reference_backend(run.cases, backends)
    port = {(row.framework, row.target): set(row.portability)
            for row in [*summary.portability_view(run.cases, ref), *summary.modes_view(run.cases)]}
    out: dict[tuple[str, str], Counter[str]] = {}
    for row in summary.function_verdicts(run.cases):
        counts: Counter[str] = Counter()
        for api, verdict in {**row.verdicts, **row.device_specific}.items():
            if verdict in ("partial_failure", "complete_failure"):
                kind = "port" if api in port.get((row.framework, row.backend), set()) else "lim"
                counts[f"{kind}-{verdict.split('_')[0]}"] += 1
            else:
                counts[verdict] += 1
        out[(row.framework, row.backend)] = counts
    return out


def test_the_matrix_comes_first_and_its_cells_count_what_the_run_files_say(opened: Any, runs: dict[str, Any]) -> None:
    first_h2 = opened.evaluate("document.querySelector('h2').getBoundingClientRect().top")
    matrix_top = opened.evaluate("document.querySelector('#matrix .mx-grid i.c').getBoundingClientRect().top")
    assert matrix_top < 1000 and matrix_top < first_h2  # above the fold, before every other section
    shown = opened.evaluate("""() => [...document.querySelectorAll('.mx-panel')].map(p => {
        const fw = p.dataset.framework;
        const heads = [...p.querySelectorAll('.mx-h')].map(h => h.getAttribute('title'));
        const cols = {};
        p.querySelectorAll('.mx-grid i.c').forEach(c => {
            const j = [...c.classList].find(x => /^j\\d+$/.test(x));
            if (!j) return;  // the study's columns
            const cls = [...c.classList].find(x => x !== 'c' && x !== j && x !== 'gs');
            (cols[j] = cols[j] || {})[cls] = ((cols[j] || {})[cls] || 0) + 1;
        });
        return [fw, heads, cols];
    })""")
    expected = {}
    for name in ("a", "b"):
        run = runs[name]
        for (fw, tgt), counts in _expected_cells(run).items():
            expected[(fw, tgt, run.run_id)] = dict(counts)
    got = {}
    for fw, heads, cols in shown:
        ours = [h for h in heads[1:] if h and "study" not in h and "the study's" not in h]
        for j, label in enumerate(ours):
            target, _version, rest = label.split(" · ", 2)
            run_id = next(r.run_id for r in (runs["a"], runs["b"]) if rest.endswith(r.run_id[-6:]))
            got[(fw, target, run_id)] = {k: v for k, v in cols.get(f"j{j}", {}).items() if k != "none"}
    assert got == expected
    # torch.cos fails compiled only (a portability failure of the mode); torch.sin everywhere (a limitation)
    assert got[("torch", "cpu compiled", runs["a"].run_id)]["port-complete"] == 1
    assert got[("torch", "cpu", runs["a"].run_id)]["lim-complete"] == 1


def test_a_matrix_cell_opens_its_cases(opened: Any, runs: dict[str, Any]) -> None:
    panel = opened.locator(".mx-panel[data-framework=torch]")
    opened.check("#mx-names")  # rows tall enough to find by name
    row = panel.locator(".mx-grid i.mx-fn", has_text="torch.sin").first
    cell = row.locator("xpath=following-sibling::i[1]")  # the first target of the first run: A's cpu
    cell.hover()
    assert "torch.sin" in opened.inner_text("#mx-hover")
    cell.click()
    drawer = opened.locator("#cell-details")
    assert drawer.is_visible()
    cases = [c for c in runs["a"].cases if c["api"] == "torch.sin" and summary.target(c) == "cpu"]
    items = drawer.locator("li.case")
    assert items.count() == len(cases) == 2  # float32 and float16
    text = drawer.inner_text()
    assert "fail:error" in text and "pytest 'kernels/torch/hostile.py::torch.sin[float16-cpu]'" in text
    assert XSS in text  # shown as text, not markup
    assert opened.evaluate("window.__xss") is None
    drawer.locator("button.close").click()
    assert not drawer.is_visible()


def test_the_function_table_shows_every_verdict_sorts_and_filters(browser: Any, page_html: Path,
                                                                   runs: dict[str, Any]) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(page_html.as_uri())
    page.wait_for_selector("html[data-matrix-ready]")
    page.locator("#functions").scroll_into_view_if_needed()
    # every column fits: nothing scrolls sideways at 1280 px
    assert page.evaluate("document.documentElement.scrollWidth") <= 1280
    table = page.locator("#functions-table")
    assert table.bounding_box()["width"] <= 1280

    def functions() -> list[str]:
        return page.eval_on_selector_all("#functions-table tbody td.fcol", "tds => tds.map(td => td.innerText.trim())")

    page.select_option("#ft-framework", label="torch")
    ascending = functions()
    assert ascending == sorted(ascending) and "torch.sin" in ascending
    page.click("#functions-table th[data-k='0']")
    assert page.get_attribute("#functions-table th[data-k='0']", "aria-sort") == "descending"
    assert functions() == sorted(ascending, reverse=True)
    # the verdict columns come right after the function's name
    heads = page.eval_on_selector_all("#functions-table th", "ths => ths.map(th => th.className)")
    assert heads[0] == "fcol" and heads[1] == "vcol"
    # portability failures only: the functions failing compiled in a case that passes eagerly
    page.check("#ft-portability")
    a = runs["a"]
    expected = sorted({api for row in summary.modes_view(a.cases) if row.framework == "torch"
                       for api in row.portability})
    assert sorted(functions()) == expected == ["torch.cos"]
    page.uncheck("#ft-portability")
    page.fill("#ft-search", "torch.sin")
    assert functions() == ["torch.sin"]
    page.click("#functions-table td[data-c='0']")
    assert "fail:error" in page.inner_text("#cell-details")
    page.close()


def test_a_screenshot_of_the_matrix_shows_its_colours(opened: Any, tmp_path: Path) -> None:
    """Not pixel-exact: the screenshot of the top of the page holds each class colour of the cells
    drawn within it, as the legend gives it, and is saved for a reader to look at."""
    from PIL import Image

    shot = tmp_path / "matrix.png"
    opened.screenshot(path=str(shot))
    colours = opened.evaluate("""() => {
        const seen = {};
        document.querySelectorAll('.mx-grid i.c').forEach(c => {
            const r = c.getBoundingClientRect();
            if (r.bottom < innerHeight && r.height >= 2 && r.width >= 6) seen[getComputedStyle(c).backgroundColor] = 1;
        });
        return Object.keys(seen);
    }""")
    assert len(colours) >= 3  # pass, a failure, the empty cell at least
    pixels = {rgb for _, rgb in Image.open(shot).convert("RGB").getcolors(1 << 24)}
    for css in colours:
        rgb = tuple(int(x) for x in css[css.index("(") + 1:css.index(")")].split(",")[:3])
        assert rgb in pixels, css
    assert Image.open(shot).size == (1400, 1000)


def test_compare_a_run_with_itself_reports_no_change(runs: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    a = str(runs["a"].path)
    assert main(["compare", a, a, "--fail-on", "regression"]) == 0
    out = capsys.readouterr().out
    assert "no changes" in out and f"unchanged {len(runs['a'].cases)}, not comparable 0" in out


def test_compare_runs_of_different_dtypes_marks_the_missing_cases_not_comparable(
        runs: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    a, b = runs["a"], runs["b"]
    assert main(["compare", str(b.path), str(a.path), "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    only_a = {c["key"] for c in a.cases} - {c["key"] for c in b.cases}
    # A ran float16 too, and every case compiled as well
    assert only_a and all("float16" in i or i.endswith("-compiled]") for i in only_a)
    not_comparable = {c["key"] for c in report["cases"] if c["change"] == "not comparable"}
    assert not_comparable == only_a
    assert report["counts"]["failure introduced"] == 0
    assert sum(report["counts"].values()) == len(only_a | {c["key"] for c in b.cases})


def test_runs_timed_with_other_cpu_threads_compare_outcomes_but_not_times(
        runs: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A copy of B stamped as run with --cpu-threads=all: its times were taken with other thread
    pools, so compare says so instead of calling them slower or faster, and --baseline refuses it."""
    b = runs["b"]
    other = tmp_path / "all-threads"
    shutil.copytree(b.path, other)
    meta = json.loads((other / "run.json").read_text())
    assert meta["options"]["cpu_threads"] == 1  # the suite's default
    meta["options"]["cpu_threads"] = None
    (other / "run.json").write_text(json.dumps(meta))
    assert main(["compare", str(b.path), str(other), "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    kinds = {c["key"]: (c["change"], c["detail"]) for c in report["cases"]}
    for case in b.cases:
        if case["outcome"] == "pass":
            assert kinds[case["key"]] == ("not comparable", "timed under different conditions: cpu threads 1 vs all")
        else:
            assert kinds[case["key"]][0] == "unchanged", case["key"]  # outcomes still compare
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "--backend=cpu", "--size=small", f"--baseline={other}",
         f"--results-dir={tmp_path / 'new'}", "-p", "no:cacheprovider", "kernels"],
        cwd=runs["tmp"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 4, proc.stdout[-2000:]
    assert (f"ERROR: --baseline '{other}' and this run would be timed under different conditions: "
            "cpu threads all vs 1 (baseline vs this run)") in proc.stderr
    assert not storage.find_runs(tmp_path / "new")


def test_a_closed_pipe_stops_the_command_quietly(runs: dict[str, Any]) -> None:
    """`portability compare A B | head`: the reader is gone before anything is written."""
    a = str(runs["a"].path)
    proc = subprocess.Popen([sys.executable, "-m", "portability.cli", "compare", a, a, "--all"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=300) == 1
    assert "Traceback" not in err and "BrokenPipeError" not in err, err


def test_compare_fails_on_an_introduced_failure(runs: dict[str, Any], tmp_path: Path) -> None:
    """A copy of B in which one passing case fails stands for a framework version that broke it."""
    b = runs["b"]
    broken = tmp_path / "broken"
    shutil.copytree(b.path, broken)
    cases = [json.loads(line) for line in (broken / "cases.jsonl").read_text().splitlines()]
    victim = next(c for c in cases if c["outcome"] == "pass")
    victim.update(outcome="fail:dtype", failure="dtype", message="expected output dtype float32, got float16")
    (broken / "cases.jsonl").write_text("".join(json.dumps(c) + "\n" for c in cases))
    assert main(["compare", str(b.path), str(broken), "--fail-on", "regression"]) == 1
    assert main(["compare", str(b.path), str(broken)]) == 0


def test_the_compare_section_matches_the_terminal_counts(opened: Any, runs: dict[str, Any]) -> None:
    from portability.results import compare

    expected = compare.counts(compare.compare_runs(runs["b"].cases, runs["a"].cases))
    shown = opened.eval_on_selector_all("[data-change]", "els => els.map(e => [e.dataset.change, e.innerText])")
    assert {k: int(v) for k, v in shown} == expected


def test_expectations_turn_known_failures_into_xfail_and_report_new_and_fixed(
        runs: dict[str, Any], tmp_path: Path) -> None:
    tmp = runs["tmp"]
    exp = tmp_path / "expectations"
    assert main(["expectations", "update", str(runs["a"].path), "--dir", str(exp)]) == 0
    listed = (exp / "torch-cpu.txt").read_text()
    assert "\ntorch.sin[float32-cpu]  # fail:error" in listed  # keyed by case, not by file
    proc, run = _run(tmp, tmp_path / "R1", "kernels", "--dtype=float32,float16", f"--expectations={exp}",
                     "--no-report")
    assert proc.returncode == 0, proc.stdout[-2000:]
    assert "0 new failures" in proc.stdout and "xfailed" in proc.stdout
    # drop a listed failure (it becomes new) and list a passing case (it is reported fixed)
    lines = listed.splitlines()
    dropped = next(x for x in lines if x.startswith("torch.sin[float16-cpu]"))
    passing = next(c["key"] for c in run.cases if c["outcome"] == "pass" and c["framework"] == "torch")
    (exp / "torch-cpu.txt").write_text("\n".join(x for x in lines if x != dropped)
                                       + f"\n{passing}  # fail:dtype: it used to fail\n")
    proc, _ = _run(tmp, tmp_path / "R2", "kernels", "--dtype=float32,float16", f"--expectations={exp}",
                   "--no-report")
    assert proc.returncode == 1
    assert "1 new failures, 1 fixed" in proc.stdout
    assert f"fixed: {passing}  was fail:dtype, now pass" in proc.stdout


def test_export_and_load_runs_give_one_row_per_case(runs: dict[str, Any], tmp_path: Path) -> None:
    a = runs["a"]
    frame = portability.load_runs([a.path, runs["b"].path])
    assert len(frame) == len(a.cases) + len(runs["b"].cases)
    assert set(frame["run_id"]) == {a.run_id, runs["b"].run_id}
    mine = frame[frame["run_id"] == a.run_id].set_index("key")
    for c in a.cases:
        assert mine.loc[c["key"], "outcome"] == c["outcome"]
    for fmt in ("csv", "parquet"):
        out = tmp_path / f"a.{fmt}"
        assert main(["export", str(a.path), "--format", fmt, "-o", str(out)]) == 0
        back = pd.read_csv(out) if fmt == "csv" else pd.read_parquet(out)
        assert len(back) == len(a.cases) and list(back.columns) == list(frame.columns)


def test_bad_runs_get_one_line_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", str(tmp_path), "-o", str(tmp_path / "x.html")]) == 2
    assert "not a run directory" in capsys.readouterr().err
    assert main(["compare", str(tmp_path), str(tmp_path)]) == 2
    assert main(["report", "--results-dir", str(tmp_path / "none")]) == 2
    assert "no runs given" in capsys.readouterr().err


# -- what the readers make of damaged run files (no framework needed: a real schema-2 run) -----------

V2 = ROOT / "tests" / "data" / "v2" / "run"


def _damaged_run(tmp_path: Path) -> tuple[Path, list[str]]:
    """A copy of the schema-2 run with a record of a wrong type and a corrupt line after its three
    good ones; the notes every command that reads it must print."""
    run = tmp_path / "runs" / "damaged"
    shutil.copytree(V2, run)
    good = json.loads((V2 / "cases.jsonl").read_text().splitlines()[0])
    with (run / "cases.jsonl").open("a") as f:
        f.write(json.dumps({**good, "outcome": 3}) + "\n{not json\n")
    cases = run / "cases.jsonl"
    return run, [f"portability: note: {cases}:4: field 'outcome' is int, expected str; skipped",
                 f"portability: note: {cases}:5: truncated last line; skipped"]


@pytest.mark.parametrize("command", [
    ["summary", "{run}"], ["cases", "{run}"], ["compare", "{run}", "{run}"],
    ["expectations", "update", "{run}", "--dir", "{tmp}/expectations", "--allow-incomplete"],
    ["export", "{run}", "--format", "csv", "-o", "{tmp}/out.csv"],
    ["export", "{run}", "--format", "parquet", "-o", "{tmp}/out.parquet"],
    ["report", "{run}", "-o", "{tmp}/named.html"], ["report", "--results-dir", "{tmp}", "-o", "{tmp}/folder.html"],
    ["runs", "--results-dir", "{tmp}"],
], ids=lambda c: " ".join(c[:2]))
def test_every_command_that_reads_a_run_notes_each_line_it_skipped(
        command: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run, notes = _damaged_run(tmp_path)
    assert main([a.format(run=run, tmp=tmp_path) for a in command]) == 0
    err = capsys.readouterr().err.splitlines()
    assert [line for line in err if line.startswith("portability: note:")] == notes  # each once, run named twice too


def test_expectations_are_not_drawn_from_a_run_with_unreadable_lines_unless_told(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A failing case on an unreadable line would silently drop out of the expectations."""
    run, notes = _damaged_run(tmp_path)
    assert main(["expectations", "update", str(run), "--dir", str(tmp_path / "exp")]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err == [*notes, f"portability: error: {run} has 2 unreadable case lines (the notes above): a failing "
                           "case among them would drop out of the expectations (--allow-incomplete takes the "
                           "readable cases anyway)"]
    assert not (tmp_path / "exp").exists()


def test_the_report_shows_how_many_lines_of_a_run_were_skipped(tmp_path: Path) -> None:
    run, _ = _damaged_run(tmp_path)
    shutil.copytree(V2, tmp_path / "runs" / "whole")
    out = tmp_path / "index.html"
    assert main(["report", "--results-dir", str(tmp_path), "-o", str(out)]) == 0
    html = out.read_text()
    assert html.count('data-skipped="2"') == 1 and html.count('data-skipped="0"') == 1
    assert "2 lines skipped</small>" in html


def test_text_with_lone_surrogates_is_written_out_as_valid_utf8(tmp_path: Path) -> None:
    """An older version stored undecodable bytes of a message as JSON escapes of lone surrogates."""
    run = tmp_path / "runs" / "old"
    shutil.copytree(V2, run)
    lines = (V2 / "cases.jsonl").read_text().splitlines()
    first = json.loads(lines[0])
    assert first["outcome"].startswith("fail:")
    first["message"] = "bad byte \udcff here"
    (run / "cases.jsonl").write_text("\n".join([json.dumps(first), *lines[1:]]) + "\n")
    assert "\\udcff" in (run / "cases.jsonl").read_text()
    assert main(["export", str(run), "--format", "csv", "-o", str(tmp_path / "out.csv")]) == 0
    assert main(["export", str(run), "--format", "parquet", "-o", str(tmp_path / "out.parquet")]) == 0
    for frame in (pd.read_csv(tmp_path / "out.csv"), pd.read_parquet(tmp_path / "out.parquet")):
        assert frame.set_index("key").loc[first["key"], "message"] == "bad byte ? here"
    assert main(["expectations", "update", str(run), "--dir", str(tmp_path / "exp")]) == 0
    assert f"{first['key']}  # {first['outcome']}: bad byte ? here" in (tmp_path / "exp" / "torch-cpu.txt").read_text()
    assert main(["report", str(run), "-o", str(tmp_path / "index.html")]) == 0
    assert "bad byte ? here" in (tmp_path / "index.html").read_text(encoding="utf-8")


def test_a_run_whose_run_json_is_lost_is_listed_and_reported(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lost = tmp_path / "runs" / "20261206T224521Z-vm-0a0b0c"
    lost.mkdir(parents=True)
    shutil.copy(V2 / "cases.jsonl", lost / "cases.jsonl")
    (tmp_path / "runs" / "empty").mkdir()
    note = (f"portability: note: {lost / 'run.json'}: missing: the run's options, machine and framework versions "
            "are unknown; its cases are read from cases.jsonl and it is taken as interrupted")
    assert main(["runs", "--results-dir", str(tmp_path)]) == 0
    out, err = capsys.readouterr()
    (line,) = out.splitlines()
    assert line.split() == [str(lost), "interrupted", "3", "cases"]
    assert err.splitlines() == [note]
    assert main(["report", "--results-dir", str(tmp_path), "-o", str(tmp_path / "index.html")]) == 0
    out, err = capsys.readouterr()
    assert out.rstrip().endswith("1 runs)") and err.splitlines() == [note]
    assert "<code>20261206T224521Z-vm-0a0b0c</code></td><td>interrupted</td>" in (tmp_path / "index.html").read_text()
