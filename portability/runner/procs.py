"""A framework worker's process group as the pytest process watches it: the memory it holds, the
output it prints, and killing it with every process a kernel started.

Each worker leads a process group of its own (``pool.entry`` calls ``os.setpgrp`` first thing), so
the processes a kernel starts are found, counted and killed with it: none outlives the run.
"""

from __future__ import annotations

import collections
import contextlib
import os
import signal
import threading
from pathlib import Path

#: A worker log keeps its first LOG_HEAD_BYTES and its last LOG_TAIL_BYTES: a kernel printing 100 MB
#: per call wrote logs of 734 MB, and the tail is what says why a worker died.
LOG_HEAD_BYTES = 16 * 2**20
LOG_TAIL_BYTES = 2**20


def page_size() -> int:
    return os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def machine_memory() -> int | None:
    """Bytes of memory this machine has (``MemTotal``), or None where /proc does not say."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def resident_bytes(pid: int) -> int:
    """The resident set of one process (0 once it is gone)."""
    try:
        with open(f"/proc/{pid}/statm") as f:
            return int(f.read().split()[1]) * page_size()
    except (OSError, ValueError, IndexError):
        return 0


def group_members(pgid: int) -> list[int]:
    """The processes of a process group (field 5 of ``/proc/<pid>/stat``)."""
    members = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        # the command name (field 2) is in parentheses and may hold spaces: split after it
        fields = stat.rpartition(")")[2].split()
        if len(fields) > 2 and fields[2] == str(pgid):
            members.append(int(entry.name))
    return members


def group_resident_bytes(pgid: int, leader_only: bool = False) -> int:
    """The resident memory of a process group: its leader's, plus its other members' unless
    ``leader_only`` (scanning /proc costs a few milliseconds; the leader's own figure, microseconds)."""
    if leader_only or not os.path.isdir("/proc"):
        return resident_bytes(pgid)
    return sum(resident_bytes(pid) for pid in group_members(pgid))


def kill_group(pgid: int) -> None:
    """SIGKILL every process of a group. Call it before the leader is reaped: while it is a zombie its
    pid cannot be taken by another process, so the signal reaches no stranger."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


class LogDrain:
    """Copies a worker's output (its stdout and stderr, one pipe) into its log file, in a thread of
    the pytest process. Past LOG_HEAD_BYTES it keeps only the last LOG_TAIL_BYTES, written after a
    line that says how much was left out when the output ends. A failed write (a full disk) is kept
    in ``error`` for the run to stop on; the pipe is still drained, so the worker never blocks."""

    def __init__(self, fd: int, path: Path, head: int = LOG_HEAD_BYTES, tail: int = LOG_TAIL_BYTES) -> None:
        self.fd = fd
        self.path = path
        self.head = head
        self.tail = tail
        self.written = 0
        #: bytes that came past the head: the log keeps the last ``tail`` of them
        self.beyond = 0
        self.error: OSError | None = None
        self._tail: collections.deque[bytes] = collections.deque()
        self._tail_bytes = 0
        self._file = open(path, "ab")  # noqa: SIM115 - closed when the output ends
        self._thread = threading.Thread(target=self._run, name=f"log {path.name}", daemon=True)
        self._thread.start()

    def _write(self, data: bytes) -> None:
        if self.error is not None:
            return
        try:
            self._file.write(data)
            self._file.flush()
        except OSError as exc:
            self.error = exc

    def _keep_tail(self, data: bytes) -> None:
        self.beyond += len(data)
        self._tail.append(data)
        self._tail_bytes += len(data)
        while self._tail_bytes - len(self._tail[0]) >= self.tail:
            self._tail_bytes -= len(self._tail.popleft())

    def _run(self) -> None:
        try:
            while True:
                try:
                    data = os.read(self.fd, 65536)
                except OSError:
                    break
                if not data:
                    break
                room = self.head - self.written
                if room > 0:
                    self._write(data[:room])
                    self.written += min(room, len(data))
                    data = data[room:]
                if data:
                    self._keep_tail(data)
        finally:
            self._finish()

    def _finish(self) -> None:
        if self._tail:
            kept = b"".join(self._tail)[-self.tail:]
            skipped = self.beyond - len(kept)
            if skipped:
                self._write(f"\n[portability: {skipped} bytes of output left out here: a worker log keeps its "
                            f"first {self.head} and last {self.tail} bytes]\n".encode())
            self._write(kept)
        with contextlib.suppress(OSError):
            self._file.close()
        with contextlib.suppress(OSError):
            os.close(self.fd)

    def wait(self, timeout: float) -> None:
        """Wait for the output to end (every writer gone) and the log to be complete."""
        self._thread.join(timeout)
