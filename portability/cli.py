"""The ``portability`` command: look at stored runs and at what this machine's frameworks see."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Iterable, Sequence

from portability import options
from portability.results import storage, summary
from portability.vocabulary import FRAMEWORKS


def _notes(problems: Iterable[str]) -> None:
    """Each problem met reading runs (a line skipped, a run.json missing) as one line on stderr, once."""
    for problem in dict.fromkeys(problems):
        print(f"portability: note: {problem}", file=sys.stderr)


def _summary(args: argparse.Namespace) -> int:
    for path in args.runs:
        run = storage.read_run(path)
        m = run.meta
        print(f"run {run.run_id}: {run.status}, {len(run.cases)} cases, started {m.get('started')}")
        sys.stdout.flush()  # the notes on stderr come after the line they are about
        _notes(run.problems)
        for line in summary.render(run.cases, (m.get("options") or {}).get("backends")):
            print(line)
    return 0


def _runs(args: argparse.Namespace) -> int:
    from pathlib import Path

    for path in storage.find_runs(Path(args.results_dir)):
        try:
            run = storage.read_run(path)
        except storage.RunFileError as exc:
            print(f"{path}: unreadable ({exc})")
            continue
        fws = ", ".join(f"{fw} {info['versions'].get(fw, '?')}" for fw, info in run.meta.get("frameworks", {}).items())
        print(f"{path}  {run.status:<11} {len(run.cases):>5} cases  {fws}")
        sys.stdout.flush()
        _notes(run.problems)
    return 0


def _cases(args: argparse.Namespace) -> int:
    run = storage.read_run(args.run)
    _notes(run.problems)
    for case in run.cases:
        if args.outcome and not case["outcome"].startswith(args.outcome):
            continue
        print(json.dumps(case) if args.json else f"{case['outcome']:<22} {case['key']}  {case.get('message', '')}")
    return 0


def _mine(args: argparse.Namespace) -> int:
    from pathlib import Path

    from portability.usage import mine, tables

    paths = [Path(p) for p in args.paths]
    for path in paths:
        if not path.exists():
            print(f"portability: error: corpus path {str(path)!r} does not exist", file=sys.stderr)
            return 2
    table = mine.mine(paths, args.framework, args.describe or "", introspect=not args.no_import)
    prefix = Path(args.output or f"frequency-{args.framework}")
    json_path, csv_path = tables.write_table(table, prefix)
    f, c = table["files"], table["calls"]
    print(f"{args.framework}: {f['files_parsed']} files mined, {f['files_without_framework']} without "
          f"{args.framework}, {f['files_skipped']} skipped (do not parse) of {f['files_seen']}")
    print(f"{len(table['apis'])} public APIs, {c['apis']} calls; {c['method_bucket']} method calls on receivers "
          f"of unknown type in the {tables.METHOD_BUCKET} bucket; {c['builtins_skipped']} builtin calls skipped")
    for row in table["apis"][: args.show]:
        print(f"  {row['rank']:>4}  {row['calls']:>6}  {row['api']}")
    print(f"wrote {json_path} and {csv_path}")
    return 0


def _sample(args: argparse.Namespace) -> int:
    from pathlib import Path

    from portability.usage import sample, tables

    table_path = Path(args.table or f"kernels/{args.framework}/frequency.json")
    try:
        table, sha = tables.read_table(table_path)
        if table["framework"] != args.framework:
            raise tables.TableError(f"{table_path}: a {table['framework']} table, not {args.framework}")
        exclude_path = Path(args.exclude or f"kernels/{args.framework}/sample-exclude.txt")
        if args.exclude and not exclude_path.is_file():
            raise ValueError(f"--exclude {args.exclude!r} is not a file")
        exclude = sample.read_exclusions(exclude_path) if exclude_path.is_file() else {}
        drawn = sample.draw(table, args.seed, args.per_decile, args.top, exclude)
    except (tables.TableError, ValueError) as exc:
        print(f"portability: error: {exc}", file=sys.stderr)
        return 2
    out = Path(args.output or f"kernels/{args.framework}/sample.json")
    sample.write(drawn, table_path, sha, out)
    for row in drawn["functions"]:
        print(f"  {row['drawn']:<10} {row['calls']:>6}  {row['api']}")
    print(f"{len(drawn['functions'])} functions (seed {args.seed}, table sha256 {sha[:12]}); wrote {out}")
    return 0


def _catalog(args: argparse.Namespace) -> int:
    from pathlib import Path

    from portability.catalog import CatalogError
    from portability.options import parse_frameworks
    from portability.usage import inventory

    try:
        frameworks = parse_frameworks(args.framework, list(FRAMEWORKS))
        inv = inventory.load(Path(args.kernels), frameworks)
    except (ValueError, CatalogError) as exc:
        print(f"portability: error: {exc}", file=sys.stderr)
        return 2
    table = inventory.rows(inv)
    cover = inventory.coverage(inv)
    if args.format == "csv":
        sys.stdout.write(inventory.render_csv(table))
        return 0
    if args.format == "json":
        print(json.dumps({"kernels": table, "coverage": cover}, indent=1))
        return 0
    for line in inventory.render_table(table):
        print(line)
    print()
    for fw, c in cover.items():
        print(f"{fw}: {c['functions']} functions; paper functions covered {c['paper_covered']}/{c['paper_total']}; "
              f"usage sample covered {c['sample_covered']}/{c['sample_total']}")
        if c["paper_missing"]:
            print(f"  paper functions without a kernel: {', '.join(c['paper_missing'])}")
        if c["sample_missing"]:
            print(f"  sampled APIs without a kernel: {', '.join(c['sample_missing'])}")
    return 0


def _compare(args: argparse.Namespace) -> int:
    from portability.results import compare

    try:
        threshold = options.parse_threshold(args.slowdown_threshold)
        noise = options.parse_noise(args.baseline_noise)
    except ValueError as exc:
        print(f"portability: error: {exc}", file=sys.stderr)
        return 2
    base, new = storage.read_run(args.base), storage.read_run(args.new)
    _notes([*base.problems, *new.problems])
    mismatch = compare.timing_mismatch(base.meta, new.meta)
    changes = compare.compare_runs(base.cases, new.cases, threshold=threshold, noise=noise,
                                   timing_mismatch=mismatch)
    if args.format == "json":
        print(json.dumps({"base": base.run_id, "new": new.run_id, "threshold": threshold, "noise": noise,
                          "counts": compare.counts(changes), "cases": [c.as_dict() for c in changes]}, indent=1))
    else:
        for line in compare.render(changes, base.run_id, new.run_id, show_unchanged=args.all):
            print(line)
        if mismatch:
            print(f"note: BASE and NEW were {mismatch} (BASE vs NEW): times are not comparable")
    bad = compare.regressions(changes)
    if args.fail_on == "regression" and bad:
        print(f"portability: {len(bad)} regressions (failures introduced or slower beyond "
              f"{threshold:g}x x noise {noise:g})", file=sys.stderr)
        return 1
    return 0


def _history(args: argparse.Namespace) -> int:
    from portability.results import history

    try:
        threshold = options.parse_threshold(args.slowdown_threshold)
        noise = options.parse_noise(args.baseline_noise)
        chosen = options.parse_frameworks(args.framework, list(FRAMEWORKS)) if args.framework else None
    except ValueError as exc:
        print(f"portability: error: {exc}", file=sys.stderr)
        return 2
    runs = [storage.read_run(path) for path in args.runs]
    notes = [p for run in runs for p in run.problems]
    found = sorted({c["framework"] for run in runs for c in run.cases})
    absent = [fw for fw in chosen or () if fw not in found]
    if absent:
        print(f"portability: error: framework {absent[0]!r} is in none of these runs; they hold: "
              f"{', '.join(found) or 'no cases'}", file=sys.stderr)
        return 2
    histories = history.build(runs, chosen, threshold, noise, notes)
    _notes(notes)
    if args.format == "json":
        print(json.dumps({"threshold": threshold, "noise": noise,
                          "frameworks": [history.as_dict(h) for h in histories]}, indent=1))
    else:
        for line in history.render(histories, changes_only=args.changes_only):
            print(line)
    return 0


def _expectations(args: argparse.Namespace) -> int:
    from pathlib import Path

    from portability.results import expectations

    run = storage.read_run(args.run)
    _notes(run.problems)
    if run.status != storage.COMPLETE and not args.allow_incomplete:
        print(f"portability: error: {args.run} is {run.status} ({len(run.cases)} of "
              f"{run.meta.get('collected', '?')} collected cases): expectations come from a complete run "
              "(--allow-incomplete takes its cases anyway)", file=sys.stderr)
        return 2
    if run.skipped_lines and not args.allow_incomplete:
        print(f"portability: error: {args.run} has {run.skipped_lines} unreadable case lines (the notes above): "
              "a failing case among them would drop out of the expectations (--allow-incomplete takes the "
              "readable cases anyway)", file=sys.stderr)
        return 2
    for path in expectations.write(run.cases, Path(args.dir)):
        listed = sum(1 for line in path.read_text(encoding="utf-8").splitlines() if not line.startswith("#"))
        print(f"wrote {path} ({listed} cases)")
    return 0


def _export(args: argparse.Namespace) -> int:
    from pathlib import Path

    from portability.results import frames

    out = Path(args.output or f"{Path(args.run).name}.{args.format}")
    notes: list[str] = []
    frames.export(args.run, args.format, out, notes)
    _notes(notes)
    print(f"wrote {out}")
    return 0


def _report(args: argparse.Namespace) -> int:
    from pathlib import Path

    from portability.results import report

    runs = [Path(p) for p in args.runs] or storage.find_runs(Path(args.results_dir))
    if not runs:
        print(f"portability: error: no runs given and none under {Path(args.results_dir) / 'runs'}", file=sys.stderr)
        return 2
    # runs named on the command line must all be read; every run of a folder, as many as can be
    skipped: list[str] | None = None if args.runs else []
    notes: list[str] = []
    out = report.write(runs, Path(args.output), tuple(args.compare) if args.compare else None, skipped, notes)
    _notes(notes)
    print(f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB, {len(runs) - len(skipped or [])} runs)")
    for line in skipped or []:
        print(f"left out {line}", file=sys.stderr)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="portability", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("summary", help="print the summary table of stored runs")
    p.add_argument("runs", nargs="+", metavar="RUN_DIR")
    p.set_defaults(func=_summary)
    p = sub.add_parser("runs", help="list stored runs")
    p.add_argument("--results-dir", default="reports")
    p.set_defaults(func=_runs)
    p = sub.add_parser("cases", help="list the cases of a run")
    p.add_argument("run", metavar="RUN_DIR")
    p.add_argument("--outcome", help="only outcomes starting with this, e.g. fail or fail:dtype")
    p.add_argument("--json", action="store_true", help="one JSON record per line")
    p.set_defaults(func=_cases)
    p = sub.add_parser("mine", help="count calls of a framework's public APIs in Python source (frequency table)")
    p.add_argument("paths", nargs="+", metavar="PATH", help="files or directories of Python source")
    p.add_argument("--framework", required=True, choices=list(FRAMEWORKS))
    p.add_argument("--describe", help="a description of the corpus, stored with the table")
    p.add_argument("-o", "--output", metavar="PREFIX",
                   help="write PREFIX.json and PREFIX.csv (default: frequency-FRAMEWORK)")
    p.add_argument("--no-import", action="store_true",
                   help="do not import the framework to check names (exists is left blank)")
    p.add_argument("--show", type=int, default=10, metavar="N", help="print the N most called APIs (default 10)")
    p.set_defaults(func=_mine)
    p = sub.add_parser("sample", help="draw the usage sample from a frequency table, the study's way, seeded")
    p.add_argument("--framework", required=True, choices=list(FRAMEWORKS))
    p.add_argument("--seed", type=int, required=True)
    p.add_argument("--per-decile", type=int, default=5, metavar="N", help="APIs drawn per decile (default 5)")
    p.add_argument("--top", type=int, default=20, metavar="N", help="the N most called APIs (default 20)")
    p.add_argument("--table", help="frequency table (default: kernels/FRAMEWORK/frequency.json)")
    p.add_argument("-o", "--output", help="sample file (default: kernels/FRAMEWORK/sample.json)")
    p.add_argument("--exclude", help="'api  # reason' lines passed over for the next draw "
                   "(default: kernels/FRAMEWORK/sample-exclude.txt when it exists)")
    p.set_defaults(func=_sample)
    p = sub.add_parser("catalog", help="list the catalog's kernels with usage data, and its coverage")
    p.add_argument("--framework", help="comma list of frameworks (default: all three)")
    p.add_argument("--format", choices=["table", "csv", "json"], default="table")
    p.add_argument("--kernels", default="kernels", help="the catalog folder (default: kernels)")
    p.set_defaults(func=_catalog)
    p = sub.add_parser("compare", help="compare two runs case by case: failures introduced/fixed, slower/faster")
    p.add_argument("base", metavar="BASE", help="the reference run directory")
    p.add_argument("new", metavar="NEW", help="the run directory to judge")
    options.add_options(p.add_argument, only=("slowdown_threshold", "baseline_noise"), aliases=True)
    p.add_argument("--format", choices=["table", "json"], default="table")
    p.add_argument("--fail-on", choices=["regression"], help="exit 1 when a failure is introduced or a case is slower")
    p.add_argument("--all", action="store_true", help="also list unchanged cases")
    p.set_defaults(func=_compare)
    p = sub.add_parser("history", help="each function's verdict and median time across framework versions, in "
                       "release order, and what changed between neighbouring versions")
    p.add_argument("runs", nargs="+", metavar="RUN_DIR", help="runs of any versions (the newest run of a version "
                   "and target is shown)")
    p.add_argument("--framework", help="comma list of frameworks (default: every framework of the runs)")
    p.add_argument("--changes-only", action="store_true", help="list only functions that changed somewhere")
    p.add_argument("--format", choices=["text", "json"], default="text")
    options.add_options(p.add_argument, only=("slowdown_threshold", "baseline_noise"))
    p.set_defaults(func=_history)
    p = sub.add_parser("expectations", help="expected failures per framework x backend (for --expectations)")
    esub = p.add_subparsers(dest="action", required=True)
    e = esub.add_parser("update", help="write <framework>-<backend>.txt files from a run's failing cases")
    e.add_argument("run", metavar="RUN_DIR")
    e.add_argument("--dir", default="expectations", help="the expectations folder (default: expectations)")
    e.add_argument("--allow-incomplete", action="store_true",
                   help="take the cases of a run that did not finish every collected case, or has unreadable "
                   "case lines (default: refuse it)")
    e.set_defaults(func=_expectations)
    p = sub.add_parser("export", help="write a run's cases as a CSV or Parquet table (one row per case)")
    p.add_argument("run", metavar="RUN_DIR")
    p.add_argument("--format", choices=["csv", "parquet"], default="csv")
    p.add_argument("-o", "--output", help="output file (default: <run-id>.<format>)")
    p.set_defaults(func=_export)
    p = sub.add_parser("report", help="render the HTML report from stored runs (default: every run under reports/)")
    p.add_argument("runs", nargs="*", metavar="RUN_DIR")
    p.add_argument("-o", "--output", default="reports/index.html", help="the page to write (default: %(default)s)")
    p.add_argument("--results-dir", default="reports", help="where to find runs when none are given")
    p.add_argument("--compare", nargs=2, metavar=("BASE", "NEW"), help="add the comparison of two runs")
    p.set_defaults(func=_report)
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except storage.RunFileError as exc:  # a path that is not a readable run, named in one line
        print(f"portability: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        # the reader went away (`portability compare A B | head`): stop quietly, as Unix tools do;
        # stdout goes to /dev/null so that the flush at exit does not raise again
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
