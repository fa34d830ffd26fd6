"""The PostgreSQL backend (psycopg 3): one database shared by every server process.

No double booking is the database's own guarantee: the ``appointments_no_overlap`` exclusion
constraint (migrations.py) refuses a second active appointment overlapping another of the
same clinic and resource (one with the clinic as a whole overlaps everyone's), whichever
server or transaction writes it; its violation
(SQLSTATE 23P01) becomes ``SlotTaken``, which the store answers with SLOT_TAKEN. Rows of
several clinics may share the database; each store reads and writes only its own
(``clinic`` = ``[clinic] name``).

Connections come from a bounded ``psycopg_pool.ConnectionPool`` per process
(``[scheduler] pool_min_size`` / ``pool_max_size``), checked on checkout so a restarted
server costs no failed request. Blocking, like the SQLite backend: the Scheduler calls it
from worker threads. The password is ``Config.secrets.database_password`` (from the
environment only; a URL holding one is refused by the config), so it is never in
config.toml or in a message. Every driver error becomes ``StoreUnavailable`` here.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
from psycopg import errors
from psycopg_pool import ConnectionPool

from receptionist.config import Config
from receptionist.errors import SlotTaken, StoreUnavailable
from receptionist.scheduling import migrations
from receptionist.scheduling.backend import BusySpan
from receptionist.scheduling.messages import Appointment
from receptionist.scheduling.postgres_rows import PostgresSharedRows

CONNECT_TIMEOUT_S = 5
"""A server that does not answer a new connection in this long is down (libpq: whole s)."""
POOL_TIMEOUT_S = 5.0
"""How long a request waits for a free connection (all ``pool_max_size`` busy, or the
server unreachable) before StoreUnavailable: the same bound as SQLite's busy timeout."""
MIGRATION_LOCK = 7_270_437_001
"""pg_advisory_xact_lock key: two ``db upgrade`` runs at once take turns."""

_ACTIVE = "cancelled_at IS NULL"
_COLUMNS = "id, start_at, end_at, service, name, phone, reason, resource"
RESOURCE_LOCK = 7_270_437
"""pg_advisory_xact_lock's first key for bookings (the second: a hash of clinic and
resource): writers of one practitioner's appointments take turns, so two overlapping
inserts never wait on each other's index entries until the deadlock detector (1 s) picks
one. The constraint is still what forbids the overlap; a hash collision only serialises."""
_CLASH = (errors.ExclusionViolation, errors.DeadlockDetected)
"""A booking overlapping another is refused by the constraint (23P01). Two overlapping
writes could also each wait for the other until the deadlock detector aborts one (40P01),
which then lost the slot to the other just the same."""


class PostgresBackend:
    def __init__(self, url: str, config: Config) -> None:
        self.location = url  # holds no password: [scheduler] database is checked for that
        self._clinic = config.clinic.name
        self._tz = config.clinic.tz
        password = config.secrets.database_password
        self._connect_args: dict[str, Any] = {
            "connect_timeout": CONNECT_TIMEOUT_S,
            "application_name": "receptionist",
            **({"password": password} if password else {}),
        }
        self._pool = ConnectionPool(
            url,
            kwargs=self._connect_args,
            min_size=config.scheduler.pool_min_size,
            max_size=config.scheduler.pool_max_size,
            timeout=POOL_TIMEOUT_S,
            check=ConnectionPool.check_connection,
            name="receptionist-store",
            open=False,
        )
        self._checked = False
        self._opening = threading.Lock()

    def open(self) -> None:
        """Check the schema, then open the pool; again on each request until it succeeds.

        The check has a connection of its own, so an unreachable server fails at once with
        libpq's reason rather than after the pool's timeout.
        """
        with self._opening:
            if self._checked:
                return
            with self._mapped_errors():
                with psycopg.connect(self.location, **self._connect_args) as conn:
                    version = _version(conn)
                if version != migrations.LATEST:
                    raise StoreUnavailable(migrations.upgrade_hint(self.location, version))
                self._pool.open()
            self._checked = True

    def close(self) -> None:
        self._pool.close()

    def exists(self) -> bool:
        return True  # a server: whether it is reachable shows on first use

    def upgrade(self) -> tuple[int, int]:
        with self._mapped_errors(), psycopg.connect(self.location, **self._connect_args) as conn:
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
            conn.execute(migrations.POSTGRES_SCHEMA_VERSION_TABLE)
            before = _version(conn)
            if before > migrations.LATEST:
                raise StoreUnavailable(migrations.upgrade_hint(self.location, before))
            for step in migrations.steps_after(before):
                for statement in step.postgres:
                    conn.execute(statement)
                conn.execute(
                    "INSERT INTO schema_version (version, description, applied_at)"
                    " VALUES (%s, %s, now())",
                    (step.version, step.description),
                )
        return before, migrations.LATEST

    @contextmanager
    def transaction(self, *, write: bool) -> Iterator[PostgresTransaction]:
        # READ COMMITTED for both: a read is one statement; a write locks the row it changes
        # (own_active) and leaves overlap to the constraint.
        self.open()
        with self._mapped_errors(), self._pool.connection() as conn:
            yield PostgresTransaction(conn, self._clinic, self._tz)

    @contextmanager
    def connection(self) -> Iterator[psycopg.Connection[Any]]:
        """A pooled connection (one transaction) for the call records, which share this database."""
        self.open()
        with self._mapped_errors(), self._pool.connection() as conn:
            yield conn

    @contextmanager
    def _mapped_errors(self) -> Iterator[None]:
        try:
            yield
        except psycopg.Error as exc:  # PoolTimeout and PoolClosed are psycopg errors too
            raise StoreUnavailable(f"appointments database {self.location}: {exc}") from exc


class PostgresTransaction(PostgresSharedRows):
    def __init__(self, conn: psycopg.Connection[Any], clinic: str, tz: ZoneInfo) -> None:
        self._conn = conn
        self._clinic = clinic
        self._tz = tz

    @property
    def connection(self) -> psycopg.Connection[Any]:
        return self._conn

    def busy_spans(self, start: datetime, end: datetime) -> list[BusySpan]:
        rows = self._conn.execute(
            f"SELECT start_at, end_at, resource FROM appointments WHERE clinic = %s"
            f" AND {_ACTIVE} AND tstzrange(start_at, end_at) && tstzrange(%s, %s)",
            (self._clinic, start, end),
        ).fetchall()
        return [(self._local(row[0]), self._local(row[1]), row[2] or "") for row in rows]

    def appointments(self, not_over_at: datetime | None, phone: str = "") -> list[Appointment]:
        of_phone = " AND phone = %s" if phone else ""
        rows = self._conn.execute(
            f"SELECT {_COLUMNS} FROM appointments WHERE clinic = %s AND {_ACTIVE}"
            f" AND end_at > %s{of_phone} ORDER BY start_at, id",
            (self._clinic, not_over_at or datetime.min.replace(tzinfo=UTC),
             *([phone] if phone else [])),
        ).fetchall()  # fmt: skip
        return [self._appointment(row) for row in rows]

    def own_active(self, appointment_id: int, phone: str) -> Appointment | None:
        # FOR UPDATE: a second cancel or move of the same appointment waits for this one,
        # then finds it cancelled or moved (READ COMMITTED re-reads the locked row).
        row = self._conn.execute(
            f"SELECT {_COLUMNS} FROM appointments WHERE clinic = %s AND {_ACTIVE}"
            " AND id = %s AND phone = %s FOR UPDATE",
            (self._clinic, appointment_id, phone),
        ).fetchone()
        return None if row is None else self._appointment(row)

    def insert(self, draft: Appointment, now: datetime) -> int:
        with _clash_is_slot_taken(self._conn):
            self._take_turns(draft.practitioner)
            row = self._conn.execute(
                "INSERT INTO appointments (clinic, resource, start_at, end_at, service, name,"
                " phone, reason, created_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)"
                " RETURNING id",
                (self._clinic, draft.practitioner or None, draft.start, draft.end,
                 draft.service, draft.name, draft.phone, draft.reason, now),
            ).fetchone()  # fmt: skip
        assert row is not None
        return int(row[0])

    def reschedule(
        self, appointment_id: int, start: datetime, end: datetime, resource: str
    ) -> None:
        with _clash_is_slot_taken(self._conn):
            self._take_turns(resource)
            self._conn.execute(
                "UPDATE appointments SET start_at = %s, end_at = %s, resource = %s WHERE id = %s",
                (start, end, resource or None, appointment_id),
            )

    def mark_cancelled(self, appointment_id: int, now: datetime) -> None:
        self._conn.execute(
            "UPDATE appointments SET cancelled_at = %s WHERE id = %s", (now, appointment_id)
        )

    def phones(self) -> list[tuple[int, str]]:
        rows = self._conn.execute(
            "SELECT id, phone FROM appointments WHERE clinic = %s ORDER BY id", (self._clinic,)
        ).fetchall()
        return [(int(row[0]), str(row[1])) for row in rows]

    def set_phone(self, appointment_id: int, phone: str) -> None:
        self._conn.execute(
            "UPDATE appointments SET phone = %s WHERE clinic = %s AND id = %s",
            (phone, self._clinic, appointment_id),
        )

    def _take_turns(self, resource: str) -> None:
        """Wait for other writers of ``resource``'s appointments (RESOURCE_LOCK); released
        at commit, or by the savepoint's rollback when the slot was taken."""
        self._conn.execute(
            "SELECT pg_advisory_xact_lock(%s, hashtext(%s))",
            (RESOURCE_LOCK, f"{self._clinic}\x1f{resource}"),
        )

    def _appointment(self, row: tuple[Any, ...]) -> Appointment:
        id_, start, end, service, name, phone, reason, resource = row
        return Appointment(
            int(id_), self._local(start), self._local(end), service, name, phone, reason,
            resource or "",
        )  # fmt: skip

    def _local(self, moment: datetime) -> datetime:
        return moment.astimezone(self._tz)


@contextmanager
def _clash_is_slot_taken(conn: psycopg.Connection[Any]) -> Iterator[None]:
    """A clash rolls back to a savepoint, not the whole transaction: the store may then try
    another practitioner, or write nothing and leave."""
    conn.execute("SAVEPOINT clash")
    try:
        yield
    except _CLASH as exc:
        conn.execute("ROLLBACK TO SAVEPOINT clash")
        raise SlotTaken(str(exc)) from None
    conn.execute("RELEASE SAVEPOINT clash")


def _version(conn: psycopg.Connection[Any]) -> int:
    """The highest applied step; 0 for a database that has never been upgraded."""
    table = conn.execute("SELECT to_regclass('schema_version')").fetchone()
    if table is None or table[0] is None:
        return 0
    row = conn.execute("SELECT coalesce(max(version), 0) FROM schema_version").fetchone()
    return int(row[0]) if row else 0
