"""Which CPUs a framework worker may use, and how many threads its framework runs on them.

A framework's CPU thread pool is a source of timing noise that has nothing to do with the
function measured. With two OpenMP threads on a two-CPU machine, every parallel region of a
microsecond torch kernel has to wake the second thread; how long that takes depends on whether
the thread is still spinning, and libgomp all but stops spinning while the process has more
OpenMP threads than CPUs, which any other live thread that has run an OpenMP region brings about
(earlier cases leave threads: torch.distributed's gloo threads live as long as the worker): the same
4,096-float ``torch.exp`` then takes 50 us instead of 5 us. So by default each worker is pinned
to one CPU (``--cpu-threads 1``), as ``torch.utils.benchmark`` times with one thread by default:
no parallel region ever waits for a second thread, and the measurement no longer depends on
what earlier cases left behind.

The CPU affinity is the one limit all three frameworks obey (OpenMP, TensorFlow's and XLA's
thread pools size themselves from it; JAX has no other); the usual environment variables are set
too, for platforms without ``sched_setaffinity``. It must happen before the framework is
imported, so the worker does it first thing.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

#: Thread-count variables read by the frameworks and their math libraries at import.
THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                    "TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS")
DEFAULT = "1"


def allowed() -> list[int]:
    """The CPUs this process may run on."""
    if hasattr(os, "sched_getaffinity"):
        return sorted(os.sched_getaffinity(0))
    return list(range(os.cpu_count() or 1))


def parse(value: str | int | None, available: int) -> int | None:
    """``--cpu-threads``: a count of CPUs per framework worker, or ``all`` (None: the
    frameworks' own choice). ``ValueError`` with one line naming the valid values."""
    text = str(DEFAULT if value is None else value).strip().lower()
    if text == "all":
        return None
    try:
        count = int(text)
    except ValueError:
        count = 0
    if not 1 <= count <= available:
        raise ValueError(f"--cpu-threads {value!r} is not valid on this machine ({available} CPUs usable); "
                         f"valid: 1-{available} or all")
    return count


def choose(count: int | None, slot: int, cpus: Sequence[int]) -> list[int]:
    """The CPUs for worker ``slot`` (the xdist worker's index, 0 without ``-n``): ``count`` of
    them taken from the highest down, each slot after the previous one, so parallel workers
    get CPUs of their own while there are enough. ``None``: all of them."""
    ordered = sorted(cpus, reverse=True)
    if count is None or not ordered:
        return sorted(ordered)
    return sorted({ordered[(slot * count + k) % len(ordered)] for k in range(count)})


def limit(cpus: Sequence[int], count: int | None) -> list[int]:
    """In a fresh worker, before the framework is imported: run on ``cpus`` with ``count``
    threads (``None`` leaves the thread counts to the frameworks). Returns the CPUs in effect."""
    if count is not None:
        for name in THREAD_VARIABLES:
            os.environ[name] = str(count)
    if cpus and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, set(cpus))
    return allowed()
