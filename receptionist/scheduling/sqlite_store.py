"""The SQLite backend (stdlib): one file per clinic, on one machine.

Every transaction opens its own connection, so one backend may be used from any worker
thread and several stores (or processes) may share one file. Times are stored as UTC epoch
seconds. Write transactions are ``BEGIN IMMEDIATE``: the write lock is taken before the
overlap check, so two bookings of the same or overlapping slots are serialised and the
second sees the first. A new (empty) file gets the whole schema on first use; a file of an
older schema is refused until ``receptionist db upgrade``.

Every ``sqlite3.Error`` (and a failure to create the database folder) is mapped here to
``StoreUnavailable``.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from receptionist.errors import SlotTaken, StoreUnavailable
from receptionist.scheduling import migrations
from receptionist.scheduling.backend import BusySpan
from receptionist.scheduling.messages import Appointment
from receptionist.scheduling.sqlite_rows import SqliteSharedRows

BUSY_TIMEOUT_S = 5.0
"""How long a writer waits for another's transaction before StoreUnavailable. A booking
holds the write lock for about a millisecond, so a 5 s wait means the disk is stuck."""

_ACTIVE = "cancelled_at IS NULL"
_COLUMNS = "id, start_ts, end_ts, service, name, phone, reason, resource"
_NO_ID = 0  # for clash checks when booking: SQLite row ids start at 1


class SqliteBackend:
    def __init__(self, path: str | Path, tz: ZoneInfo) -> None:
        self.path = Path(path)
        self.location = str(self.path)
        self._tz = tz

    def open(self) -> None:
        with self._connection():
            pass

    def close(self) -> None:
        """Nothing to release: connections live for one transaction."""

    def exists(self) -> bool:
        return self.path.exists()

    def upgrade(self) -> tuple[int, int]:
        with self._connection(check_schema=False) as conn:
            return _upgrade(conn, self.location)

    @contextmanager
    def transaction(self, *, write: bool) -> Iterator[SqliteTransaction]:
        with self._connection() as conn:
            if not write:  # autocommit: each read is its own consistent statement
                yield SqliteTransaction(conn, self._tz)
                return
            with _write_transaction(conn):
                yield SqliteTransaction(conn, self._tz)

    def connection(self) -> AbstractContextManager[sqlite3.Connection]:
        """A raw connection (autocommit) for the call records, which share this database."""
        return self._connection()

    @contextmanager
    def _connection(self, *, check_schema: bool = True) -> Iterator[sqlite3.Connection]:
        """A fresh connection; sqlite3 errors become StoreUnavailable."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # isolation_level=None: we issue BEGIN IMMEDIATE ourselves; sqlite3's implicit
            # BEGIN would be DEFERRED and take the write lock only after the overlap check.
            conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
        except (OSError, sqlite3.Error) as exc:
            raise StoreUnavailable(f"cannot open {self.path}: {exc}") from exc
        try:
            conn.row_factory = sqlite3.Row
            if check_schema:
                _check_schema(conn, self.location)
            yield conn
        except sqlite3.Error as exc:
            raise StoreUnavailable(f"appointments database {self.path}: {exc}") from exc
        finally:
            conn.close()


class SqliteTransaction(SqliteSharedRows):
    def __init__(self, conn: sqlite3.Connection, tz: ZoneInfo) -> None:
        self._conn = conn
        self._tz = tz

    @property
    def connection(self) -> sqlite3.Connection:
        return self._conn

    def busy_spans(self, start: datetime, end: datetime) -> list[BusySpan]:
        rows = self._conn.execute(
            f"SELECT start_ts, end_ts, resource FROM appointments WHERE {_ACTIVE}"
            " AND start_ts < ? AND end_ts > ?",
            (_ts(end), _ts(start)),
        ).fetchall()
        return [
            (self._local(row["start_ts"]), self._local(row["end_ts"]), row["resource"] or "")
            for row in rows
        ]

    def appointments(self, not_over_at: datetime | None, phone: str = "") -> list[Appointment]:
        of_phone = " AND phone = ?" if phone else ""
        rows = self._conn.execute(
            f"SELECT {_COLUMNS} FROM appointments WHERE {_ACTIVE} AND end_ts > ?{of_phone}"
            " ORDER BY start_ts",
            (-1 if not_over_at is None else _ts(not_over_at), *([phone] if phone else [])),
        ).fetchall()
        return [self._appointment(row) for row in rows]

    def own_active(self, appointment_id: int, phone: str) -> Appointment | None:
        row = self._conn.execute(
            f"SELECT {_COLUMNS} FROM appointments WHERE {_ACTIVE} AND id = ? AND phone = ?",
            (appointment_id, phone),
        ).fetchone()
        return None if row is None else self._appointment(row)

    def insert(self, draft: Appointment, now: datetime) -> int:
        self._check_free(draft.start, draft.end, draft.practitioner, _NO_ID)
        cursor = self._conn.execute(
            "INSERT INTO appointments (start_ts, end_ts, service, name, phone, reason,"
            " resource, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (_ts(draft.start), _ts(draft.end), draft.service, draft.name, draft.phone,
             draft.reason, draft.practitioner or None, _ts(now)),
        )  # fmt: skip
        assert cursor.lastrowid is not None
        return cursor.lastrowid

    def reschedule(
        self, appointment_id: int, start: datetime, end: datetime, resource: str
    ) -> None:
        self._check_free(start, end, resource, appointment_id)
        self._conn.execute(
            "UPDATE appointments SET start_ts = ?, end_ts = ?, resource = ? WHERE id = ?",
            (_ts(start), _ts(end), resource or None, appointment_id),
        )

    def mark_cancelled(self, appointment_id: int, now: datetime) -> None:
        self._conn.execute(
            "UPDATE appointments SET cancelled_at = ? WHERE id = ?", (_ts(now), appointment_id)
        )

    def phones(self) -> list[tuple[int, str]]:
        rows = self._conn.execute("SELECT id, phone FROM appointments ORDER BY id").fetchall()
        return [(row["id"], row["phone"]) for row in rows]

    def set_phone(self, appointment_id: int, phone: str) -> None:
        self._conn.execute(
            "UPDATE appointments SET phone = ? WHERE id = ?", (phone, appointment_id)
        )

    def _check_free(self, start: datetime, end: datetime, resource: str, except_id: int) -> None:
        # Under the write lock (BEGIN IMMEDIATE): what PostgreSQL's exclusion constraint does;
        # the whole clinic ('') shares its time with everyone (practitioners.share_time).
        clash = self._conn.execute(
            f"SELECT id FROM appointments WHERE {_ACTIVE} AND start_ts < ? AND end_ts > ?"
            " AND (coalesce(resource, '') IN (?, '') OR ? = '') AND id != ?",
            (_ts(end), _ts(start), resource, resource, except_id),
        ).fetchone()
        if clash:
            raise SlotTaken(f"clashes with appointment {clash['id']}")

    def _appointment(self, row: sqlite3.Row) -> Appointment:
        return Appointment(
            id=row["id"],
            start=self._local(row["start_ts"]),
            end=self._local(row["end_ts"]),
            service=row["service"],
            name=row["name"],
            phone=row["phone"],
            reason=row["reason"],
            practitioner=row["resource"] or "",
        )

    def _local(self, timestamp: int) -> datetime:
        return datetime.fromtimestamp(timestamp, self._tz)


@contextmanager
def _write_transaction(conn: sqlite3.Connection) -> Iterator[None]:
    """Hold the database write lock from before the first read until commit."""
    conn.execute("BEGIN IMMEDIATE")  # waits up to BUSY_TIMEOUT_S for another writer
    try:
        yield
    except BaseException:
        if conn.in_transaction:  # some errors (disk full) have rolled back already
            conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def _check_schema(conn: sqlite3.Connection, location: str) -> None:
    """Refuse an older or newer schema; give a new, empty file the whole schema."""
    version = _version(conn)
    if version == 0:
        _upgrade(conn, location)
    elif version != migrations.LATEST:
        raise StoreUnavailable(migrations.upgrade_hint(location, version))


def _upgrade(conn: sqlite3.Connection, location: str) -> tuple[int, int]:
    # The default rollback journal, not WAL: switching a new file to WAL while another
    # connection does the same fails with "database is locked" without waiting out the busy
    # timeout (4 of 600 simultaneous first bookings, SQLite 3.40), and a booking holds the
    # lock for about a millisecond, too briefly for WAL's concurrent readers to matter.
    with _write_transaction(conn):  # read again under the lock: another process may have won
        before = _version(conn)
        if before > migrations.LATEST:
            raise StoreUnavailable(migrations.upgrade_hint(location, before))
        conn.execute(migrations.SQLITE_SCHEMA_VERSION_TABLE)
        for step in migrations.steps_after(before):
            for statement in step.sqlite:
                conn.execute(statement)
            conn.execute(
                "INSERT INTO schema_version (version, description, applied_at) VALUES (?, ?, ?)",
                (step.version, step.description, time.time()),
            )
        conn.execute(f"PRAGMA user_version = {migrations.LATEST}")
    return before, migrations.LATEST


def _version(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def _ts(moment: datetime) -> int:
    return int(moment.timestamp())
