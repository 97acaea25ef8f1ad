"""What the catalog holds, joined with usage data (``portability catalog``).

Each kernel is listed with its framework, category, dtypes and tags, its usage in our mined
frequency table (calls, decile), whether our seeded sample drew it, and whether the study sampled
it. Coverage per framework: the study's functions covered / total, and our sample's.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from portability.catalog import Kernel
from portability.catalog.load import framework_of, load_kernels
from portability.vocabulary import FRAMEWORKS


@dataclass(frozen=True)
class PaperRow:
    """One function of the study's per-function sample (``sampled_functions_qualified.csv``)."""

    framework: str
    api_name: str
    qualified: tuple[str, ...]
    decile: int | None
    mined_calls: int | None
    verdict_gpu: str
    verdict_tpu: str


def paper_rows() -> list[PaperRow]:
    """The study's sample, carried in the package (provenance: ``portability/data/README.md``)."""
    text = resources.files("portability").joinpath("data/paper_sampled_functions.csv").read_text()
    rows = []
    for r in csv.DictReader(io.StringIO(text)):
        # "torch.argsort; also torch.Tensor.argsort": the APIs its tests exercised, first one first
        qualified = tuple(q for q in (p.strip() for p in re.split(r";\s*(?:also\s+)?", r["qualified_api"])) if q)
        rows.append(PaperRow(
            framework=r["framework"], api_name=r["api_name"], qualified=qualified,
            decile=int(r["decile"]) if r["decile"] else None,
            mined_calls=int(r["mined_calls"]) if r["mined_calls"] else None,
            verdict_gpu=r["verdict_gpu_t4"], verdict_tpu=r["verdict_tpu"],
        ))
    return rows


def paper_api(row: PaperRow, tagged: Iterable[tuple[str, str]]) -> str | None:
    """Which of the ``(api, paper_name)`` entries tagged ``paper`` stands for a paper function: one
    naming an API its tests exercised, else one carrying its paper name, else one whose API ends in
    the paper's name (the study mined bare names: ``synchronize`` is ``torch.Stream.synchronize``)."""
    entries = list(tagged)
    for matches in (lambda api, _: api in row.qualified, lambda _, name: name == row.api_name,
                    lambda api, _: api.rsplit(".", 1)[-1] == row.api_name):
        found = next((api for api, name in entries if matches(api, name)), None)
        if found is not None:
            return found
    return None


def paper_match(row: PaperRow, kernels: Iterable[Kernel]) -> Kernel | None:
    """The kernel that stands for a paper function (see ``paper_api``)."""
    tagged = {k.api: k for k in kernels if k.paper}
    api = paper_api(row, ((k.api, k.paper_name) for k in tagged.values()))
    return tagged[api] if api else None


@dataclass
class Inventory:
    kernels: dict[str, list[tuple[Path, Kernel]]]  # framework -> (file, kernel)
    frequency: dict[str, dict[str, dict[str, Any]]]  # framework -> api -> frequency row
    sample: dict[str, dict[str, dict[str, Any]]]  # framework -> api -> sample row
    paper: list[PaperRow]


def usage(folder: Path) -> dict[str, dict[str, Any]]:
    """API -> {calls, decile, sampled} from a catalog folder's frequency table and sample."""
    freq, drawn = folder / "frequency.json", folder / "sample.json"
    rows = json.loads(freq.read_text())["apis"] if freq.is_file() else []
    sampled = {r["api"]: r["drawn"] for r in json.loads(drawn.read_text())["functions"]} if drawn.is_file() else {}
    found = {r["api"]: {"calls": r["calls"], "decile": r["decile"], "sampled": sampled.get(r["api"])} for r in rows}
    for api, how in sampled.items():
        found.setdefault(api, {"calls": 0, "decile": None, "sampled": how})
    return found


def load(kernels_dir: Path, frameworks: Iterable[str] = tuple(FRAMEWORKS)) -> Inventory:
    """Every catalog file under ``kernels_dir`` with its framework's frequency table and sample."""
    inv = Inventory({}, {}, {}, paper_rows())
    for fw in frameworks:
        folder = kernels_dir / fw
        inv.kernels[fw] = [(p, k) for p in sorted(folder.glob("*.py")) if framework_of(p) for k in load_kernels(p)]
        freq = folder / "frequency.json"
        rows = json.loads(freq.read_text())["apis"] if freq.is_file() else []
        inv.frequency[fw] = {r["api"]: r for r in rows}
        drawn = folder / "sample.json"
        srows = json.loads(drawn.read_text())["functions"] if drawn.is_file() else []
        inv.sample[fw] = {r["api"]: r for r in srows}
    return inv


COLUMNS = ("framework", "api", "file", "category", "calls", "decile", "sample", "paper", "paper_decile", "tags",
           "dtypes", "variants", "removed", "device_only", "cpu_failure")


def rows(inv: Inventory) -> list[dict[str, Any]]:
    out = []
    for fw, entries in inv.kernels.items():
        for path, k in entries:
            freq = inv.frequency[fw].get(k.api, {})
            drawn = inv.sample[fw].get(k.api)
            tags = [*k.tags, *(["sample"] if drawn else [])]
            out.append({
                "framework": fw, "api": k.api, "file": path.name, "category": k.category,
                "calls": freq.get("calls", 0), "decile": freq.get("decile", ""),
                "sample": drawn["drawn"] if drawn else "", "paper": "yes" if k.paper else "",
                "paper_decile": k.decile if k.paper and k.decile else "", "tags": " ".join(tags),
                "dtypes": " ".join(k.dtypes), "variants": " ".join(k.variants), "removed": k.removed,
                "device_only": k.device_only, "cpu_failure": k.cpu_failure,
            })
    return out


def coverage(inv: Inventory) -> dict[str, dict[str, Any]]:
    """Per framework: functions, and the study's / our sample's functions covered and missing."""
    result = {}
    for fw, entries in inv.kernels.items():
        kernels = [k for _, k in entries]
        apis = {k.api for k in kernels}
        prow = [r for r in inv.paper if r.framework == fw]
        paper_missing = [r.api_name for r in prow if paper_match(r, kernels) is None]
        sample_missing = [api for api in inv.sample[fw] if api not in apis]
        result[fw] = {
            "functions": len(apis),
            "paper_total": len(prow), "paper_covered": len(prow) - len(paper_missing), "paper_missing": paper_missing,
            "sample_total": len(inv.sample[fw]), "sample_covered": len(inv.sample[fw]) - len(sample_missing),
            "sample_missing": sample_missing,
        }
    return result


def render_csv(table: list[dict[str, Any]]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(COLUMNS), lineterminator="\n")
    writer.writeheader()
    writer.writerows(table)
    return buf.getvalue()


def render_table(table: list[dict[str, Any]]) -> list[str]:
    cols = ("framework", "api", "category", "calls", "decile", "sample", "paper", "dtypes")
    widths = {c: max([len(c), *(len(str(r[c])) for r in table)]) for c in cols}
    lines = ["  ".join(c.ljust(widths[c]) for c in cols)]
    lines += ["  ".join(str(r[c]).ljust(widths[c]) for c in cols).rstrip() for r in table]
    return lines
