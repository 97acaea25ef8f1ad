"""Run files (DESIGN.md "Runs on disk"): ``reports/runs/<run-id>/run.json`` and ``cases.jsonl``.

``run.json`` is rewritten atomically (temp file + rename) whenever it changes, so a reader never
sees half of it. ``cases.jsonl`` gets one line per finished case, flushed at once: a run killed
with SIGKILL keeps every finished case, and its ``run.json`` still says ``running``.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import secrets
import socket
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

SCHEMA_VERSION = 1
KIND = "portability-run"
#: Status values of run.json. A run whose status is still "running" when read, and whose
#: process is gone, was killed: readers report it as interrupted.
COMPLETE, INTERRUPTED, RUNNING = "complete", "interrupted", "running"


class RunFileError(Exception):
    """A run directory that is missing, corrupt, or not written by this suite."""


def now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="milliseconds")


def new_run_id(host: str | None = None) -> str:
    stamp = _dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    host = "".join(c if c.isalnum() or c == "-" else "-" for c in (host or socket.gethostname()))[:24]
    return f"{stamp}-{host}-{secrets.token_hex(3)}"


def _write_json_atomic(path: Path, data: Any) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=False) + "\n")
    os.replace(tmp, path)


class RunWriter:
    """Creates a run directory and keeps its files current while the run goes on."""

    def __init__(self, results_dir: Path, meta: dict[str, Any]) -> None:
        runs = results_dir / "runs"
        runs.mkdir(parents=True, exist_ok=True)
        while True:  # mkdir is atomic: an id taken by a concurrent run is drawn again
            run_id = new_run_id()
            try:
                (runs / run_id).mkdir()
                break
            except FileExistsError:
                continue
        self.dir = runs / run_id
        self.meta: dict[str, Any] = {
            "schema": SCHEMA_VERSION,
            "kind": KIND,
            "run_id": run_id,
            "status": RUNNING,
            "started": now(),
            "ended": None,
            "pid": os.getpid(),
            **meta,
        }
        self.count = 0
        _write_json_atomic(self.dir / "run.json", self.meta)
        self._cases: IO[str] = open(self.dir / "cases.jsonl", "a", encoding="utf-8")  # noqa: SIM115

    def update(self, **fields: Any) -> None:
        self.meta.update(fields)
        _write_json_atomic(self.dir / "run.json", self.meta)

    def append(self, record: dict[str, Any]) -> None:
        self._cases.write(json.dumps(record, separators=(",", ":")) + "\n")
        self._cases.flush()
        self.count += 1

    def close(self, status: str, **fields: Any) -> None:
        self._cases.close()
        self.update(status=status, ended=now(), cases=self.count, **fields)


@dataclass
class Run:
    """A run read back from disk."""

    path: Path
    meta: dict[str, Any]
    cases: list[dict[str, Any]]
    skipped_lines: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def status(self) -> str:
        status = self.meta.get("status")
        return COMPLETE if status == COMPLETE else INTERRUPTED

    @property
    def run_id(self) -> str:
        return str(self.meta.get("run_id", self.path.name))


def read_run(path: Path | str) -> Run:
    """Read and check a run directory; ``RunFileError`` names the path and what is wrong."""
    path = Path(path)
    meta_path = path / "run.json"
    if not meta_path.is_file():
        raise RunFileError(f"{path}: not a run directory (no run.json)")
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise RunFileError(f"{meta_path}: unreadable: {exc}") from None
    if not isinstance(meta, dict) or meta.get("kind") != KIND:
        kind = meta.get("kind") if isinstance(meta, dict) else None
        raise RunFileError(f"{meta_path}: not a portability run file (kind {kind!r}, expected {KIND!r})")
    if meta.get("schema") != SCHEMA_VERSION:
        raise RunFileError(f"{meta_path}: schema version {meta.get('schema')!r}; this version reads {SCHEMA_VERSION}")
    cases, skipped, problems = _read_cases(path / "cases.jsonl")
    return Run(path, meta, cases, skipped, problems)


def _read_cases(path: Path) -> tuple[list[dict[str, Any]], int, list[str]]:
    if not path.exists():
        return [], 0, []
    cases: list[dict[str, Any]] = []
    problems: list[str] = []
    lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    for i, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError:
            # The last line of a killed run may be cut short; anything else is corruption.
            problems.append(f"{path}:{i}: {'truncated last line' if i == len(lines) else 'corrupt line'} skipped")
            continue
        if not isinstance(rec, dict) or "id" not in rec or "outcome" not in rec:
            problems.append(f"{path}:{i}: not a case record, skipped")
            continue
        cases.append(rec)
    return cases, len(problems), problems


def find_runs(results_dir: Path) -> list[Path]:
    runs = results_dir / "runs"
    return sorted(p for p in runs.iterdir() if (p / "run.json").is_file()) if runs.is_dir() else []


def latest_by_id(cases: Iterable[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Case records keyed by case id (a later record of the same id wins)."""
    return {c["id"]: c for c in cases}
