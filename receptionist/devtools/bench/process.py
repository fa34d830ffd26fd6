"""The server under benchmark as a child process: start, stop, CPU and RSS from /proc."""

from __future__ import annotations

import math
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
BENCH_CORE = 1
"""Callers and fakes run on this core; the server is pinned to the other (core 0)."""
STOP_TIMEOUT_S = 30.0
"""SIGTERM to exit: the server drains first, slowly on a loaded machine."""


@dataclass
class ServerProcess:
    """bench/server.py in a subprocess; its CPU and RSS read from /proc."""

    overrides: list[str]
    log: Path
    env: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen[str] | None = None
    url: str = ""

    def __enter__(self) -> ServerProcess:
        command = [sys.executable, "-m", "receptionist.devtools.bench.server", str(self.log)]
        self.process = subprocess.Popen(
            [*command, *self.overrides], stdout=subprocess.PIPE, text=True, cwd=ROOT,
            env={**os.environ, **self.env},
        )  # fmt: skip
        assert self.process.stdout is not None
        line = self.process.stdout.readline().split()
        if line[:1] != ["PORT"]:
            raise RuntimeError(f"server did not start; see {self.log}")
        self.url = f"http://127.0.0.1:{line[1]}"
        return self

    def __exit__(self, *_exc: object) -> None:
        assert self.process is not None
        self.process.terminate()
        try:
            self.process.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:  # a loaded machine: its figures are already taken
            self.process.kill()
            self.process.wait()

    def _pids(self) -> list[int]:
        """The server and its children (the recogniser's worker processes)."""
        assert self.process is not None
        pid = self.process.pid
        try:
            children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        except OSError:
            children = []
        return [pid, *map(int, children)]

    def cpu_s(self, *, workers: bool = True) -> float:
        """utime + stime of the server, and of its recogniser workers unless ``workers``
        is False."""
        assert self.process is not None
        total = 0.0
        for pid in self._pids() if workers else [self.process.pid]:
            try:
                stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue  # a worker that has just exited
            total += (int(stat[11]) + int(stat[12])) / os.sysconf("SC_CLK_TCK")
        return total

    def runqueue_wait_s(self) -> float:
        """How long the server's event loop was ready to run but waiting for a core."""
        assert self.process is not None
        return runqueue_wait_s(self.process.pid)

    def rss_mb(self) -> float:
        total = 0.0
        for pid in self._pids():
            try:
                status = Path(f"/proc/{pid}/status").read_text().splitlines()
            except OSError:
                continue
            total += sum(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))
        return total / 1024 if total else math.nan


def runqueue_wait_s(pid: int) -> float:
    """Seconds the process's main thread (the trio loop's) spent ready to run but waiting
    for a core (the second field of /proc/<pid>/task/<pid>/schedstat): time a frame waited
    for the CPU, not for our code. 0 where the kernel keeps no scheduler statistics."""
    try:
        return int(Path(f"/proc/{pid}/task/{pid}/schedstat").read_text().split()[1]) / 1e9
    except (OSError, IndexError, ValueError):
        return 0.0


def pin_self() -> str:
    if hasattr(os, "sched_setaffinity") and len(os.sched_getaffinity(0)) > 1:
        os.sched_setaffinity(0, {BENCH_CORE})
        return "core 0 (callers and fakes on core 1)"
    return "nothing (one core: callers, fakes and server share it)"
