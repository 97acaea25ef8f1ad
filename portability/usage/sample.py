"""Draw the catalog's usage sample from a frequency table, the study's way (``portability sample``).

The study took the 20 most used names plus 5 names drawn at random from each frequency decile,
recorded no seed and redrew unusable picks by hand. Here the draw is a pure function of the
table, the seed and the counts: the top ``top`` APIs, then ``per_decile`` drawn without
replacement from each decile's remaining APIs with ``numpy.random.default_rng(seed)``. Only APIs
that exist in the mining framework version are eligible (``exists`` in the table), which
replaces the study's redraws by hand with a rule. APIs that cannot be exercised as a kernel on
any machine (they need the network, a C++ compiler, packages the suite does not install, or they
launch processes or exit the interpreter) are listed with a reason in an exclusion file and are
replaced by the next draw from the same decile. The sample records the seed, the table's sha256
and every exclusion.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from portability.usage.tables import dump

SCHEMA_VERSION = 1


def read_exclusions(path: Path) -> dict[str, str]:
    """``api  # reason`` per line; a line without a reason is refused (an exclusion must say why)."""
    found: dict[str, str] = {}
    for n, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        api, _, reason = line.partition("#")
        if not reason.strip():
            raise ValueError(f"{path}:{n}: exclusion of {api.strip()!r} gives no reason ('api  # reason')")
        found[api.strip()] = reason.strip()
    return found


def draw(
    table: dict[str, Any], seed: int, per_decile: int = 5, top: int = 20, exclude: dict[str, str] | None = None
) -> dict[str, Any]:
    """The sample as a dict (its ``functions`` ordered by rank); ``table`` as ``mine`` writes it."""
    if per_decile < 0 or top < 0:
        raise ValueError(f"--per-decile and --top must be 0 or more, got {per_decile} and {top}")
    exclude = exclude or {}
    rows = sorted(table["apis"], key=lambda r: r["rank"])
    eligible = [r for r in rows if r.get("exists") is not False]
    missing = len(rows) - len(eligible)
    rng = np.random.default_rng(seed)
    chosen: dict[str, dict[str, Any]] = {}
    passed_over: list[dict[str, Any]] = []
    for row in eligible:
        if len(chosen) == top:
            break
        if row["api"] in exclude:
            passed_over.append({"api": row["api"], "drawn": "top", "reason": exclude[row["api"]]})
        else:
            chosen[row["api"]] = {**row, "drawn": "top"}
    for decile in range(10, 101, 10):
        pool = [r for r in eligible if r["decile"] == decile and r["api"] not in chosen]
        taken = 0
        # A permutation, not a k-draw: an excluded pick is replaced by the next one in the order.
        for i in rng.permutation(len(pool)).tolist() if pool else []:
            if taken == per_decile:
                break
            row = pool[i]
            if row["api"] in exclude:
                passed_over.append({"api": row["api"], "drawn": f"decile {decile}", "reason": exclude[row["api"]]})
                continue
            chosen[row["api"]] = {**row, "drawn": f"decile {decile}"}
            taken += 1
    functions = sorted(chosen.values(), key=lambda r: r["rank"])
    return {
        "schema": SCHEMA_VERSION,
        "kind": "portability-sample",
        "framework": table["framework"],
        "framework_version": table.get("framework_version"),
        "method": f"top {top} by calls, then {per_decile} per frequency decile drawn without replacement "
                  f"as the first N of a permutation by numpy.random.default_rng({seed}) (numpy {np.__version__}); "
                  "APIs missing from the mining framework version are not eligible; excluded APIs are passed "
                  "over for the next in the permutation",
        "seed": seed,
        "top": top,
        "per_decile": per_decile,
        "excluded_missing": missing,
        "excluded": passed_over,
        "functions": [{k: r[k] for k in ("rank", "api", "calls", "files", "decile", "drawn")} for r in functions],
    }


def write(sample: dict[str, Any], table_path: Path, table_sha256: str, out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    record = {**sample, "table": {"path": str(table_path), "sha256": table_sha256}}
    out.write_text(dump(record))


class SampleError(Exception):
    """A sample file that cannot be read; the message names the file."""


def read(path: Path) -> dict[str, Any]:
    try:
        sample = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise SampleError(f"{path}: not a readable sample ({exc})") from None
    if not isinstance(sample, dict) or sample.get("kind") != "portability-sample":
        raise SampleError(f"{path}: not a portability sample file")
    if sample.get("schema") != SCHEMA_VERSION:
        raise SampleError(f"{path}: sample schema {sample.get('schema')!r}; this version reads {SCHEMA_VERSION}")
    return sample
