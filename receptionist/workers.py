"""``receptionist serve --workers N``: N server processes sharing one listening socket.

The parent binds the port once and starts N ``receptionist serve --listen-fd`` children that
inherit the socket (the prefork model): the kernel hands each new connection to whichever
child accepts it, and one that dies leaves the socket, and its queued connections, to the
others. The parent holds no call state. It gives the children:

- one stream secret (``RECEPTIONIST_STREAM_SECRET``), so a media stream may land on another
  child than the webhook that issued its token. Several machines must share one: set it in
  their environment; unset, the parent makes one for its own children and warns;
- one Prometheus multiprocess directory, so any child's ``/metrics`` covers all of them.

SIGTERM (or SIGINT) to the parent goes to every child, each of which drains (drain.py).
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from types import FrameType
from typing import IO

import structlog

from receptionist.config.environment import STREAM_SECRET
from receptionist.metrics import MULTIPROCESS_DIR, forget_process

log = structlog.get_logger()

LISTEN_BACKLOG = 1024


def listening_socket(host: str, port: int) -> socket.socket:
    """Bound, listening and inheritable: for the children of ``run_workers``."""
    sock = socket.create_server((host, port), backlog=LISTEN_BACKLOG)
    sock.set_inheritable(True)
    return sock


def worker_environment(environ: Mapping[str, str], metrics_dir: str) -> dict[str, str]:
    """The children's environment: the parent's, plus a shared stream secret and metrics dir."""
    env = dict(environ)
    if not env.get(STREAM_SECRET, "").strip():
        log.warning(
            "workers.stream_secret_generated",
            hint=f"set {STREAM_SECRET} (the same on every machine) when several machines"
            " serve one number",
        )
        env[STREAM_SECRET] = secrets.token_hex(32)
    env[MULTIPROCESS_DIR] = metrics_dir
    return env


def start_worker(
    sock: socket.socket, serve_args: Sequence[str], env: Mapping[str, str],
    *, output: IO[bytes] | None = None,
) -> subprocess.Popen[bytes]:  # fmt: skip
    """One ``receptionist <serve_args> --listen-fd`` child on ``sock``; its stdout and
    stderr to ``output`` (default: the parent's)."""
    fd = sock.fileno()
    command = [sys.executable, "-m", "receptionist.cli", *serve_args, "--listen-fd", str(fd)]
    return subprocess.Popen(command, pass_fds=(fd,), env=dict(env), stdout=output, stderr=output)


def run_workers(count: int, host: str, port: int, serve_args: Sequence[str]) -> int:
    """Start ``count`` children and wait for all; returns the worst exit status."""
    metrics_dir = tempfile.mkdtemp(prefix="receptionist-metrics-")
    try:
        with listening_socket(host, port) as sock:
            env = worker_environment(os.environ, metrics_dir)
            children = [start_worker(sock, serve_args, env) for _ in range(count)]
            log.info("workers.started", pids=[child.pid for child in children],
                     address=sock.getsockname()[:2])  # fmt: skip

            def forward(signum: int, _frame: FrameType | None) -> None:
                for child in children:
                    if child.poll() is None:
                        child.send_signal(signal.SIGTERM)

            signal.signal(signal.SIGTERM, forward)
            signal.signal(signal.SIGINT, forward)
            worst = 0
            for child in children:
                status = child.wait()
                forget_process(child.pid)
                log.info("workers.exited", pid=child.pid, status=status)
                worst = max(worst, abs(status))
            return worst
    finally:
        shutil.rmtree(metrics_dir, ignore_errors=True)
