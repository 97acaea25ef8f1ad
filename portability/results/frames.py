"""Runs as pandas tables: ``portability.load_runs(paths)`` and ``portability export``.

One row per case, flat columns: the run (id, machine, accelerator, framework version, size), the
case (id, framework, api, category, dtype, variant, backend, outcome, failure, message, check),
its timing (median, IQR, first call, rounds), its ratio to the reference, and its usage
metadata (paper, deciles, how our sample drew it). The raw timing samples stay in the run files.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from portability.results import storage

if TYPE_CHECKING:
    import pandas as pd

COLUMNS = (
    "run_id", "run_status", "machine", "accelerator", "framework_version", "size",
    "key", "id", "framework", "api", "category", "dtype", "variant", "backend", "mode", "outcome", "failure", "message",
    "exception", "check", "device_used", "median_s", "iqr_s", "first_call_s", "rounds", "calls_per_round",
    "ratio", "ratio_ci_low", "ratio_ci_high", "ratio_reference", "paper", "paper_decile", "usage_calls",
    "usage_decile", "sampled", "expected", "repro",
)


def accelerator(meta: Mapping[str, Any]) -> str:
    """The run's accelerators in words ("NVIDIA H100 80GB HBM3 (driver 580.65)"), or "none"."""
    gpus = (meta.get("machine") or {}).get("accelerators") or []
    names = []
    for g in gpus:
        if isinstance(g, dict):
            driver = f" (driver {g['driver']})" if g.get("driver") else ""
            names.append(f"{g.get('name', '?')}{driver}")
        else:
            names.append(str(g))
    return ", ".join(names) or "none"


def case_rows(run: storage.Run) -> list[dict[str, Any]]:
    meta = run.meta
    machine = meta.get("machine") or {}
    versions = {fw: (info.get("versions") or {}).get(fw) for fw, info in (meta.get("frameworks") or {}).items()}
    size = (meta.get("options") or {}).get("size", "medium")
    acc = accelerator(meta)
    rows = []
    for c in run.cases:
        t = c.get("timing") or {}
        r = c.get("ratio") or {}
        u = c.get("usage") or {}
        rows.append({
            "run_id": run.run_id, "run_status": run.status, "machine": machine.get("cpu") or machine.get("hostname"),
            "accelerator": acc, "framework_version": versions.get(c.get("framework")), "size": size,
            **{k: c.get(k) for k in ("key", "id", "framework", "api", "category", "dtype", "variant", "backend", "mode",
                                     "outcome", "failure", "message", "exception", "check")},
            "device_used": ",".join(c.get("device_used") or []),
            "median_s": t.get("median_s"), "iqr_s": t.get("iqr_s"), "first_call_s": t.get("first_call_s"),
            "rounds": t.get("rounds"), "calls_per_round": t.get("calls_per_round"),
            "ratio": r.get("ratio"), "ratio_ci_low": r.get("ci_low"), "ratio_ci_high": r.get("ci_high"),
            "ratio_reference": r.get("reference"),
            "paper": bool(c.get("paper")), "paper_decile": c.get("decile") if c.get("paper") else None,
            "usage_calls": u.get("calls"), "usage_decile": u.get("decile"), "sampled": u.get("sampled"),
            "expected": c.get("expected"), "repro": c.get("repro"),
        })
    return rows


def load_runs(paths: Iterable[str | Path], notes: list[str] | None = None) -> pd.DataFrame:
    """Every case of the given run directories as one DataFrame (one row per case). Given ``notes``,
    the problems met reading the runs (lines skipped, a run.json missing) are appended there."""
    import pandas as pd

    rows = []
    for p in paths:
        run = storage.read_run(p)
        if notes is not None:
            notes.extend(run.problems)
        rows.extend(case_rows(run))
    return pd.DataFrame(rows, columns=list(COLUMNS))


def export(run_dir: str | Path, fmt: str, out: Path, notes: list[str] | None = None) -> Path:
    """Write one run's cases as CSV or Parquet; ``notes`` as for ``load_runs``."""
    frame = load_runs([run_dir], notes)
    if fmt == "csv":
        frame.to_csv(out, index=False)
    elif fmt == "parquet":
        frame.to_parquet(out, index=False)
    else:
        raise ValueError(f"unknown export format {fmt!r}; valid: csv, parquet")
    return out
