"""What machine and code a run measured, gathered without importing any framework.

Framework versions, visible devices and numerics flags come from the workers (they import the
frameworks); this module covers the rest: CPU, memory, accelerators and drivers, OS, Python, git.
"""

from __future__ import annotations

import os
import platform
import shutil
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any


def _run(cmd: list[str], cwd: Path | None = None) -> str | None:
    try:
        out = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=10, check=True)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip()


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith(("model name", "hardware", "cpu model")):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def memory_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 2**20, 1)
    except (OSError, ValueError):
        pass
    return None


def nvidia_gpus() -> list[dict[str, str]]:
    """NVIDIA GPUs with driver version, from nvidia-smi (absent on machines without one)."""
    if shutil.which("nvidia-smi") is None:
        return []
    out = _run(["nvidia-smi", "--query-gpu=name,driver_version,memory.total,uuid", "--format=csv,noheader"])
    gpus = []
    for line in (out or "").splitlines():
        parts = [p.strip() for p in line.split(",")]
        if len(parts) == 4:
            name, driver, memory, uuid = parts
            gpus.append({"vendor": "nvidia", "name": name, "driver": driver, "memory": memory, "uuid": uuid})
    cuda = _run(["nvidia-smi"]) or ""
    for token in cuda.split("|"):
        if "CUDA Version" in token:
            version = token.split("CUDA Version:")[1].strip().split()[0]
            for g in gpus:
                g["driver_cuda"] = version
    return gpus


def rocm_gpus() -> list[dict[str, str]]:
    if shutil.which("rocm-smi") is None:
        return []
    out = _run(["rocm-smi", "--showproductname", "--showdriverversion", "--csv"]) or ""
    return [{"vendor": "amd", "raw": line} for line in out.splitlines()[1:] if line.strip()]


def tpus() -> list[dict[str, str]]:
    accels = sorted(str(p) for p in Path("/dev").glob("accel*"))
    env = {k: v for k, v in os.environ.items() if k in ("TPU_NAME", "TPU_ACCELERATOR_TYPE")}
    return [{"vendor": "google", "devices": ", ".join(accels), **env}] if accels or env else []


def git_info(root: Path) -> dict[str, Any]:
    commit = _run(["git", "rev-parse", "HEAD"], cwd=root)
    if commit is None:
        return {"commit": None}
    dirty = _run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root)
    return {"commit": commit, "dirty": bool(dirty)}


def load_average() -> list[float] | None:
    """1, 5 and 15 minute load averages, where the OS has them."""
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except (AttributeError, OSError):
        return None


def machine(root: Path) -> dict[str, Any]:
    return {
        "hostname": socket.gethostname(),
        "cpu": cpu_model(),
        "cpu_count": os.cpu_count(),
        "cpus_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        # other load on the machine when the run started: timings taken beside it are noisier
        "load_average": load_average(),
        "memory_gib": memory_gib(),
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "python_implementation": platform.python_implementation(),
        "accelerators": nvidia_gpus() + rocm_gpus() + tpus(),
        "git": git_info(root),
    }
