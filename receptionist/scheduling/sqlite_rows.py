"""SQLite rows besides the appointments: messages for the clinic, the outbox, call outcomes,
warm transfers and live servers (sqlite_store.py's transactions hold them).

Times are REAL epoch seconds (fractions matter to retries and leases).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from receptionist.scheduling.backend import OUTCOME_TTL, TRANSFER_TTL, CallOutcome, TransferRow
from receptionist.scheduling.messages import LeaveMessage
from receptionist.scheduling.outbox import OutboxItem

_OUTBOX_DUE = """
    SELECT id, topic, key, payload, attempts FROM outbox AS item
    WHERE topic = ? AND done_at IS NULL AND next_attempt_at <= ?
      AND (claimed_until IS NULL OR claimed_until <= ?)
      AND NOT EXISTS (SELECT 1 FROM outbox AS older WHERE older.topic = item.topic
                      AND older.key = item.key AND older.done_at IS NULL AND older.id < item.id)
    ORDER BY id LIMIT ?"""


class SqliteSharedRows:
    """What a SQLite transaction does besides appointments; ``_conn`` is its connection."""

    _conn: sqlite3.Connection

    def insert_message(self, message: LeaveMessage, now: datetime) -> int:
        cursor = self._conn.execute(
            "INSERT INTO clinic_messages (call_sid, name, phone, about, reason, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (message.call_sid, message.name, message.phone, message.about,
             message.reason.value, now.timestamp()),
        )  # fmt: skip
        assert cursor.lastrowid is not None
        return cursor.lastrowid

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

    def heartbeat(self, server_id: str, draining: bool, ttl: timedelta, now: datetime) -> None:
        # One machine, one clock: the process's.
        expires_at = now + ttl
        self._conn.execute("DELETE FROM servers WHERE expires_at < ?", (_seconds_ago(expires_at),))
        self._conn.execute(
            "INSERT OR REPLACE INTO servers (server_id, draining, expires_at) VALUES (?, ?, ?)",
            (server_id, int(draining), expires_at.timestamp()),
        )

    def forget_server(self, server_id: str) -> None:
        self._conn.execute("DELETE FROM servers WHERE server_id = ?", (server_id,))

    def live_peers(self, server_id: str, now: datetime) -> int:
        row = self._conn.execute(
            "SELECT count(*) FROM servers WHERE server_id != ? AND draining = 0 AND expires_at > ?",
            (server_id, now.timestamp()),
        ).fetchone()
        return int(row[0])


def _seconds_ago(expires_at: datetime) -> float:
    """Rows that expired an hour before this one's expiry are gone for good."""
    return expires_at.timestamp() - 3600
