"""(b) Harness overhead per case: a case whose kernel does nothing measurable, sent to a live worker
and recorded exactly as a catalog run does (pipe round trip, kernel lookup, inputs, checks, freeing,
classification, record, append). The overhead is the case's wall time minus the time of its first
call and timed rounds. Target: median under 2 ms on the 2-core development machine.
"""

from __future__ import annotations

import statistics
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from portability import verdicts
from portability.catalog.cases import Case
from portability.catalog.load import find_kernel
from portability.harness.execute import build_record
from portability.results import storage
from portability.runner import backends, cpus
from portability.runner.pool import Pool
from portability.verdicts import judge_slowdown

from .conftest import FIGURES

NOOP = """
    from portability.catalog import Kernel, nothing
    KERNELS = [Kernel("jax.numpy.asarray", "creation", nothing(), call=lambda c: 0,
                      reference=lambda: 0)]
"""


def test_harness_overhead(benchmark: Any, tmp_path: Path) -> None:
    if "jax" not in backends.installed():
        pytest.skip("needs jax, the quickest framework to start")
    path = tmp_path / "kernels" / "jax" / "noop.py"
    path.parent.mkdir(parents=True)
    path.write_text(textwrap.dedent(NOOP))
    kernel = find_kernel(path, "jax.numpy.asarray")
    case = Case(str(path), "jax", kernel.api, "float32", "default", "cpu")
    nodeid = f"kernels/jax/noop.py::{kernel.api}[{case.param}]"
    config = {"budget_s": 0.0, "reference_timing": False}  # the minimum 5 rounds
    pool = Pool(tmp_path, cpus=cpus.choose(1, 0, cpus.allowed()), threads=1)  # as a catalog run
    pool.start(["jax"])
    log = storage.CaseLog(tmp_path / "cases.jsonl")
    overheads: list[float] = []

    def one_case() -> None:
        t0 = time.perf_counter()
        facts = pool.run("jax", case.__dict__, config, 60)
        verdict, ratio = judge_slowdown(verdicts.case_outcome(facts), facts, None, 1.5)
        log.append(build_record(case, kernel, nodeid, facts, verdict, ratio, time.perf_counter() - t0))
        wall = time.perf_counter() - t0
        assert verdict.outcome == "pass", verdict
        overheads.append(wall - facts["timing"]["first_call_s"] - sum(facts["timing"]["samples_s"]))

    try:
        benchmark.pedantic(one_case, rounds=300, warmup_rounds=10)
    finally:
        pool.close()
        log.close()
    median = statistics.median(overheads[10:])
    q1, _, q3 = statistics.quantiles(overheads[10:], n=4)
    benchmark.extra_info.update({"overhead_median_s": median, "overhead_iqr_s": q3 - q1})
    FIGURES.append(f"harness overhead per case (no-op kernel, jax worker): median {median * 1e3:.3f} ms, "
                   f"IQR {(q3 - q1) * 1e3:.3f} ms over {len(overheads) - 10} cases")
    assert median < 0.002, f"median harness overhead {median * 1e3:.2f} ms is over 2 ms"
