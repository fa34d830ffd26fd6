"""A real CalDAV server for the calendar tests: Radicale on 127.0.0.1, storage in a temp folder.

Plain-text htpasswd users, no login delay (Radicale waits a second after a wrong password by
default), nothing read from the machine's own Radicale config. ``stop`` and ``start`` keep the
port and the storage, so a test can take the calendar away and bring it back.
"""

from __future__ import annotations

import secrets
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

USER = "clinic"
PASSWORD = "correct-horse-battery"
START_TIMEOUT_S = 20.0
STOP_TIMEOUT_S = 10.0


class RadicaleServer:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.port = _free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        (folder / "htpasswd").write_text(f"{USER}:{PASSWORD}\n", encoding="utf-8")
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        command = [
            sys.executable, "-m", "radicale", "--config", "",
            "--server-hosts", f"127.0.0.1:{self.port}",
            "--storage-filesystem-folder", str(self.folder / "collections"),
            "--auth-type", "htpasswd",
            "--auth-htpasswd-filename", str(self.folder / "htpasswd"),
            "--auth-htpasswd-encryption", "plain",
            "--auth-delay", "0",
            "--logging-level", "warning",
        ]  # fmt: skip
        log = (self.folder / "radicale.log").open("ab")
        self._process = subprocess.Popen(command, stdout=log, stderr=log)
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:  # the fixture's own wait for a subprocess to listen, not a test's sleep
            if self._process.poll() is not None:
                raise RuntimeError(f"radicale exited: see {self.folder / 'radicale.log'}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            self._process.wait(STOP_TIMEOUT_S)
            self._process = None

    def new_calendar(self) -> str:
        """A fresh, empty calendar collection (MKCALENDAR); its URL."""
        url = f"{self.base_url}/{USER}/{secrets.token_hex(6)}/"
        response = httpx.request("MKCALENDAR", url, auth=(USER, PASSWORD))
        response.raise_for_status()
        return url


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
