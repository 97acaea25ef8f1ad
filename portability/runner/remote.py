"""A framework worker in another Python environment (``--against PYTHON``): how the pytest process
asks that interpreter what it has (``probe``), starts a worker in it (``spawn``) and watches it
(``Process``); the worker's entry there is ``python -m portability.runner.pool`` (``pool.remote_entry``).

multiprocessing's spawn cannot serve here: it hands the child the parent's ``sys.path``, so the other
environment would import this one's frameworks. The other interpreter runs isolated (``-I``: no
PYTHONPATH, no current directory on its path), so it imports its own frameworks and its own install
of this project; the two speak ``loop.PROTOCOL`` over a socket (a multiprocessing ``Connection``).
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
from collections.abc import Mapping, Sequence
from multiprocessing.connection import Connection
from typing import Any

#: The messages a worker and the pytest process exchange (``loop``); a worker of another environment
#: must speak the same, which ``probe`` asks before anything runs.
PROTOCOL = 1
#: The distributions that make up each framework: their versions decide whether two environments differ.
DISTRIBUTIONS = {"torch": ("torch", "torch-xla"), "jax": ("jax", "jaxlib", "libtpu"),
                 "tensorflow": ("tensorflow", "tensorflow-cpu", "keras")}
PROBE_TIMEOUT_S = 120.0

_PROBE = """
import importlib.metadata as md, importlib.util, json, sys
out = {"python": sys.version.split()[0], "executable": sys.executable}
try:
    from portability.runner import remote
    out["protocol"] = remote.PROTOCOL
except Exception as exc:
    out["error"] = f"{type(exc).__name__}: {exc}"
out["frameworks"] = [m for m in ("torch", "jax", "tensorflow") if importlib.util.find_spec(m) is not None]
versions = {}
for dist in DISTS:
    try:
        versions[dist] = md.version(dist)
    except md.PackageNotFoundError:
        pass
out["versions"] = versions
print(json.dumps(out))
"""


class ProbeError(ValueError):
    """The interpreter given to ``--against`` cannot serve as the other side: one line, why."""


def probe(python: str) -> dict[str, Any]:
    """What the interpreter ``python`` has: its Python version, this project's worker protocol, the
    frameworks it can import and their distributions' versions (read from metadata, nothing imported
    but this project's worker modules). ``ProbeError`` when it is no such interpreter."""
    dists = sorted({d for ds in DISTRIBUTIONS.values() for d in ds})
    code = _PROBE.replace("DISTS", repr(dists))
    try:
        done = subprocess.run([python, "-I", "-c", code], capture_output=True, text=True, timeout=PROBE_TIMEOUT_S,
                              stdin=subprocess.DEVNULL)
    except FileNotFoundError:
        raise ProbeError(f"--against {python!r}: no such file") from None
    except PermissionError:
        raise ProbeError(f"--against {python!r}: not executable") from None
    except OSError as exc:
        raise ProbeError(f"--against {python!r}: cannot run it ({exc.strerror})") from None
    except subprocess.TimeoutExpired:
        raise ProbeError(f"--against {python!r}: no answer within {PROBE_TIMEOUT_S:g} s") from None
    lines = done.stdout.strip().splitlines()
    try:
        found: dict[str, Any] = json.loads(lines[-1]) if lines else {}
    except json.JSONDecodeError:
        found = {}
    if done.returncode != 0 or not found:
        said = next((ln for ln in reversed(done.stderr.splitlines()) if ln.strip()), "") or f"exit {done.returncode}"
        raise ProbeError(f"--against {python!r} did not run as a Python interpreter: {said.strip()[:200]}")
    return found


def framework_versions(versions: Mapping[str, str], framework: str) -> dict[str, str]:
    return {d: versions[d] for d in DISTRIBUTIONS[framework] if d in versions}


def against_problem(python: str, there: Mapping[str, Any], here: Mapping[str, str], frameworks: Sequence[str],
                    allow_same: bool, protocol: int = PROTOCOL) -> str | None:
    """Why the probed interpreter cannot be compared with this environment (one line), or None.
    ``there``: its ``probe``; ``here``: this environment's distribution versions."""
    if "error" in there:
        return (f"--against {python!r}: this project is not installed there ({there['error'][:160]}): "
                "install it in that environment (pip install -e <this checkout>)")
    if there.get("protocol") != protocol:
        return (f"--against {python!r} has another version of this suite (worker protocol {there.get('protocol')}, "
                f"here {protocol}): install this checkout there (pip install -e <this checkout>)")
    missing = [fw for fw in frameworks if fw not in there.get("frameworks", [])]
    if missing:
        return (f"--against {python!r} cannot import {', '.join(missing)} (it has "
                f"{', '.join(there.get('frameworks', [])) or 'no framework'}): choose the frameworks both have "
                "with --framework")
    theirs = there.get("versions", {})
    if not allow_same and all(framework_versions(theirs, fw) == framework_versions(here, fw) for fw in frameworks):
        same = ", ".join(f"{d} {v}" for fw in frameworks for d, v in framework_versions(here, fw).items())
        return (f"--against {python!r} has the same framework versions as this environment ({same}): nothing to "
                "compare; --against-same-versions runs it anyway (an A/A run, to measure the comparison's noise)")
    return None


def here_versions() -> dict[str, str]:
    """This environment's framework distributions and their versions (metadata, nothing imported)."""
    import importlib.metadata as md

    out = {}
    for dist in sorted({d for ds in DISTRIBUTIONS.values() for d in ds}):
        with contextlib.suppress(md.PackageNotFoundError):
            out[dist] = md.version(dist)
    return out


class Process:
    """A worker started with ``subprocess`` as the pool sees a multiprocessing ``Process``: its pid,
    whether it lives, its exit code (negative: the signal), ``join`` and a ``sentinel`` to wait on."""

    def __init__(self, popen: subprocess.Popen[bytes]) -> None:
        self.popen = popen
        self.pid = popen.pid
        # a pidfd is readable once the process has exited: what multiprocessing.connection.wait needs
        self.sentinel = os.pidfd_open(popen.pid)

    @property
    def exitcode(self) -> int | None:
        return self.popen.poll()

    def is_alive(self) -> bool:
        return self.popen.poll() is None

    def join(self, timeout: float | None = None) -> None:
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.popen.wait(timeout)
        if self.popen.returncode is not None:
            with contextlib.suppress(OSError):
                os.close(self.sentinel)


def spawn(python: str, out_fd: int, args: Mapping[str, Any]) -> tuple[Process, Connection]:
    """Start ``python -I -m portability.runner.pool`` (``pool.remote_entry``) with its stdout and stderr
    on ``out_fd`` and one end of a socket pair, over which it speaks as any worker does."""
    mine, theirs = socket.socketpair()
    try:
        popen = subprocess.Popen(
            [python, "-I", "-m", "portability.runner.pool", str(theirs.fileno()), json.dumps(dict(args))],
            pass_fds=(theirs.fileno(),), stdin=subprocess.DEVNULL, stdout=out_fd, stderr=out_fd)
    finally:
        theirs.close()
    return Process(popen), Connection(mine.detach())
