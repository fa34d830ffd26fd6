"""The ``calls`` table (migration step 3), in the same database as the appointments.

Blocking; the recorder calls it from a worker thread, the review pages through
``trio.to_thread``. The SQL is shared by both backends (``?`` becomes ``%s`` for psycopg);
times are epoch seconds.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from receptionist.config import Config
from receptionist.config.clinic import is_postgres_url
from receptionist.scheduling.backend import Backend
from receptionist.scheduling.database import open_backend

_SUMMARY = "call_sid, stream_sid, caller, started_at, ended_at, outcome, bookings, recording"


@dataclass(frozen=True, slots=True)
class CallSummary:
    call_sid: str
    stream_sid: str
    caller: str
    started_at: float
    ended_at: float
    outcome: str
    bookings: int
    recording: str
    """The recording's path relative to the recordings folder, "" when none."""

    @property
    def seconds(self) -> float:
        return round(self.ended_at - self.started_at, 1)


@dataclass(frozen=True, slots=True)
class Notice:
    """An outbox row written with a call's record (its report, for the webhook)."""

    topic: str
    key: str
    payload: Mapping[str, Any]


class RecordStore:
    def __init__(self, config: Config, backend: Backend | None = None) -> None:
        self._backend = backend or open_backend(config.scheduler.database, config)
        self._clinic = config.clinic.name
        self._tz = config.clinic.tz
        self._postgres = self._backend.location.startswith("postgres")

    @property
    def tz(self) -> ZoneInfo:
        """The clinic's timezone (of a report's times)."""
        return self._tz

    def open(self) -> None:
        self._backend.open()

    def close(self) -> None:
        self._backend.close()

    def save(
        self, summary: CallSummary, detail: dict[str, Any], notices: Sequence[Notice] = ()
    ) -> None:
        """Keep the call's record and add ``notices`` to the outbox, in one transaction: a
        report is in the outbox exactly when its record is kept (and only the first time)."""
        sql = (
            f"INSERT INTO calls (clinic, {_SUMMARY}, detail) VALUES (?,?,?,?,?,?,?,?,?,?)"
            " ON CONFLICT (call_sid) DO NOTHING"
        )
        params = (self._clinic, summary.call_sid, summary.stream_sid, summary.caller,
                  summary.started_at, summary.ended_at, summary.outcome, summary.bookings,
                  summary.recording, json.dumps(detail))  # fmt: skip
        with self._backend.transaction(write=True) as tx:
            added = tx.connection.execute(sql.replace("?", "%s") if self._postgres else sql, params)
            if added.rowcount and notices:
                now = datetime.now(UTC)
                for notice in notices:
                    tx.add_outbox(notice.topic, notice.key, notice.payload, now)

    def calls(
        self, *, day: date | None = None, outcome: str = "", limit: int = 50, offset: int = 0
    ) -> list[CallSummary]:
        """Newest first, optionally of one local day and one outcome."""
        where, params = self._filters(day, outcome)
        rows = self._run(
            f"SELECT {_SUMMARY} FROM calls WHERE {where} ORDER BY started_at DESC LIMIT ? OFFSET ?",
            (*params, limit, offset),
        )
        return [CallSummary(*row) for row in rows]

    def call(self, call_sid: str) -> tuple[CallSummary, dict[str, Any]] | None:
        rows = self._run(
            f"SELECT {_SUMMARY}, detail FROM calls WHERE clinic = ? AND call_sid = ?",
            (self._clinic, call_sid),
        )
        if not rows:
            return None
        *summary, detail = rows[0]
        return CallSummary(*summary), json.loads(detail)

    def details_of_day(self, day: date) -> list[dict[str, Any]]:
        where, params = self._filters(day, "")
        rows = self._run(f"SELECT detail FROM calls WHERE {where}", params)
        return [json.loads(row[0]) for row in rows]

    def delete_before(self, cutoff: float) -> list[str]:
        """Delete the records of calls started before ``cutoff``; their recordings' paths."""
        rows = self._run(
            "DELETE FROM calls WHERE clinic = ? AND started_at < ? RETURNING recording",
            (self._clinic, cutoff),
        )
        return [row[0] for row in rows if row[0]]

    def local_day(self, epoch: float) -> date:
        return datetime.fromtimestamp(epoch, self._tz).date()

    def _filters(self, day: date | None, outcome: str) -> tuple[str, tuple[Any, ...]]:
        where, params = ["clinic = ?"], list[Any]([self._clinic])
        if day is not None:
            start = datetime.combine(day, time(), self._tz)
            where.append("started_at >= ? AND started_at < ?")
            params += [start.timestamp(), (start + timedelta(days=1)).timestamp()]
        if outcome:
            where.append("outcome = ?")
            params.append(outcome)
        return " AND ".join(where), tuple(params)

    def _run(self, sql: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        if self._postgres:
            sql = sql.replace("?", "%s")
        with self._backend.connection() as conn:
            cursor = conn.execute(sql, params)
            rows = cursor.fetchall() if cursor.description else []
            return [tuple(row) for row in rows]


def recordings_folder(config: Config) -> Path:
    """``[records] folder``, or a ``recordings`` folder beside the SQLite database."""
    if config.records.folder:
        return Path(config.records.folder)
    database = config.scheduler.database
    if is_postgres_url(database):
        return Path("data/recordings")
    return Path(database).parent / "recordings"
