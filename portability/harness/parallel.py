"""``pytest -n N`` (pytest-xdist): how many workers a catalog run gets by default, and which device
each worker may use.

On the CPU the workers share the host, and their timings are marked as taken side by side. An
accelerator backend needs one device per worker: each worker is pinned to its own GPU through
``CUDA_VISIBLE_DEVICES`` (inherited by the framework workers it spawns), or the run is refused.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from portability.harness import environment
from portability.vocabulary import RUNS_ON

#: Memory set aside per xdist worker: it may start a worker of each framework (TensorFlow alone holds
#: about 650 MB once imported), with the cases' data on top.
WORKER_MEMORY = 2 * 1024**3
#: ``PORTABILITY_WORKERS=N`` sets the default number of workers of a catalog run (1: one process).
ENV = "PORTABILITY_WORKERS"


def default_workers(paths: Sequence[str], testpaths: Sequence[str], backend: str | None, cpu_threads: str | None,
                    asked: str | None, env: Mapping[str, str], cpus: int, memory: int | None) -> tuple[int, str]:
    """How many xdist workers a run gets when it does not say: one per CPU there is, so that a catalog
    run uses the machine, each worker with its own pinned CPU and one thread as under ``-n``
    (``--cpu-threads N`` gives each N CPUs), and no more than memory allows (``WORKER_MEMORY`` each).

    One (no xdist) where ``asked`` says why the run is to be left as it is (``-n`` given, xdist
    missing or turned off, a debugger, nothing to run), for anything but a catalog run (the paths it
    collects lie in a ``kernels`` folder: never another project's tests, nor this project's own), for
    a backend on an accelerator (a device per worker is the user's choice: ``-n``), and as
    ``PORTABILITY_WORKERS`` says. Returns (workers, why)."""
    if asked:
        return 1, asked
    if env.get(ENV):
        try:
            return max(1, int(env[ENV])), f"{ENV}={env[ENV]}"
        except ValueError:
            raise ValueError(f"{ENV}={env[ENV]!r}; valid: a number of workers (1: one process)") from None
    targets = list(paths) or list(testpaths)
    if not targets or not all("kernels" in Path(t.split("::")[0]).parts for t in targets):
        return 1, "not a catalog run"
    if any(RUNS_ON.get(b.strip(), "cpu") != "cpu" for b in (backend or "cpu").split(",") if b.strip()):
        return 1, "an accelerator backend: -n N pins N workers to N devices"
    threads = str(cpu_threads or "1").strip().lower()
    per = cpus if threads == "all" else max(1, int(threads)) if threads.isdigit() else 1
    workers = max(1, cpus // per)
    if memory:
        workers = min(workers, max(1, memory // WORKER_MEMORY))
    return workers, f"{cpus} CPUs, {per} per worker" + (f", memory for {workers}" if workers < cpus // per else "")


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
