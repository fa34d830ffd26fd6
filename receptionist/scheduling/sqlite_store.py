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

import json
import sqlite3
import time
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from receptionist.errors import SlotTaken, StoreUnavailable
from receptionist.scheduling import migrations
from receptionist.scheduling.backend import OUTCOME_TTL, TRANSFER_TTL, CallOutcome, TransferRow
from receptionist.scheduling.messages import Appointment, LeaveMessage
from receptionist.scheduling.outbox import OutboxItem
from receptionist.scheduling.slots import Span

BUSY_TIMEOUT_S = 5.0
"""How long a writer waits for another's transaction before StoreUnavailable. A booking
holds the write lock for about a millisecond, so a 5 s wait means the disk is stuck."""

_ACTIVE = "cancelled_at IS NULL"
_COLUMNS = "id, start_ts, end_ts, service, name, phone, reason"
_NO_ID = 0  # for clash checks when booking: SQLite row ids start at 1
_OUTBOX_DUE = """
    SELECT id, topic, key, payload, attempts FROM outbox AS item
    WHERE topic = ? AND done_at IS NULL AND next_attempt_at <= ?
      AND (claimed_until IS NULL OR claimed_until <= ?)
      AND NOT EXISTS (SELECT 1 FROM outbox AS older WHERE older.topic = item.topic
                      AND older.key = item.key AND older.done_at IS NULL AND older.id < item.id)
    ORDER BY id LIMIT ?"""


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


class SqliteTransaction:
    def __init__(self, conn: sqlite3.Connection, tz: ZoneInfo) -> None:
        self._conn = conn
        self._tz = tz

    @property
    def connection(self) -> sqlite3.Connection:
        return self._conn

    def busy_spans(self, start: datetime, end: datetime) -> list[Span]:
        rows = self._conn.execute(
            f"SELECT start_ts, end_ts FROM appointments WHERE {_ACTIVE}"
            " AND start_ts < ? AND end_ts > ?",
            (_ts(end), _ts(start)),
        ).fetchall()
        return [(self._local(row["start_ts"]), self._local(row["end_ts"])) for row in rows]

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
        self._check_free(draft.start, draft.end, _NO_ID)
        cursor = self._conn.execute(
            "INSERT INTO appointments (start_ts, end_ts, service, name, phone, reason,"
            " created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (_ts(draft.start), _ts(draft.end), draft.service, draft.name, draft.phone,
             draft.reason, _ts(now)),
        )  # fmt: skip
        assert cursor.lastrowid is not None
        return cursor.lastrowid

    def reschedule(self, appointment_id: int, start: datetime, end: datetime) -> None:
        self._check_free(start, end, appointment_id)
        self._conn.execute(
            "UPDATE appointments SET start_ts = ?, end_ts = ? WHERE id = ?",
            (_ts(start), _ts(end), appointment_id),
        )

    def mark_cancelled(self, appointment_id: int, now: datetime) -> None:
        self._conn.execute(
            "UPDATE appointments SET cancelled_at = ? WHERE id = ?", (_ts(now), appointment_id)
        )

    def insert_message(self, message: LeaveMessage, now: datetime) -> int:
        cursor = self._conn.execute(
            "INSERT INTO clinic_messages (call_sid, name, phone, about, reason, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (message.call_sid, message.name, message.phone, message.about,
             message.reason.value, now.timestamp()),
        )  # fmt: skip
        assert cursor.lastrowid is not None
        return cursor.lastrowid

    def phones(self) -> list[tuple[int, str]]:
        rows = self._conn.execute("SELECT id, phone FROM appointments ORDER BY id").fetchall()
        return [(row["id"], row["phone"]) for row in rows]

    def set_phone(self, appointment_id: int, phone: str) -> None:
        self._conn.execute(
            "UPDATE appointments SET phone = ? WHERE id = ?", (phone, appointment_id)
        )

    def add_outbox(self, topic: str, key: str, payload: Mapping[str, Any], now: datetime) -> None:
        self._conn.execute(
            "INSERT INTO outbox (topic, key, payload, next_attempt_at, created_at)"
            " VALUES (?, ?, ?, ?, ?)",
            (topic, key, json.dumps(payload), now.timestamp(), now.timestamp()),
        )

    def outbox_claim(
        self, topic: str, limit: int, now: datetime, lease_until: datetime
    ) -> tuple[OutboxItem, ...]:
        # Under the write lock (BEGIN IMMEDIATE), so no other claim runs between the two.
        at = now.timestamp()
        rows = self._conn.execute(_OUTBOX_DUE, (topic, at, at, limit)).fetchall()
        self._conn.executemany(
            "UPDATE outbox SET claimed_until = ? WHERE id = ?",
            [(lease_until.timestamp(), row["id"]) for row in rows],
        )
        return tuple(
            OutboxItem(row["id"], row["topic"], row["key"], json.loads(row["payload"]),
                       row["attempts"])
            for row in rows
        )  # fmt: skip

    def outbox_done(self, item_id: int, now: datetime) -> None:
        self._conn.execute(
            "UPDATE outbox SET done_at = ?, claimed_until = NULL WHERE id = ?",
            (now.timestamp(), item_id),
        )

    def outbox_waiting(self, topic: str) -> int:
        row = self._conn.execute(
            "SELECT count(*) FROM outbox WHERE topic = ? AND done_at IS NULL", (topic,)
        ).fetchone()
        return int(row[0])

    def outbox_retry(self, item_id: int, next_attempt_at: datetime, error: str) -> None:
        self._conn.execute(
            "UPDATE outbox SET attempts = attempts + 1, next_attempt_at = ?,"
            " claimed_until = NULL, last_error = ? WHERE id = ?",
            (next_attempt_at.timestamp(), error, item_id),
        )

    def save_outcome(self, call_sid: str, outcome: CallOutcome, now: datetime) -> None:
        self._conn.execute(
            "DELETE FROM call_outcomes WHERE recorded_at < ?", ((now - OUTCOME_TTL).timestamp(),)
        )
        self._conn.execute(
            "INSERT OR REPLACE INTO call_outcomes"
            " (call_sid, reason, transfer_to, brief, recorded_at) VALUES (?, ?, ?, ?, ?)",
            (call_sid, *outcome, now.timestamp()),
        )

    def take_outcome(self, call_sid: str) -> CallOutcome | None:
        row = self._conn.execute(
            "DELETE FROM call_outcomes WHERE call_sid = ? RETURNING reason, transfer_to, brief",
            (call_sid,),
        ).fetchone()
        return None if row is None else (row["reason"], row["transfer_to"], row["brief"])

    def start_transfer(self, call_sid: str, caller: str, state: str, now: datetime) -> None:
        expired = (now - TRANSFER_TTL).timestamp()
        self._conn.execute("DELETE FROM transfers WHERE started_at < ?", (expired,))
        self._conn.execute(
            "INSERT OR REPLACE INTO transfers (call_sid, caller, state, started_at)"
            " VALUES (?, ?, ?, ?)",
            (call_sid, caller, state, now.timestamp()),
        )

    def move_transfer(
        self, call_sid: str, from_states: tuple[str, ...], to_state: str, staff_call_sid: str
    ) -> TransferRow | None:
        marks = ", ".join("?" * len(from_states))
        row = self._conn.execute(
            "UPDATE transfers SET state = ?,"
            " staff_call_sid = CASE WHEN ? = '' THEN staff_call_sid ELSE ? END"
            f" WHERE call_sid = ? AND state IN ({marks}) RETURNING caller, staff_call_sid",
            (to_state, staff_call_sid, staff_call_sid, call_sid, *from_states),
        ).fetchone()
        return None if row is None else (row["caller"], row["staff_call_sid"])

    def _check_free(self, start: datetime, end: datetime, except_id: int) -> None:
        clash = self._conn.execute(
            f"SELECT id FROM appointments WHERE {_ACTIVE} AND start_ts < ? AND end_ts > ?"
            " AND id != ?",
            (_ts(end), _ts(start), except_id),
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
