"""A throwaway PostgreSQL cluster, from Debian's server binaries: for the tests and `make loadtest`.

``initdb`` into a fresh temporary folder, ``pg_ctl start`` on 127.0.0.1 and a free port with
the unix socket in that folder, and ``pg_ctl stop`` plus removal at the end. initdb refuses
to run as root, so as root the cluster belongs to the ``postgres`` user that Debian's package
creates, and the server commands run through ``runuser``. TCP logins need a password
(scram-sha-256), so the tests go through the same password path as a deployment.
"""

from __future__ import annotations

import glob
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg

SUPERUSER = "receptionist"
START_TIMEOUT_S = 60
HOW_TO_ENABLE = "PostgreSQL tests skipped: no server binaries (apt-get install postgresql)"
SPEED_SETTINGS = ("fsync=off", "synchronous_commit=off", "full_page_writes=off")
"""A throwaway cluster needs no durability; these make CREATE DATABASE and commits fast."""


@dataclass(frozen=True)
class Cluster:
    host: str
    port: int
    password: str

    def url(self, database: str) -> str:
        """A URL without the password, as config.toml would hold it."""
        return f"postgresql://{SUPERUSER}@{self.host}:{self.port}/{database}"

    def admin(self) -> psycopg.Connection:
        """An autocommit connection to the maintenance database, for CREATE/DROP DATABASE."""
        return psycopg.connect(self.url("postgres"), password=self.password, autocommit=True)

    @contextmanager
    def fresh_database(self) -> Iterator[str]:
        """A new, empty database; dropped, and its sessions ended, afterwards."""
        name = f"t_{secrets.token_hex(6)}"
        with self.admin() as conn:
            conn.execute(f"CREATE DATABASE {name}")
        try:
            yield self.url(name)
        finally:
            with self.admin() as conn:
                conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def server_binaries() -> Path | None:
    """The newest installed /usr/lib/postgresql/<version>/bin holding initdb, if any."""
    found = glob.glob("/usr/lib/postgresql/*/bin/initdb")
    if not found:
        return None
    newest = max(found, key=lambda path: int(Path(path).parent.parent.name.split(".")[0]))
    return Path(newest).parent


@contextmanager
def running_cluster(binaries: Path) -> Iterator[Cluster]:
    """Start a cluster and yield how to reach it; stop and delete it afterwards."""
    owner = _owner()
    root = Path(tempfile.mkdtemp(prefix="receptionist-pg-"))
    try:
        password = secrets.token_urlsafe(16)
        (root / "pwfile").write_text(password)
        if owner is not None:
            shutil.chown(root, owner.pw_uid, owner.pw_gid)
            shutil.chown(root / "pwfile", owner.pw_uid, owner.pw_gid)
        data, port = root / "data", _free_port()
        _run(owner, binaries / "initdb", "-D", data, "-U", SUPERUSER,
             "--pwfile", root / "pwfile", "--auth-local=trust", "--auth-host=scram-sha-256",
             "-E", "UTF8", "--locale=C")  # fmt: skip
        options = " ".join(
            ["-c listen_addresses=127.0.0.1", f"-c port={port}",
             f"-c unix_socket_directories={root}", *(f"-c {s}" for s in SPEED_SETTINGS)]
        )  # fmt: skip
        pg_ctl = binaries / "pg_ctl"
        _run(owner, pg_ctl, "start", "-D", data, "-w", "-t", str(START_TIMEOUT_S),
             "-l", root / "server.log", "-o", options)  # fmt: skip
        try:
            yield Cluster("127.0.0.1", port, password)
        finally:
            _run(owner, pg_ctl, "stop", "-D", data, "-m", "immediate", "-w")
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _owner() -> pwd.struct_passwd | None:
    """Who runs the server: None for the current user, Debian's ``postgres`` when root."""
    if os.geteuid() != 0:
        return None
    return pwd.getpwnam("postgres")  # KeyError: the Debian package was not installed


def _run(owner: pwd.struct_passwd | None, *command: object) -> None:
    args = [str(part) for part in command]
    if owner is not None:
        args = ["runuser", "-u", owner.pw_name, "--", *args]
    done = subprocess.run(args, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
