"""``receptionist db import-sqlite PATH``: a clinic's SQLite file into the PostgreSQL store.

For the move from one server to several (issue 14): the appointments, the outbox, the call
outcomes, the messages callers left and the call records of the SQLite file are copied into
the database of ``[scheduler] database``, at this release's schema on both sides, in one
transaction: all of it or nothing.

Appointment, outbox and message ids are kept (the calendar's event of a booking is named
after its id, so a new id would leave the old event behind; a message's outbox row names
it) and the identity sequences moved past them. A row already in PostgreSQL with the same
id and the same identity (a second run) is not copied again; a row with the same id but
another identity (another clinic's, or a booking made in PostgreSQL meanwhile), or an
appointment overlapping an active one there, is a conflict: nothing is written and each
conflict is named. A dry run does the same work and rolls it back, so it finds the same
conflicts.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
from psycopg import errors
from psycopg.types.json import Jsonb

from receptionist.config import Config
from receptionist.config.clinic import is_postgres_url
from receptionist.errors import ImportConflict, StoreUnavailable
from receptionist.scheduling import migrations
from receptionist.scheduling.database import open_backend

MAX_CONFLICTS_SHOWN = 20
"""A file that conflicts everywhere (imported into the wrong database) names this many."""


@dataclass
class ImportReport:
    copied: dict[str, int] = field(default_factory=dict)
    already: dict[str, int] = field(default_factory=dict)
    """Rows found in PostgreSQL from an earlier run, by table."""

    def lines(self) -> list[str]:
        return [
            f"{table}: {self.copied.get(table, 0)} copied,"
            f" {self.already.get(table, 0)} already there"
            for table in ("appointments", "outbox", "call_outcomes", "clinic_messages", "calls")
        ]


@dataclass(frozen=True)
class _Table:
    name: str
    key: str
    """The column whose value names a row in both databases."""
    select: str
    """From SQLite: the key, then the columns of ``insert`` in order."""
    insert: str
    """Into PostgreSQL, with the clinic first."""
    identity: str
    """Columns that show a PostgreSQL row is the same row, compared with ``same``."""
    convert: Callable[[tuple[Any, ...]], tuple[Any, ...]]
    """A SQLite row (after the key) as PostgreSQL values."""
    same: Callable[[tuple[Any, ...], tuple[Any, ...]], bool]
    """The converted row and the PostgreSQL identity columns: one row?"""
    select_params: tuple[Any, ...] = ()
    has_clinic: bool = True


def import_sqlite(path: Path, config: Config, *, dry_run: bool = False) -> ImportReport:
    """Copy ``path`` into the configured PostgreSQL store; see the module docstring.

    Raises:
        ImportConflict: rows PostgreSQL already holds differently; nothing was written.
        StoreUnavailable: either database cannot be read or written, or is at another schema.
    """
    target = config.scheduler.database
    if not is_postgres_url(target):
        raise StoreUnavailable(
            f"scheduler.database is {target!r}: import-sqlite copies into a PostgreSQL store"
        )
    clinic = config.clinic.name
    report, conflicts = ImportReport(), list[str]()
    backend = open_backend(target, config)
    try:
        with _source(path) as source, backend.connection() as conn:
            for table in _tables(clinic):
                _copy(table, source, conn, clinic, report, conflicts)
            if not conflicts:
                _advance_identities(conn)
            if conflicts or dry_run:
                conn.rollback()
    finally:
        backend.close()
    if conflicts:
        lines = conflicts[:MAX_CONFLICTS_SHOWN]
        if len(conflicts) > len(lines):
            lines.append(f"... and {len(conflicts) - len(lines)} more")
        heading = f"{backend.location} already holds {len(conflicts)} conflicting row(s);"
        raise ImportConflict("\n".join([f"{heading} nothing was imported:", *lines]))
    return report


@contextmanager
def _source(path: Path) -> Iterator[sqlite3.Connection]:
    if not path.is_file():
        raise StoreUnavailable(f"{path}: no such SQLite file")
    try:
        with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as conn:
            version = _sqlite_version(conn)
            if version != migrations.LATEST:
                raise StoreUnavailable(
                    migrations.upgrade_hint(str(path), version)
                    + f" (with --set scheduler.database={path})"
                )
            yield conn
    except sqlite3.Error as exc:
        raise StoreUnavailable(f"{path}: {exc}") from exc


def _sqlite_version(conn: sqlite3.Connection) -> int:
    if conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'schema_version'").fetchone():
        row = conn.execute("SELECT coalesce(max(version), 0) FROM schema_version").fetchone()
        return int(row[0])
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def _copy(
    table: _Table,
    source: sqlite3.Connection,
    conn: psycopg.Connection[Any],
    clinic: str,
    report: ImportReport,
    conflicts: list[str],
) -> None:
    copied = already = 0
    for key, *rest in source.execute(table.select, table.select_params):
        values = table.convert(tuple(rest))
        found = conn.execute(
            f"SELECT {table.identity} FROM {table.name} WHERE {table.key} = %s", (key,)
        ).fetchone()
        if found is not None:
            if table.same(values, tuple(found)):
                already += 1
            else:
                conflicts.append(f"{table.name} {key}: a different row has this {table.key}")
            continue
        try:
            with conn.transaction():  # a savepoint: one refused row does not end the import
                conn.execute(table.insert, (key, *([clinic] if table.has_clinic else []), *values))
            copied += 1
        except errors.ExclusionViolation:
            conflicts.append(f"{table.name} {key}: overlaps an active appointment there")
    report.copied[table.name], report.already[table.name] = copied, already


def _advance_identities(conn: psycopg.Connection[Any]) -> None:
    """Kept ids were written past the sequences: the next booking must not reuse one."""
    for name in ("appointments", "outbox", "clinic_messages"):
        conn.execute(
            f"SELECT setval(pg_get_serial_sequence('{name}', 'id'),"
            f" greatest((SELECT max(id) FROM {name}), 1))"
        )


def _tables(clinic: str) -> tuple[_Table, ...]:
    def same_clinic_and(*positions: int) -> Callable[[tuple[Any, ...], tuple[Any, ...]], bool]:
        return lambda new, old: (
            old[0] == clinic and all(new[p] == old[1 + i] for i, p in enumerate(positions))
        )

    return (
        _Table(
            "appointments",
            "id",
            "SELECT id, start_ts, end_ts, service, name, phone, reason, created_at, cancelled_at,"
            " resource FROM appointments ORDER BY id",
            "INSERT INTO appointments (id, clinic, start_at, end_at, service, name, phone, reason,"
            " created_at, cancelled_at, resource) OVERRIDING SYSTEM VALUE"
            " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            # Who booked what, when: a row since moved or cancelled in PostgreSQL is still it.
            "clinic, service, name, phone, created_at",
            _appointment_row,
            same_clinic_and(2, 3, 4, 6),
        ),
        _Table(
            "outbox",
            "id",
            "SELECT id, topic, key, payload, attempts, next_attempt_at, done_at, last_error,"
            " created_at FROM outbox ORDER BY id",
            # A lease taken on the old store means nothing here: every row comes unclaimed.
            "INSERT INTO outbox (id, clinic, topic, key, payload, attempts, next_attempt_at,"
            " done_at, last_error, created_at) OVERRIDING SYSTEM VALUE"
            " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            "clinic, topic, key, created_at",
            _outbox_row,
            same_clinic_and(0, 1, 7),
        ),
        _Table(
            "call_outcomes",
            "call_sid",
            "SELECT call_sid, reason, transfer_to, brief, recorded_at FROM call_outcomes",
            # No clinic column: a call SID is unique across Twilio.
            "INSERT INTO call_outcomes (call_sid, reason, transfer_to, brief, recorded_at)"
            " VALUES (%s, %s, %s, %s, %s)",
            "reason, transfer_to",
            lambda r: (r[0], r[1], r[2], _at(r[3])),
            lambda new, old: (new[0], new[1]) == old,
            has_clinic=False,
        ),
        _Table(
            "clinic_messages",
            "id",
            "SELECT id, call_sid, name, phone, about, reason, created_at"
            " FROM clinic_messages ORDER BY id",
            # Ids kept: the message's outbox row names it.
            "INSERT INTO clinic_messages (id, clinic, call_sid, name, phone, about, reason,"
            " created_at) OVERRIDING SYSTEM VALUE VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
            "clinic, call_sid, created_at",
            lambda r: (*r[:5], _at(r[5])),
            same_clinic_and(0, 5),
        ),
        _Table(
            "calls",
            "call_sid",
            "SELECT call_sid, stream_sid, caller, started_at, ended_at, outcome, bookings,"
            " recording, detail FROM calls WHERE clinic = ?",
            "INSERT INTO calls (call_sid, clinic, stream_sid, caller, started_at, ended_at,"
            " outcome, bookings, recording, detail)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            "clinic, stream_sid, started_at",
            lambda r: r,
            same_clinic_and(0, 2),
            select_params=(clinic,),  # the file's records of this clinic, like its bookings
        ),
    )


def _appointment_row(row: tuple[Any, ...]) -> tuple[Any, ...]:
    start, end, service, name, phone, reason, created_at, cancelled_at, resource = row
    return (_at(start), _at(end), service, name, phone, reason, _at(created_at),
            _at(cancelled_at), resource)  # fmt: skip


def _outbox_row(row: tuple[Any, ...]) -> tuple[Any, ...]:
    topic, key, payload, attempts, next_attempt_at, done_at, last_error, created_at = row
    return (topic, key, Jsonb(json.loads(payload)), attempts, _at(next_attempt_at), _at(done_at),
            last_error, _at(created_at))  # fmt: skip


def _at(epoch: float | None) -> datetime | None:
    return None if epoch is None else datetime.fromtimestamp(epoch, UTC)
