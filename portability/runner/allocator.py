"""The C allocator of a worker: freed memory is kept for the next call, never handed back.

glibc's malloc gives a freed block back to the system, to be faulted in afresh (zeroed page by page
by the kernel) the next time, in three ways: a block over the mmap threshold is mapped and unmapped
for each allocation; free memory at the top of the heap over the trim threshold is cut off; a
thread's arena drops heaps it no longer uses. The thresholds move with what the process has freed
before (the dynamic mmap threshold, at most 32 MB), so the same kernel, in two worker processes
with different histories, either reuses its output's memory or faults every page of it on every
call. In two default runs of the catalog, ``torch.fft.fft2`` (float64) took 7,488 page faults a
call in one worker and none in the other (3.4x the time), ``jax.random.uniform`` 5,121 against 2
(3.2x), ``torch.nn.functional.interpolate`` (bilinear, float64) 8,193 against none (3.1x; 3-8x in
earlier runs): what such a case measured was the worker's past, not the kernel.

So a worker, before NumPy or its framework allocates anything, asks glibc never to map a block of
its own (every block comes from the heap), never to trim the heap, and to use one arena for all
threads (XLA's and TensorFlow's pool threads would otherwise allocate from arenas of their own,
which are given back by other rules): memory once faulted in is reused, as in a long-running
program whose allocator has settled, whatever the worker freed before. The price is
that a worker holds on to the most memory it has used (its resident set does not shrink after a
large case); ``--worker-memory`` counts what it keeps and still stops a runaway case.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import platform

#: ``mallopt`` parameters (glibc's malloc.h), with the values a worker sets
M_TRIM_THRESHOLD = -1
M_MMAP_MAX = -4
M_ARENA_MAX = -8
SETTINGS = {
    "trim_threshold": (M_TRIM_THRESHOLD, -1),  # -1: never trim (mallopt(3))
    "mmap_max": (M_MMAP_MAX, 0),  # no block is mapped on its own
    "arena_max": (M_ARENA_MAX, 1),  # every thread allocates from the main heap
}


def keep_freed_memory() -> dict[str, int] | None:
    """Set glibc's malloc so that freed memory is kept for reuse (see the module's text). Returns
    what was set, for the record, or None where the C library is not glibc or refused a setting."""
    if platform.libc_ver()[0] != "glibc":
        return None
    try:
        mallopt = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").mallopt
    except (OSError, AttributeError):
        return None
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    for param, value in SETTINGS.values():
        if mallopt(param, value) != 1:  # mallopt returns 1 on success
            return None
    return {name: value for name, (_, value) in SETTINGS.items()}
