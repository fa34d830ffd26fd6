"""PostgreSQL rows besides the appointments: messages for the clinic, the outbox, call
outcomes, warm transfers and live servers (postgres_store.py's transactions hold them).

Messages, outbox rows and servers carry the clinic (one database may serve several);
call outcomes and transfers are keyed by Twilio's call SID, unique across clinics.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from receptionist.scheduling.backend import OUTCOME_TTL, TRANSFER_TTL, CallOutcome, TransferRow
from receptionist.scheduling.messages import LeaveMessage
from receptionist.scheduling.outbox import OutboxItem

FORGOTTEN_AFTER = timedelta(hours=1)
"""A server row expired this long ago (by the database's clock) is deleted by the next
heartbeat."""


class PostgresSharedRows:
    """What a PostgreSQL transaction does besides appointments."""

    _conn: psycopg.Connection[Any]
    _clinic: str

    def insert_message(self, message: LeaveMessage, now: datetime) -> int:
        row = self._conn.execute(
            "INSERT INTO clinic_messages (clinic, call_sid, name, phone, about, reason,"
            " created_at) VALUES (%s, %s, %s, %s, %s, %s, %s) RETURNING id",
            (self._clinic, message.call_sid, message.name, message.phone, message.about,
             message.reason.value, now),
        ).fetchone()  # fmt: skip
        assert row is not None
        return int(row[0])

    def add_outbox(self, topic: str, key: str, payload: Mapping[str, Any], now: datetime) -> None:
        self._conn.execute(
            "INSERT INTO outbox (clinic, topic, key, payload, next_attempt_at, created_at)"
            " VALUES (%s, %s, %s, %s, %s, %s)",
            (self._clinic, topic, key, Jsonb(dict(payload)), now, now),
        )

    def outbox_claim(
        self, topic: str, limit: int, now: datetime, lease_until: datetime
    ) -> tuple[OutboxItem, ...]:
        # SKIP LOCKED: a concurrent claim passes over rows this one is taking instead of
        # waiting for them; a row whose lease it sees only after locking is re-checked.
        rows = self._conn.execute(
            """WITH due AS (
                SELECT id FROM outbox AS item
                WHERE clinic = %(clinic)s AND topic = %(topic)s AND done_at IS NULL
                  AND next_attempt_at <= %(now)s
                  AND (claimed_until IS NULL OR claimed_until <= %(now)s)
                  AND NOT EXISTS (
                      SELECT 1 FROM outbox AS older
                      WHERE older.clinic = item.clinic AND older.topic = item.topic
                        AND older.key = item.key AND older.done_at IS NULL AND older.id < item.id)
                ORDER BY id LIMIT %(limit)s
                FOR UPDATE OF item SKIP LOCKED)
            UPDATE outbox SET claimed_until = %(lease_until)s FROM due WHERE outbox.id = due.id
            RETURNING outbox.id, outbox.topic, outbox.key, outbox.payload, outbox.attempts""",
            {"clinic": self._clinic, "topic": topic, "now": now, "limit": limit,
             "lease_until": lease_until},
        ).fetchall()  # fmt: skip
        return tuple(OutboxItem(*row) for row in sorted(rows))

    def outbox_done(self, item_id: int, now: datetime) -> None:
        self._conn.execute(
            "UPDATE outbox SET done_at = %s, claimed_until = NULL WHERE id = %s",
            (now, item_id),
        )

    def outbox_waiting(self, topic: str) -> int:
        row = self._conn.execute(
            "SELECT count(*) FROM outbox WHERE clinic = %s AND topic = %s AND done_at IS NULL",
            (self._clinic, topic),
        ).fetchone()
        return int(row[0]) if row else 0

    def outbox_retry(self, item_id: int, next_attempt_at: datetime, error: str) -> None:
        self._conn.execute(
            "UPDATE outbox SET attempts = attempts + 1, next_attempt_at = %s,"
            " claimed_until = NULL, last_error = %s WHERE id = %s",
            (next_attempt_at, error, item_id),
        )

    def save_outcome(self, call_sid: str, outcome: CallOutcome, now: datetime) -> None:
        self._conn.execute("DELETE FROM call_outcomes WHERE recorded_at < %s", (now - OUTCOME_TTL,))
        self._conn.execute(
            "INSERT INTO call_outcomes (call_sid, reason, transfer_to, brief, recorded_at)"
            " VALUES (%s, %s, %s, %s, %s) ON CONFLICT (call_sid) DO UPDATE"
            " SET reason = EXCLUDED.reason, transfer_to = EXCLUDED.transfer_to,"
            " brief = EXCLUDED.brief, recorded_at = EXCLUDED.recorded_at",
            (call_sid, *outcome, now),
        )

    def take_outcome(self, call_sid: str) -> CallOutcome | None:
        row = self._conn.execute(
            "DELETE FROM call_outcomes WHERE call_sid = %s RETURNING reason, transfer_to, brief",
            (call_sid,),
        ).fetchone()
        return None if row is None else (row[0], row[1], row[2])

    def start_transfer(self, call_sid: str, caller: str, state: str, now: datetime) -> None:
        self._conn.execute("DELETE FROM transfers WHERE started_at < %s", (now - TRANSFER_TTL,))
        self._conn.execute(
            "INSERT INTO transfers (call_sid, caller, state, started_at)"
            " VALUES (%s, %s, %s, %s) ON CONFLICT (call_sid) DO UPDATE"
            " SET caller = EXCLUDED.caller, state = EXCLUDED.state, staff_call_sid = '',"
            " started_at = EXCLUDED.started_at",
            (call_sid, caller, state, now),
        )

    def move_transfer(
        self, call_sid: str, from_states: tuple[str, ...], to_state: str, staff_call_sid: str
    ) -> TransferRow | None:
        row = self._conn.execute(
            "UPDATE transfers SET state = %s,"
            " staff_call_sid = CASE WHEN %s = '' THEN staff_call_sid ELSE %s END"
            " WHERE call_sid = %s AND state = ANY(%s) RETURNING caller, staff_call_sid",
            (to_state, staff_call_sid, staff_call_sid, call_sid, list(from_states)),
        ).fetchone()
        return None if row is None else (row[0], row[1])

    def heartbeat(self, server_id: str, draining: bool, ttl: timedelta, now: datetime) -> None:
        # The database's clock (now()), not ``now``: the servers' machines may disagree.
        self._conn.execute("DELETE FROM servers WHERE expires_at < now() - %s", (FORGOTTEN_AFTER,))
        self._conn.execute(
            "INSERT INTO servers (server_id, clinic, draining, expires_at)"
            " VALUES (%s, %s, %s, now() + %s) ON CONFLICT (server_id) DO UPDATE"
            " SET draining = EXCLUDED.draining, expires_at = EXCLUDED.expires_at",
            (server_id, self._clinic, draining, ttl),
        )

    def forget_server(self, server_id: str) -> None:
        self._conn.execute("DELETE FROM servers WHERE server_id = %s", (server_id,))

    def live_peers(self, server_id: str, now: datetime) -> int:
        row = self._conn.execute(
            "SELECT count(*) FROM servers WHERE clinic = %s AND server_id != %s"
            " AND NOT draining AND expires_at > now()",
            (self._clinic, server_id),
        ).fetchone()
        return int(row[0]) if row else 0
