"""A worker keeps freed memory for the next call (``runner.allocator``): a block freed and allocated
again is reused, not handed back to the system and faulted in afresh. Counted in page faults, which,
unlike times, do not depend on how fast the machine is."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys

import pytest

pytestmark = pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc's mallopt")

#: Allocate, fill and free a block 10 times, as a kernel's output between two calls, and count the
#: minor page faults: a 40 MB block (over the largest mmap threshold glibc ever chooses itself, so
#: mapped afresh for every allocation by default), a 16 MB one with MALLOC_TRIM_THRESHOLD_=0 in the
#: environment (glibc trims the heap at every free: the state some workers were found in by their
#: history), and a 16 MB one in another thread (as XLA's and TensorFlow's pool threads allocate).
LOOP = """
import json, resource, sys, threading
import numpy as np
from portability.runner import allocator
np._core.multiarray._set_madvise_hugepage(False)  # count 4 KB pages: NumPy asks for 2 MB ones by default
kept = allocator.keep_freed_memory() if sys.argv[1] == "kept" else None

def faults(n):
    np.ones(n // 8).sum()  # the first allocation faults in any case
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(10):
        np.ones(n // 8).sum()
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before

out = {"kept": kept, "40MB": faults(40 << 20), "16MB": faults(16 << 20)}
t = threading.Thread(target=lambda: out.update(thread=faults(16 << 20)))
t.start(); t.join()
print(json.dumps(out))
"""


def _faults(mode: str) -> dict[str, object]:
    env = {**os.environ, "MALLOC_TRIM_THRESHOLD_": "0"}
    out = subprocess.run([sys.executable, "-c", LOOP, mode], env=env, capture_output=True, text=True, check=True,
                         timeout=120)
    return dict(json.loads(out.stdout))


def test_a_worker_reuses_freed_blocks_of_any_size_in_any_thread() -> None:
    loose, kept = _faults("loose"), _faults("kept")
    assert kept["kept"] == {"trim_threshold": -1, "mmap_max": 0, "arena_max": 1}
    pages_16mb = (16 << 20) // 4096
    for block in ("40MB", "16MB", "thread"):
        got_loose, got_kept = loose[block], kept[block]
        assert isinstance(got_loose, int) and isinstance(got_kept, int)
        # glibc's defaults: every allocation faults its pages in again (10 x at least 4,096 pages)
        assert got_loose >= 10 * pages_16mb, (block, loose)
        # kept: the block is faulted in once, before counting, and reused
        assert got_kept * 100 <= got_loose, (block, loose, kept)

