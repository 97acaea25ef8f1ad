"""Frequency tables on disk (``kernels/<framework>/frequency.json`` and ``.csv``): how ``portability
mine`` writes them and how ``portability sample`` and the catalog's coverage read them back."""

from __future__ import annotations

import csv
import hashlib
import io
import json
from pathlib import Path
from typing import Any

SCHEMA_VERSION = 1
#: Methods called on an object of unknown type, counted by name under this bucket.
METHOD_BUCKET = "<method>"


def table_csv(table: dict[str, Any]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=["rank", "api", "calls", "files", "decile", "exists"], lineterminator="\n")
    writer.writeheader()
    for row in table["apis"]:
        writer.writerow({**row, "exists": {True: "yes", False: "no", None: ""}[row["exists"]]})
    return buf.getvalue()


def dump(record: dict[str, Any]) -> str:
    """JSON with one list entry per line: readable diffs of the committed tables, a tenth the size
    of ``indent=1``."""
    parts = []
    for key, value in record.items():
        if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            rows = ",\n  ".join(json.dumps(v) for v in value)
            parts.append(f" {json.dumps(key)}: [\n  {rows}\n ]")
        else:
            parts.append(f" {json.dumps(key)}: {json.dumps(value)}")
    return "{\n" + ",\n".join(parts) + "\n}\n"


def write_table(table: dict[str, Any], prefix: Path) -> tuple[Path, Path]:
    """``PREFIX.json`` (everything) and ``PREFIX.csv`` (the ranked table)."""
    prefix.parent.mkdir(parents=True, exist_ok=True)
    json_path, csv_path = prefix.with_suffix(".json"), prefix.with_suffix(".csv")
    json_path.write_text(dump(table))
    csv_path.write_text(table_csv(table))
    return json_path, csv_path


class TableError(Exception):
    """A frequency table that cannot be read; the message names the file."""


def read_table(path: Path) -> tuple[dict[str, Any], str]:
    """A frequency table written by ``mine`` and the sha256 of its bytes."""
    try:
        data = path.read_bytes()
        table = json.loads(data)
    except (OSError, ValueError) as exc:
        raise TableError(f"{path}: not a readable frequency table ({exc})") from None
    if not isinstance(table, dict) or table.get("kind") != "portability-frequency":
        raise TableError(f"{path}: not a portability frequency table (kind {table.get('kind')!r})"
                         if isinstance(table, dict) else f"{path}: not a portability frequency table")
    if table.get("schema") != SCHEMA_VERSION:
        raise TableError(f"{path}: frequency table schema {table.get('schema')!r}; this version reads {SCHEMA_VERSION}")
    return table, hashlib.sha256(data).hexdigest()
