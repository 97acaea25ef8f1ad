"""Expected failures: known failing cases per framework x backend (``--expectations DIR``).

``DIR/<framework>-<backend>.txt`` lists one case key per line with the outcome it had when the
file was written (``torch.linalg.cholesky[float16-cpu]  # fail:not_implemented: ...``); files
written before case keys hold pytest node ids (``kernels/torch/linalg.py::torch.linalg.cholesky[...]``),
read as the keys they name. In a run given the folder, a
listed case that fails is an expected failure (pytest xfail) and does not fail the session; a
failure that is not listed does; a listed case that now passes is reported as fixed.
``portability expectations update RUN_DIR`` writes the files from a run's failing cases.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path

from portability import outcomes
from portability.records import CaseRecord, key_of
from portability.vocabulary import BACKENDS, FRAMEWORKS


class ExpectationsError(Exception):
    """An expectations folder or file that cannot be used; the message names it."""


def filename(framework: str, backend: str) -> str:
    return f"{framework}-{backend}.txt"


def read(folder: Path) -> dict[str, str]:
    """Case key -> the outcome recorded for it, from every ``<framework>-<backend>.txt`` in ``folder``."""
    if not folder.is_dir():
        raise ExpectationsError(f"--expectations {str(folder)!r} is not a folder of <framework>-<backend>.txt files")
    valid = {filename(f, b) for f in FRAMEWORKS for b in BACKENDS}
    found: dict[str, str] = {}
    for path in sorted(folder.glob("*.txt")):
        if path.name not in valid:
            raise ExpectationsError(f"{path}: not a <framework>-<backend>.txt name; valid: {', '.join(sorted(valid))}")
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError as exc:
            raise ExpectationsError(f"{path}: not UTF-8 text (byte {exc.object[exc.start]:#04x} at offset "
                                    f"{exc.start}): it is not a file 'expectations update' wrote") from None
        for n, line in enumerate(text.splitlines(), start=1):
            case_id, _, note = line.partition("  # ")
            case_id = case_id.strip()
            if not case_id or case_id.startswith("#"):
                continue
            try:
                key = key_of(case_id)
            except ValueError:
                raise ExpectationsError(
                    f"{path}:{n}: {case_id!r} is not a case key (<api>[<dtype>-<backend>]) "
                    "or node id (kernels/<framework>/<file>.py::<api>[...])") from None
            # the outcome is the note's first word: "fail:dtype: expected output dtype ..." -> "fail:dtype"
            found[key] = note.split(": ", 1)[0].strip()
    return found


def write(cases: Iterable[CaseRecord], folder: Path) -> list[Path]:
    """One file per framework x backend that has failing cases; files of the run's other
    framework x backend pairs are rewritten empty-handed (removed), so fixed cases drop out."""
    failing: dict[tuple[str, str], list[CaseRecord]] = defaultdict(list)
    pairs = set()
    for c in cases:
        pairs.add((c["framework"], c["backend"]))
        if outcomes.is_failure(c["outcome"]):
            failing[(c["framework"], c["backend"])].append(c)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for fw, backend in sorted(pairs):
        path = folder / filename(fw, backend)
        rows = sorted(failing.get((fw, backend), []), key=lambda c: c["key"])
        if not rows:
            path.unlink(missing_ok=True)
            continue
        header = f"# expected failures of {fw} on {backend}; `portability expectations update RUN_DIR` rewrites it\n"
        body = "".join(f"{c['key']}  # {c['outcome']}: {' '.join(str(c.get('message') or '').split())[:120]}\n"
                       for c in rows)
        path.write_text(header + body, encoding="utf-8")
        written.append(path)
    return written
