"""A stand-in for the store's outbox, for the calendar tests only, until the store has one.

Same API as ``AppointmentStore.outbox_claim / outbox_done / outbox_retry`` and the same
guarantees the pusher relies on: a claimed item is leased to one claimer; a key's items are
handed out oldest first, one at a time (a newer one waits while an older one is unfinished);
a retry waits ``delay_s`` and counts an attempt. SQLite, so two instances on one file behave
like two processes sharing one store. Not production code: the store's outbox replaces it.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from receptionist.scheduling.messages import Appointment

_SCHEMA = """CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT, topic TEXT NOT NULL, key TEXT NOT NULL,
    payload TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,
    not_before REAL NOT NULL DEFAULT 0, lease_until REAL NOT NULL DEFAULT 0, error TEXT)"""


@dataclass(frozen=True, slots=True)
class OutboxItem:
    id: int
    topic: str
    key: str
    payload: Mapping[str, Any]
    attempts: int


class TestOutbox:
    __test__ = False  # not a pytest test class

    def __init__(self, path: Path) -> None:
        self.path = path
        with self._write() as conn:
            conn.execute(_SCHEMA)

    def add(self, action: str, appointment: Appointment, topic: str = "calendar") -> None:
        """What the store writes in a booking's, move's or cancellation's transaction."""
        payload = {"action": action, "appointment": appointment_payload(appointment)}
        with self._write() as conn:
            conn.execute(
                "INSERT INTO outbox (topic, key, payload) VALUES (?, ?, ?)",
                (topic, f"appointment:{appointment.id}", json.dumps(payload)),
            )

    def outbox_claim(self, topic: str, *, limit: int, lease_s: float) -> tuple[OutboxItem, ...]:
        now = time.time()
        with self._write() as conn:
            rows = conn.execute(
                "SELECT * FROM outbox AS o WHERE topic = ? AND not_before <= ? AND lease_until <= ?"
                " AND NOT EXISTS (SELECT 1 FROM outbox AS older"
                "  WHERE older.key = o.key AND older.topic = o.topic AND older.id < o.id)"
                " ORDER BY id LIMIT ?",
                (topic, now, now, limit),
            ).fetchall()
            conn.executemany(
                "UPDATE outbox SET lease_until = ? WHERE id = ?",
                [(now + lease_s, row["id"]) for row in rows],
            )
        return tuple(
            OutboxItem(r["id"], r["topic"], r["key"], json.loads(r["payload"]), r["attempts"])
            for r in rows
        )

    def outbox_done(self, item_id: int) -> None:
        with self._write() as conn:
            conn.execute("DELETE FROM outbox WHERE id = ?", (item_id,))

    def outbox_retry(self, item_id: int, *, delay_s: float, error: str) -> None:
        with self._write() as conn:
            conn.execute(
                "UPDATE outbox SET attempts = attempts + 1, not_before = ?, lease_until = 0,"
                " error = ? WHERE id = ?",
                (time.time() + delay_s, error, item_id),
            )

    def unfinished(self) -> list[dict[str, Any]]:
        with self._write() as conn:
            return [dict(row) for row in conn.execute("SELECT * FROM outbox ORDER BY id")]

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        conn = sqlite3.connect(self.path, timeout=5.0, isolation_level=None)
        conn.row_factory = sqlite3.Row
        try:
            conn.execute("BEGIN IMMEDIATE")
            yield conn
            conn.execute("COMMIT")
        finally:
            conn.close()


def appointment_payload(appointment: Appointment) -> dict[str, Any]:
    return {
        "id": appointment.id,
        "start": appointment.start.isoformat(),
        "end": appointment.end.isoformat(),
        "service": appointment.service,
        "name": appointment.name,
        "phone": appointment.phone,
        "reason": appointment.reason,
    }
