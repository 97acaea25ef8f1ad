"""``pytest -n N`` (pytest-xdist): which device each worker may use.

On the CPU the workers share the host, and their timings are marked as taken side by side. An
accelerator backend needs one device per worker: each worker is pinned to its own GPU through
``CUDA_VISIBLE_DEVICES`` (inherited by the framework workers it spawns), or the run is refused.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

from portability.harness import environment
from portability.vocabulary import RUNS_ON


def plan(backends: Sequence[str], workers: int, gpus: Sequence[Mapping[str, str]] | None = None) -> dict[str, Any]:
    """The device plan for ``workers`` xdist workers; ``ValueError`` when they cannot be pinned."""
    # a compile-only backend needs no device of its own: every worker compiles (libtpu allows it,
    # ALLOW_MULTIPLE_LIBTPU_LOAD in the JAX adapter); xla-cpu runs on the host's CPUs
    accelerators = [b for b in backends if RUNS_ON.get(b) != "cpu"]
    if not accelerators:
        return {"workers": workers, "shared": "cpu", "devices": None}
    if "tpu" in accelerators:
        raise ValueError(f"-n {workers} cannot pin workers to TPU devices; run --backend=tpu without -n")
    found = list(environment.nvidia_gpus() if gpus is None else gpus)
    if len(found) < workers:
        raise ValueError(
            f"-n {workers} with --backend=gpu needs one GPU per worker to pin each to its own device; "
            f"this machine has {len(found)} NVIDIA GPU(s): run without -n"
            + (f", or with -n {len(found)}" if len(found) > 1 else "")
        )
    return {"workers": workers, "shared": "cpu", "devices": [g["uuid"] for g in found[:workers]],
            "pinned_with": "CUDA_VISIBLE_DEVICES"}


def pin(workerinput: Mapping[str, Any]) -> None:
    """In an xdist worker: restrict the framework workers it spawns to its own GPU."""
    device = workerinput.get("portability_device")
    if device:
        os.environ["CUDA_VISIBLE_DEVICES"] = str(device)
