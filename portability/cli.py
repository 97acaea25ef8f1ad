"""The ``portability`` command: look at stored runs and at what this machine's frameworks see."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from portability import storage, summary


def _summary(args: argparse.Namespace) -> int:
    for path in args.runs:
        try:
            run = storage.read_run(path)
        except storage.RunFileError as exc:
            print(f"portability: error: {exc}", file=sys.stderr)
            return 2
        m = run.meta
        print(f"run {run.run_id}: {run.status}, {len(run.cases)} cases, started {m.get('started')}")
        for problem in run.problems:
            print(f"  note: {problem}")
        for line in summary.render(run.cases):
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
    return 0


def _cases(args: argparse.Namespace) -> int:
    try:
        run = storage.read_run(args.run)
    except storage.RunFileError as exc:
        print(f"portability: error: {exc}", file=sys.stderr)
        return 2
    for case in run.cases:
        if args.outcome and not case["outcome"].startswith(args.outcome):
            continue
        print(json.dumps(case) if args.json else f"{case['outcome']:<22} {case['id']}  {case.get('message', '')}")
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
    args = parser.parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    raise SystemExit(main())
