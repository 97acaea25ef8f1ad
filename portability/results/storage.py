"""Run files (docs/architecture.md, "Run files"): ``reports/runs/<run-id>/run.json`` and ``cases.jsonl``.

``run.json`` is rewritten atomically (temp file + rename) whenever it changes, so a reader never
sees half of it. ``cases.jsonl`` gets one line per finished case, flushed at once: a run killed
with SIGKILL keeps every finished case, and its ``run.json`` still says ``running``.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import fcntl
import json
import os
import re
import secrets
import shutil
import socket
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from portability.records import (
    COMPLETE,
    INCOMPLETE,
    INTERRUPTED,
    KIND,
    RUNNING,
    SCHEMA_VERSION,
    CaseRecord,
    RunMeta,
    SchemaError,
    clean_text,
    migrate_case,
    migrate_meta,
)
from portability.records.check import case_record_problem

__all__ = ["COMPLETE", "INCOMPLETE", "INTERRUPTED", "KIND", "RUNNING", "SCHEMA_VERSION", "CaseLog", "Run",
           "RunFileError", "RunWriteError", "RunWriter", "find_runs", "latest_by_key", "read_run"]


class RunFileError(Exception):
    """A run directory that is missing, corrupt, or not written by this suite."""


class RunWriteError(Exception):
    """A run file that could not be written (a full disk, a read-only folder): one line naming it."""

    def __init__(self, path: Path, exc: OSError) -> None:
        super().__init__(f"cannot write {path}: {exc.strerror or exc}")
        self.path = path


def now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="milliseconds")


def new_run_id(host: str | None = None) -> str:
    stamp = _dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    host = "".join(c if c.isalnum() or c == "-" else "-" for c in (host or socket.gethostname()))[:24]
    return f"{stamp}-{host}-{secrets.token_hex(3)}"


def _write_json_atomic(path: Path, data: Any) -> None:
    """Write through a temporary file and a rename; ``RunWriteError`` leaves the old file and no
    temporary one behind."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(json.dumps(data, indent=2, sort_keys=False) + "\n")
        os.replace(tmp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise RunWriteError(path, exc) from None


class CaseLog:
    """Appends case records to ``cases.jsonl``, one line each, written at once.

    Several processes may append to one file (``pytest -n``): each line is written whole under
    an exclusive lock, so lines never interleave. A line that cannot be written whole (a full disk)
    is cut off again, so the file keeps only whole records, and ``RunWriteError`` says why.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self._fd: int | None = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        except OSError as exc:
            raise RunWriteError(path, exc) from None
        self.count = 0

    def append(self, record: CaseRecord) -> None:
        assert self._fd is not None, "append after close"
        data = (json.dumps(record, separators=(",", ":")) + "\n").encode("utf-8")
        fcntl.flock(self._fd, fcntl.LOCK_EX)
        try:
            end = os.fstat(self._fd).st_size
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(self._fd, view):]
            except OSError as exc:
                with contextlib.suppress(OSError):
                    os.ftruncate(self._fd, end)
                raise RunWriteError(self.path, exc) from None
        finally:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
        self.count += 1

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


class RunWriter:
    """Creates a run directory and keeps its files current while the run goes on."""

    def __init__(self, results_dir: Path, meta: RunMeta | dict[str, Any]) -> None:
        runs = results_dir / "runs"
        try:
            runs.mkdir(parents=True, exist_ok=True)
            while True:  # mkdir is atomic: an id taken by a concurrent run is drawn again
                run_id = new_run_id()
                try:
                    (runs / run_id).mkdir()
                    break
                except FileExistsError:
                    continue
        except OSError as exc:
            raise RunWriteError(Path(exc.filename) if exc.filename else runs, exc) from None
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
        try:
            _write_json_atomic(self.dir / "run.json", self.meta)
            self.cases = CaseLog(self.dir / "cases.jsonl")
        except RunWriteError:
            shutil.rmtree(self.dir, ignore_errors=True)  # nothing was written: no run
            raise

    def update(self, **fields: Any) -> None:
        self.meta.update(fields)
        _write_json_atomic(self.dir / "run.json", self.meta)

    def append(self, record: CaseRecord) -> None:
        self.cases.append(record)

    def close(self, status: str, **fields: Any) -> None:
        self.cases.close()
        # Count the lines on disk: under pytest -n the workers appended them, not this process.
        count = sum(1 for line in (self.dir / "cases.jsonl").read_text(encoding="utf-8").splitlines() if line)
        collected = fields.get("collected", self.meta.get("collected"))
        if status == COMPLETE and isinstance(collected, int) and count < collected:
            status = INCOMPLETE  # complete means every collected case finished
        self.update(status=status, ended=now(), cases=count, **fields)


def write_worker_report(run_dir: Path, worker_id: str, report: dict[str, Any]) -> None:
    """``xdist-<worker>.json``: what a ``pytest -n`` worker saw (its frameworks' versions, devices and
    CPUs, how many framework workers it started), for the controller's ``run.json``."""
    _write_json_atomic(run_dir / f"xdist-{worker_id}.json", report)


def read_worker_reports(run_dir: Path) -> list[dict[str, Any]]:
    """The reports of a run's ``pytest -n`` workers, in worker order; one cut short is passed over."""
    reports = []
    for path in sorted(run_dir.glob("xdist-*.json"), key=lambda p: (len(p.name), p.name)):
        try:
            reports.append(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError):
            continue
    return [r for r in reports if isinstance(r, dict) and isinstance(r.get("frameworks"), dict)]


def has_cases(run_dir: Path) -> bool:
    """Whether any case was written into a run directory."""
    path = run_dir / "cases.jsonl"
    return path.is_file() and path.stat().st_size > 0


@dataclass
class Run:
    """A run read back from disk."""

    path: Path
    meta: RunMeta
    cases: list[CaseRecord]
    skipped_lines: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def status(self) -> str:
        """complete, incomplete or interrupted as the run ended; a run still marked running is running
        while its process is alive on this machine, and was killed (interrupted) otherwise."""
        status = self.meta.get("status")
        if status in (COMPLETE, INCOMPLETE, INTERRUPTED):
            return str(status)
        if status == RUNNING and _alive(self.meta.get("pid"), (self.meta.get("machine") or {}).get("hostname")):
            return RUNNING
        return INTERRUPTED

    @property
    def run_id(self) -> str:
        return str(self.meta.get("run_id", self.path.name))


def _alive(pid: Any, hostname: Any) -> bool:
    """Whether the process that wrote a run is still alive: only knowable on the machine that ran it."""
    if not isinstance(pid, int) or hostname != socket.gethostname():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # alive, under another user
    return True


def read_run(path: Path | str) -> Run:
    """Read and check a run directory; ``RunFileError`` names the path and what is wrong. A directory
    with ``cases.jsonl`` but no ``run.json`` is read as an interrupted run of unknown options, with a
    problem line saying so."""
    path = Path(path)
    meta_path = path / "run.json"
    if not meta_path.is_file():
        if not (path / "cases.jsonl").is_file():
            raise RunFileError(f"{path}: not a run directory (no run.json, no cases.jsonl)")
        return _read_orphan_cases(path)
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise RunFileError(f"{meta_path}: unreadable: {exc}") from None
    if not isinstance(meta, dict) or meta.get("kind") != KIND:
        kind = meta.get("kind") if isinstance(meta, dict) else None
        raise RunFileError(f"{meta_path}: not a portability run file (kind {kind!r}, expected {KIND!r})")
    schema = meta.get("schema")
    try:
        migrated = migrate_meta(meta)  # an older run file is read in today's form, never refused
    except SchemaError as exc:
        raise RunFileError(f"{meta_path}: {exc}") from None
    assert isinstance(schema, int)
    cases, problems = _read_cases(path / "cases.jsonl", schema)
    return Run(path, migrated, cases, len(problems), problems)


def _read_orphan_cases(path: Path) -> Run:
    """A run directory whose ``run.json`` is gone (deleted, or lost with a copy): its cases are real, but
    what was asked and where it ran are not known."""
    meta: RunMeta = {"schema": SCHEMA_VERSION, "kind": KIND, "run_id": path.name, "status": INTERRUPTED,
                     "ended": None, "options": {}, "machine": {}, "frameworks": {}, "numerics": {},
                     "compile_targets": {}}
    # The schema of the records is not known either: read them as the oldest, whose migration only
    # fills in what a record lacks, so a record of any schema comes out in today's form.
    cases, problems = _read_cases(path / "cases.jsonl", 1)
    missing = (f"{path / 'run.json'}: missing: the run's options, machine and framework versions are unknown; "
               "its cases are read from cases.jsonl and it is taken as interrupted")
    return Run(path, meta, cases, len(problems), [missing, *problems])


def _valid_text(value: Any) -> Any:
    """``value`` with every string as a record keeps it (``records.clean_text``: lone surrogates, which
    are invalid UTF-8, replaced by '?'; control characters shown as escapes), through dicts and lists."""
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, dict):
        return {_valid_text(k): _valid_text(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_valid_text(v) for v in value]
    return value


#: JSON escapes of what ``clean_text`` changes: lone surrogates (``\udcff``), and control characters
#: (``\u001b``, ``\b``, ``\f``, ``\r``), which this suite's older versions stored as a framework
#: printed them. A line without any is read as it is (the fast path).
_UNCLEAN = re.compile(r"\\(u[dD]|u00|b|f|r)")


def _read_cases(path: Path, schema: int) -> tuple[list[CaseRecord], list[str]]:
    """The good records of ``cases.jsonl`` in today's form, and one problem line per line skipped."""
    if not path.exists():
        return [], []
    cases: list[CaseRecord] = []
    problems: list[str] = []
    lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    for i, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError:
            # The last line of a killed run may be cut short; anything else is corruption.
            what = "truncated last line" if i == len(lines) else "corrupt line (not JSON)"
            problems.append(f"{path}:{i}: {what}; skipped")
            continue
        if _UNCLEAN.search(line):
            # Older versions wrote text decoded with surrogateescape as JSON escapes of lone surrogates
            # ("\udcff"), which no UTF-8 writer (CSV, Parquet, an expectations file) accepts, and
            # terminal escapes as a framework printed them, which 'portability cases' would pass on.
            rec = _valid_text(rec)
        if isinstance(rec, dict):
            rec = migrate_case(rec, schema)
        problem = case_record_problem(rec)
        if problem is not None:
            problems.append(f"{path}:{i}: {problem}; skipped")
            continue
        cases.append(rec)
    return cases, problems


def find_runs(results_dir: Path) -> list[Path]:
    """The run directories under ``results_dir/runs``: those with ``run.json``, and those with only
    ``cases.jsonl`` (their ``run.json`` lost), which ``read_run`` reads with a problem line."""
    runs = results_dir / "runs"
    if not runs.is_dir():
        return []
    return sorted(p for p in runs.iterdir() if (p / "run.json").is_file() or (p / "cases.jsonl").is_file())


def latest_by_key(cases: Iterable[CaseRecord]) -> dict[str, CaseRecord]:
    """Case records by case key (a later record of the same key wins)."""
    return {c["key"]: c for c in cases}
