"""The appointments store: SQLite (stdlib), blocking, safe to share between threads and processes.

Every method opens its own connection, so one store may be used from any worker thread and
several stores (or processes) may share one file. Times are stored as UTC epoch seconds and
returned as aware datetimes in the clinic's timezone. Writes run in ``BEGIN IMMEDIATE``
transactions: the write lock is taken before the overlap check, so two bookings of the same
or overlapping slots are serialised and the second sees the first. Cancelled appointments
are kept (``cancelled_at`` set) and no longer block their slot.

Every ``sqlite3.Error`` (and a failure to create the database folder) is mapped here to
``StoreUnavailable``. A request that cannot be met is not an error: it returns a
``Rejection`` naming a ``RejectReason``.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, date, datetime, time
from pathlib import Path

from receptionist.config import Config, Service
from receptionist.errors import StoreUnavailable
from receptionist.scheduling.messages import Appointment, RejectReason
from receptionist.scheduling.slots import (
    Rejection,
    bookable_starts,
    check_day,
    check_start,
    end_of,
    free_starts,
    normalise_phone,
)

__all__ = ["AppointmentStore", "Rejection", "utc_now"]

SCHEMA_VERSION = 1
BUSY_TIMEOUT_S = 5.0
"""How long a writer waits for another's transaction before StoreUnavailable. A booking
holds the write lock for about a millisecond, so a 5 s wait means the disk is stuck."""

_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS appointments (
        id INTEGER PRIMARY KEY,
        start_ts INTEGER NOT NULL,
        end_ts INTEGER NOT NULL CHECK (end_ts > start_ts),
        service TEXT NOT NULL,
        name TEXT NOT NULL,
        phone TEXT NOT NULL,
        reason TEXT NOT NULL DEFAULT '',
        created_at INTEGER NOT NULL,
        cancelled_at INTEGER
    )""",
    "CREATE INDEX IF NOT EXISTS appointments_active_start"
    " ON appointments (start_ts) WHERE cancelled_at IS NULL",
    "CREATE INDEX IF NOT EXISTS appointments_phone ON appointments (phone)",
)
_ACTIVE = "cancelled_at IS NULL"
_CLASHES = (  # active appointments overlapping [start, end), other than one being moved
    f"SELECT id FROM appointments WHERE {_ACTIVE} AND start_ts < ? AND end_ts > ? AND id != ?"
)
_NO_ID = 0  # for _CLASHES when booking: SQLite row ids start at 1


def utc_now() -> datetime:
    return datetime.now(UTC)


class AppointmentStore:
    """Appointments of one clinic in one SQLite file; see the module docstring.

    Args:
        config: opening hours, timezone, services and the scheduler settings.
        path: the database file; default ``config.scheduler.database``. Its folder and
            schema are created on first use.
        now: the current time (aware); injectable so tests and replays are deterministic.
    """

    def __init__(
        self, config: Config, path: Path | None = None, *, now: Callable[[], datetime] = utc_now
    ) -> None:
        self.path = Path(path if path is not None else config.scheduler.database)
        self._config = config
        self._now = now
        self._tz = config.clinic.tz

    def open(self) -> None:
        """Create the folder and schema now rather than on the first request."""
        with self._connection():
            pass

    def is_open_on(self, day: date) -> bool:
        return self._config.clinic.hours[day.weekday()] is not None

    def free_slots(
        self, service: str, day: date, *, earliest: time | None = None, limit: int = 3
    ) -> tuple[datetime, ...] | Rejection:
        """Up to ``limit`` free starts for ``service`` on ``day``, earliest first."""
        known = self._config.service(service)
        if known is None:
            return Rejection(RejectReason.UNKNOWN_SERVICE, service)
        now = self._now()
        if rejection := check_day(day, now, self._config.clinic, self._config.scheduler):
            return rejection
        starts = bookable_starts(
            day, known.minutes, now, self._config.clinic, self._config.scheduler, earliest
        )
        if not starts:
            return ()
        with self._connection() as conn:
            busy = self._spans_between(conn, starts[0], end_of(starts[-1], known.minutes))
        return tuple(free_starts(starts, known.minutes, busy)[: max(limit, 0)])

    def book(
        self, service: str, start: datetime, name: str, phone: str, reason: str = ""
    ) -> Appointment | Rejection:
        """Book ``start`` for ``service`` in one transaction: fully written, or not at all."""
        name, phone, reason = name.strip(), normalise_phone(phone), reason.strip()
        now = self._now()
        known = self._check_booking(service, start, name, phone, now)
        if isinstance(known, Rejection):
            return known
        start = start.astimezone(self._tz)
        end = end_of(start, known.minutes)
        with self._connection() as conn, _write_transaction(conn):
            if conn.execute(_CLASHES, (_ts(end), _ts(start), _NO_ID)).fetchone():
                return Rejection(RejectReason.SLOT_TAKEN, f"{start:%H:%M} is taken")
            cursor = conn.execute(
                "INSERT INTO appointments (start_ts, end_ts, service, name, phone, reason,"
                " created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (_ts(start), _ts(end), service, name, phone, reason, _ts(now)),
            )
            assert cursor.lastrowid is not None
        return Appointment(cursor.lastrowid, start, end, service, name, phone, reason)

    def find_bookings(self, phone: str) -> tuple[Appointment, ...]:
        """Appointments under ``phone`` that are not over yet, earliest first."""
        with self._connection() as conn:
            rows = conn.execute(
                f"SELECT * FROM appointments WHERE {_ACTIVE} AND phone = ? AND end_ts > ?"
                " ORDER BY start_ts",
                (normalise_phone(phone), _ts(self._now())),
            ).fetchall()
        return tuple(self._appointment(row) for row in rows)

    def cancel(self, appointment_id: int, phone: str) -> Appointment | Rejection:
        """Cancel a caller's own appointment that has not started; the row is kept."""
        now = self._now()
        with self._connection() as conn, _write_transaction(conn):
            found = self._own_upcoming(conn, appointment_id, phone, now)
            if isinstance(found, Appointment):
                conn.execute(
                    "UPDATE appointments SET cancelled_at = ? WHERE id = ?",
                    (_ts(now), appointment_id),
                )
        return found

    def move(self, appointment_id: int, phone: str, new_start: datetime) -> Appointment | Rejection:
        """Move a caller's own appointment to ``new_start``, keeping its duration, atomically."""
        now = self._now()
        with self._connection() as conn, _write_transaction(conn):
            found = self._own_upcoming(conn, appointment_id, phone, now)
            if not isinstance(found, Appointment):
                return found
            minutes = (_ts(found.end) - _ts(found.start)) // 60
            if rejection := self._check_start(new_start, minutes, now):
                return rejection
            start = new_start.astimezone(self._tz)
            end = end_of(start, minutes)
            if conn.execute(_CLASHES, (_ts(end), _ts(start), appointment_id)).fetchone():
                return Rejection(RejectReason.SLOT_TAKEN, f"{start:%H:%M} is taken")
            conn.execute(
                "UPDATE appointments SET start_ts = ?, end_ts = ? WHERE id = ?",
                (_ts(start), _ts(end), appointment_id),
            )
        return replace(found, start=start, end=end)

    def appointments(self, *, include_past: bool = False) -> tuple[Appointment, ...]:
        """Every appointment not cancelled (and, unless ``include_past``, not over), by start."""
        not_before = -1 if include_past else _ts(self._now())
        with self._connection() as conn:
            rows = conn.execute(
                f"SELECT * FROM appointments WHERE {_ACTIVE} AND end_ts > ? ORDER BY start_ts",
                (not_before,),
            ).fetchall()
        return tuple(self._appointment(row) for row in rows)

    # --- internals ----------------------------------------------------------------------

    def _check_booking(
        self, service: str, start: datetime, name: str, phone: str, now: datetime
    ) -> Service | Rejection:
        known = self._config.service(service)
        if known is None:
            return Rejection(RejectReason.UNKNOWN_SERVICE, service)
        if not name or not phone:
            return Rejection(RejectReason.INVALID, "a name and a phone number are needed")
        return self._check_start(start, known.minutes, now) or known

    def _check_start(self, start: datetime, minutes: int, now: datetime) -> Rejection | None:
        return check_start(start, minutes, now, self._config.clinic, self._config.scheduler)

    def _own_upcoming(
        self, conn: sqlite3.Connection, appointment_id: int, phone: str, now: datetime
    ) -> Appointment | Rejection:
        row = conn.execute(
            f"SELECT * FROM appointments WHERE {_ACTIVE} AND id = ? AND phone = ?",
            (appointment_id, normalise_phone(phone)),
        ).fetchone()
        if row is None:  # a wrong phone must not reveal that the appointment exists
            return Rejection(RejectReason.NOT_FOUND, f"no appointment {appointment_id}")
        if row["start_ts"] <= _ts(now):
            return Rejection(RejectReason.IN_THE_PAST, "that appointment has already started")
        return self._appointment(row)

    def _spans_between(
        self, conn: sqlite3.Connection, start: datetime, end: datetime
    ) -> list[tuple[datetime, datetime]]:
        rows = conn.execute(
            f"SELECT start_ts, end_ts FROM appointments WHERE {_ACTIVE}"
            " AND start_ts < ? AND end_ts > ?",
            (_ts(end), _ts(start)),
        ).fetchall()
        return [(self._local(row["start_ts"]), self._local(row["end_ts"])) for row in rows]

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
    def _connection(self) -> Iterator[sqlite3.Connection]:
        """A fresh connection with the schema in place; sqlite3 errors become StoreUnavailable."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # isolation_level=None: we issue BEGIN IMMEDIATE ourselves; sqlite3's implicit
            # BEGIN would be DEFERRED and take the write lock only after the overlap check.
            conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
        except (OSError, sqlite3.Error) as exc:
            raise StoreUnavailable(f"cannot open {self.path}: {exc}") from exc
        try:
            conn.row_factory = sqlite3.Row
            _ensure_schema(conn)
            yield conn
        except sqlite3.Error as exc:
            raise StoreUnavailable(f"appointments database {self.path}: {exc}") from exc
        finally:
            conn.close()


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


def _ensure_schema(conn: sqlite3.Connection) -> None:
    version = _schema_version(conn)
    if version == SCHEMA_VERSION:
        return
    if version > SCHEMA_VERSION:
        raise StoreUnavailable(f"database schema {version} is newer than {SCHEMA_VERSION}")
    # The default rollback journal, not WAL: switching a new file to WAL while another
    # connection does the same fails with "database is locked" without waiting out the busy
    # timeout (4 of 600 simultaneous first bookings, SQLite 3.40), and a booking holds the
    # lock for about a millisecond, too briefly for WAL's concurrent readers to matter.
    with _write_transaction(conn):  # IF NOT EXISTS: another process may have won the race
        for statement in _SCHEMA:
            conn.execute(statement)
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")


def _schema_version(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def _ts(moment: datetime) -> int:
    return int(moment.timestamp())
