"""Each function's verdict across framework versions, from any number of stored runs, as asv shows a
benchmark across commits (``portability history``, the report's History section). Pure: runs in, data out.

A run gives one **side** per framework: that framework's cases with the version they ran under (run.json
``frameworks.<fw>.versions.<fw>``). A run made against a second environment (run.json ``against``, each
case record's ``against``: the other environment's result of the same case) gives a second side, with
the versions of ``against.frameworks``. Versions are put in release order (``version_key``); for each
version and target the newest side is shown. Neighbouring versions are compared function by function:
the function verdict (``outcomes.function_verdict``, the summary's rule), the failure categories of its
cases, and its time, by the rule ``portability compare`` applies to each case (``verdicts.change``).
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from statistics import median
from typing import Any, cast

from portability import outcomes, verdicts
from portability.records import CaseRecord
from portability.results import storage, summary
from portability.stats import format_seconds

#: Marks a cell whose function changed from the version to its left (text and HTML alike).
CHANGED_MARK = "*"
#: The fields of a case that name it, taken from the outer record for the other side of an against run.
IDENTITY = ("key", "id", "framework", "api", "category", "dtype", "variant", "backend", "mode")
#: Release phases in PEP 440's order; a version without one is the final release.
_PHASES = {"dev": 0, "a": 1, "alpha": 1, "b": 2, "beta": 2, "c": 3, "rc": 3, "pre": 3, "preview": 3,
           "": 4, "post": 5, "r": 5, "rev": 5}
_PHASE = re.compile(r"[._-]?([a-z]*)[._-]?(\d*)")
_SHORT = {outcomes.FN_PARTIAL: "partial", outcomes.FN_COMPLETE: "complete"}


def version_key(version: str) -> tuple[Any, ...]:
    """Release order of a version string: numeric parts compared as numbers (2.9.0 < 2.13.0), trailing
    zeros ignored (2.13 = 2.13.0), a dev build or pre-release (a, b, rc) before its release, a post
    release after it. The local part after ``+`` (``+cpu``, ``+cu128``) is a build of the same release:
    it does not order, it only breaks ties. A version that starts with no number sorts last."""
    public = version.partition("+")[0].strip().lower().removeprefix("v")
    m = re.match(r"(\d+(?:\.\d+)*)(.*)$", public)
    if not m:
        return (1, (), 0, 0, version)
    release = [int(p) for p in m[1].split(".")]
    while len(release) > 1 and release[-1] == 0:
        release.pop()
    phase = _PHASE.match(m[2])
    assert phase is not None  # every part of it is optional
    rank = _PHASES.get(phase[1], _PHASES[""])
    return (0, tuple(release), rank, int(phase[2] or 0), version)


@dataclass(frozen=True)
class Side:
    """One framework's cases of one run, or of the other environment of an against run."""

    framework: str
    version: str
    run_id: str
    started: str
    against: bool  # the other environment's side of an against run
    meta: Mapping[str, Any] = field(compare=False, repr=False)
    cases: tuple[CaseRecord, ...] = field(compare=False, repr=False)

    @property
    def label(self) -> str:
        return f"{self.run_id} (against)" if self.against else self.run_id


def _version(frameworks: Any, fw: str) -> str | None:
    info = frameworks.get(fw) if isinstance(frameworks, Mapping) else None
    version = (info.get("versions") or {}).get(fw) if isinstance(info, Mapping) else None
    return version if isinstance(version, str) and version else None


def other_side(record: Mapping[str, Any]) -> CaseRecord | None:
    """The other environment's result of an against run's case, named as the case itself; None where
    the other environment has none."""
    against = record.get("against")
    if not isinstance(against, Mapping):
        return None
    return cast(CaseRecord, {**against, **{k: record[k] for k in IDENTITY if k in record}})


def sides(runs: Iterable[storage.Run], notes: list[str] | None = None, unknown: str | None = None) -> list[Side]:
    """Every side of the runs. A framework whose version a run does not record (its run.json lost)
    cannot be placed in release order: it is left out, with a line in ``notes``, or, given ``unknown``,
    kept under that version (where order does not matter)."""
    out = []
    for run in runs:
        meta: Mapping[str, Any] = run.meta
        against = meta.get("against")
        halves = [(False, list(run.cases), meta.get("frameworks"))]
        if isinstance(against, Mapping):
            other = [r for c in run.cases if (r := other_side(c)) is not None]
            halves.append((True, other, against.get("frameworks")))
        for is_against, cases, frameworks in halves:
            by_fw: dict[str, list[CaseRecord]] = defaultdict(list)
            for c in cases:
                by_fw[c["framework"]].append(c)
            for fw, fw_cases in sorted(by_fw.items()):
                version = _version(frameworks, fw) or unknown
                if version is None:
                    if notes is not None:
                        notes.append(f"{run.run_id}{' (against)' if is_against else ''}: no {fw} version "
                                     "recorded; left out")
                    continue
                out.append(Side(fw, version, run.run_id, str(meta.get("started") or ""), is_against, meta,
                                tuple(fw_cases)))
    return out


@dataclass(frozen=True)
class Cell:
    """One function on one target under one version: its verdict, the failure categories of its cases,
    and the median of its passing cases' median times."""

    verdict: str
    categories: tuple[str, ...]
    median_s: float | None
    side: Side = field(compare=False, repr=False)
    cases: Mapping[str, CaseRecord] = field(compare=False, repr=False)  # by key

    @property
    def text(self) -> str:
        """``pass 1.2 ms``, ``partial(dtype)``, ``complete(missing)``."""
        word = _SHORT.get(self.verdict, self.verdict)
        if self.categories:
            word += f"({','.join(self.categories)})"
        return f"{word} {format_seconds(self.median_s)}" if self.median_s is not None else word


def cell(cases: Sequence[CaseRecord], side: Side) -> Cell:
    found = {outcomes.category_of(c["outcome"]) for c in cases}
    categories = tuple(c for c in outcomes.FAILURE_CATEGORIES if c in found)
    # only cases that did what they were asked are timed for the function: a failure's time says little
    times = [t for c in cases if outcomes.is_success(c["outcome"]) and (t := (c.get("timing") or {}).get("median_s"))]
    return Cell(outcomes.function_verdict(c["outcome"] for c in cases), categories,
                median(times) if times else None, side, {c["key"]: c for c in cases})


@dataclass(frozen=True)
class Change:
    """What changed for one function on one target between neighbouring versions."""

    api: str
    target: str
    before: str
    after: str
    what: tuple[str, ...]

    @property
    def text(self) -> str:
        return f"{self.api} [{self.target}] {self.before} -> {self.after}: {'; '.join(self.what)}"


def timing_change(before: Cell, after: Cell, threshold: float, noise: float, mismatch: str | None) -> str | None:
    """A function is slower (faster) when most of its cases timed in both versions are slower (faster)
    by ``verdicts.change``: the bootstrap interval of the case's time ratio beyond threshold x noise,
    the rule of ``portability compare``. Between two runs of the same commit and versions on the
    development VM, 5 of 692 functions still passed this bar; a median time ratio beyond 1.5x, 102 of 680."""
    if mismatch:
        return None
    if before.side.run_id == after.side.run_id and before.side.against != after.side.against:
        return side_by_side_change(before, after)
    bar = threshold * noise
    ratios, slower, faster = [], 0, 0
    for key in sorted(before.cases.keys() & after.cases.keys()):
        b, n = before.cases[key], after.cases[key]
        bs, ns = _samples(b), _samples(n)
        if not (bs and ns and outcomes.is_success(b["outcome"]) and outcomes.is_success(n["outcome"])):
            continue  # the cases verdicts.change gives no time ratio
        ratio = median(ns) / max(median(bs), 1e-12)  # stats.ratio_ci's point estimate
        ratios.append(ratio)
        # the bootstrap (the costly part) only where it can matter: at least a few percent of the
        # resampled ratios lie on each side of the point estimate, so an interval beyond the bar
        # needs a point beyond it
        if ratio > bar or ratio < 1 / bar:
            change = verdicts.change(b, n, threshold, noise)[0]
            slower += change == verdicts.SLOWER
            faster += change == verdicts.FASTER
    if 2 * slower > len(ratios):
        return f"{median(ratios):.2f}x slower ({slower} of {len(ratios)} timed cases beyond {bar:g}x)"
    if 2 * faster > len(ratios):
        return f"faster, {median(ratios):.2f}x the time ({faster} of {len(ratios)} timed cases beyond 1/{bar:g})"
    return None


def side_by_side_change(before: Cell, after: Cell) -> str | None:
    """The two sides of one ``--against`` run: their cases were timed together, rounds in turn, and
    each case's change (B against A, confirmed in fresh workers) is in side A's record; the same
    majority rule, at the run's own change threshold, with no run-to-run allowance."""
    a_cell = before if not before.side.against else after
    flip = a_cell is after  # the other environment holds the earlier version
    ratios: list[float] = []
    slower, faster, bar = 0, 0, 0.0
    for key in sorted(before.cases.keys() & after.cases.keys()):
        change = a_cell.cases[key].get("change")
        if not change or change["ratio"] is None:
            continue
        ratio, kind, bar = float(change["ratio"]), change["change"], change["threshold"]
        if flip:
            ratio = 1 / ratio
            kind = {verdicts.SLOWER: verdicts.FASTER, verdicts.FASTER: verdicts.SLOWER}.get(kind, kind)
        ratios.append(ratio)
        slower += kind == verdicts.SLOWER
        faster += kind == verdicts.FASTER
    if 2 * slower > len(ratios):
        return f"{median(ratios):.2f}x slower ({slower} of {len(ratios)} cases beyond {bar:g}x, timed side by side)"
    if 2 * faster > len(ratios):
        return (f"faster, {median(ratios):.2f}x the time ({faster} of {len(ratios)} cases beyond 1/{bar:g}, timed "
                "side by side)")
    return None


def _samples(record: CaseRecord) -> list[float]:
    return list((record.get("timing") or {}).get("samples_s") or [])


def compare_cells(before: Cell | None, after: Cell | None, threshold: float, noise: float,
                  mismatch: str | None) -> tuple[str, ...]:
    """What changed from one version's cell to the next; empty when nothing did."""
    if before is None and after is None:
        return ()
    if before is None:
        return ("added (not in the earlier version's run)",)
    if after is None:
        return ("removed (not in the later version's run)",)
    what = []
    if before.verdict != after.verdict:
        what.append(f"{before.verdict} -> {after.verdict}")
    what += [f"{c} appeared" for c in after.categories if c not in before.categories]
    what += [f"{c} gone" for c in before.categories if c not in after.categories]
    timed = timing_change(before, after, threshold, noise, mismatch)
    return (*what, timed) if timed else tuple(what)


@dataclass
class History:
    """One framework across its versions: a cell per function x target x version, and the changes
    between neighbouring versions (those with a run of the target)."""

    framework: str
    versions: list[str]
    cells: dict[tuple[str, str], dict[str, Cell]]  # (api, target) -> version -> cell
    changes: list[Change] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    runs: dict[str, list[str]] = field(default_factory=dict)  # version -> the sides shown

    def changed(self) -> dict[tuple[str, str], set[str]]:
        """(api, target) -> the versions at which it changed from the version before."""
        out: dict[tuple[str, str], set[str]] = defaultdict(set)
        for c in self.changes:
            out[(c.api, c.target)].add(c.after)
        return out

    def rows(self, changes_only: bool = False) -> list[tuple[str, str]]:
        """(api, target) in order of function and target; with ``changes_only`` those that changed."""
        changed = self.changed()
        keys = [k for k in self.cells if k in changed or not changes_only]
        return sorted(keys, key=lambda k: (k[0], summary.target_order(k[1])))


def _newest(candidates: Sequence[Side]) -> Side:
    # the run's own side before its against side when both ran the same version at the same start
    return max(candidates, key=lambda s: (s.started, not s.against, s.run_id))


def build_framework(fw: str, fw_sides: Sequence[Side], threshold: float, noise: float) -> History:
    by: dict[tuple[str, str], list[Side]] = defaultdict(list)
    for side in fw_sides:
        for tgt in {summary.target(c) for c in side.cases}:
            by[(side.version, tgt)].append(side)
    chosen = {k: _newest(v) for k, v in by.items()}
    versions = sorted({v for v, _ in chosen}, key=version_key)
    history = History(fw, versions, defaultdict(dict))
    for (version, tgt), candidates in sorted(by.items(), key=lambda kv: (version_key(kv[0][0]), kv[0][1])):
        if len(candidates) > 1:
            others = sorted({s.label for s in candidates} - {chosen[(version, tgt)].label})
            history.notes.append(f"{fw} {version} on {tgt}: {len(candidates)} runs; the newest is shown, "
                                 f"{chosen[(version, tgt)].label} (not {', '.join(others)})")
    for version in versions:
        history.runs[version] = sorted({s.label for (v, _), s in chosen.items() if v == version})
    for (version, tgt), side in sorted(chosen.items(), key=lambda kv: version_key(kv[0][0])):  # cells in release order
        by_api: dict[str, list[CaseRecord]] = defaultdict(list)
        for c in side.cases:
            if summary.target(c) == tgt:
                by_api[c["api"]].append(c)
        for api, cases in by_api.items():
            history.cells[(api, tgt)][version] = cell(cases, side)
    for tgt in sorted({t for _, t in chosen}, key=summary.target_order):
        present = [v for v in versions if (v, tgt) in chosen]
        for before, after in zip(present, present[1:], strict=False):
            a, b = chosen[(before, tgt)], chosen[(after, tgt)]
            mismatch = verdicts.timing_mismatch(a.meta, b.meta)
            if mismatch:
                history.notes.append(f"{fw} {before} -> {after} on {tgt}: {mismatch}; times not compared")
            for api in sorted({api for api, t in history.cells if t == tgt}):
                row = history.cells[(api, tgt)]
                if before not in row and after not in row:
                    continue
                what = compare_cells(row.get(before), row.get(after), threshold, noise, mismatch)
                if what:
                    history.changes.append(Change(api, tgt, before, after, what))
    history.changes.sort(key=lambda c: (version_key(c.after), c.api, summary.target_order(c.target)))
    return history


def build(runs: Iterable[storage.Run], frameworks: Sequence[str] | None = None,
          threshold: float = verdicts.DEFAULT_THRESHOLD, noise: float = verdicts.DEFAULT_BASELINE_NOISE,
          notes: list[str] | None = None) -> list[History]:
    """Every framework of the runs (or those named) across the versions the runs hold."""
    by_fw: dict[str, list[Side]] = defaultdict(list)
    for side in sides(runs, notes):
        if frameworks is None or side.framework in frameworks:
            by_fw[side.framework].append(side)
    return [build_framework(fw, s, threshold, noise) for fw, s in sorted(by_fw.items())]


# -- output ------------------------------------------------------------------------------------------

def cell_text(history: History, key: tuple[str, str], version: str, changed: Mapping[Any, set[str]]) -> str:
    found = history.cells[key].get(version)
    if found is None:
        return "-"
    return f"{CHANGED_MARK}{found.text}" if version in changed.get(key, ()) else found.text


def render(histories: Sequence[History], changes_only: bool = False) -> list[str]:
    """The terminal text: per framework its versions in release order, a table of its functions (those
    that changed, with ``changes_only``), and a line per change between neighbours."""
    lines: list[str] = []
    for h in histories:
        if lines:
            lines.append("")
        order = ", ".join(f"{v} ({', '.join(h.runs[v])})" for v in h.versions)
        lines.append(f"{h.framework}: {len(h.versions)} version{'s' if len(h.versions) != 1 else ''} in release "
                     f"order: {order}")
        lines += [f"  note: {n}" for n in h.notes]
        if len(h.versions) < 2:  # a table of one version is the run's own summary: nothing across versions
            lines.append(f"  history needs runs of two or more versions of {h.framework}")
            continue
        changed = h.changed()
        keys = h.rows(changes_only)
        if keys:
            body = [[api, tgt, *(cell_text(h, (api, tgt), v, changed) for v in h.versions)] for api, tgt in keys]
            lines += summary.format_table(("function", "target", *h.versions), body)
        lines.append(f"{len(h.changes)} change{'s' if len(h.changes) != 1 else ''} between neighbouring versions "
                     f"({len(changed)} of {len(h.cells)} functions x targets; {CHANGED_MARK} marks a changed cell)"
                     + (":" if h.changes else ""))
        lines += [f"  {c.text}" for c in h.changes]
    return lines or ["no cases in these runs"]


def as_dict(history: History) -> dict[str, Any]:
    """One framework's history as JSON-ready data (``portability history --format json``)."""
    changed = history.changed()
    return {
        "framework": history.framework,
        "versions": [{"version": v, "runs": history.runs[v]} for v in history.versions],
        "rows": [{"api": api, "target": tgt, "cells": {
            v: {"verdict": c.verdict, "categories": list(c.categories), "median_s": c.median_s, "run": c.side.label,
                "changed": v in changed.get((api, tgt), ())}
            for v, c in history.cells[(api, tgt)].items()}}
            for api, tgt in history.rows()],
        "changes": [{"api": c.api, "target": c.target, "before": c.before, "after": c.after, "what": list(c.what)}
                    for c in history.changes],
        "notes": history.notes,
    }
