"""The calendar tests' outbox: the real appointments store's, on a SQLite file of the test's.

``add`` writes an outbox row through the store's own write path (a write transaction and
``add_outbox``, as a booking's, move's or cancellation's transaction does), so a test can
hand the pusher any change (including one no booking would write: an unknown action) without
booking it first. Claims, leases, retries and ``unfinished`` are the store's own, on the real
schema: two of these on one file behave like two processes sharing one database.
"""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any

from receptionist.scheduling import outbox
from receptionist.scheduling.messages import Appointment
from receptionist.scheduling.outbox import OutboxItem
from receptionist.scheduling.store import AppointmentStore, utc_now
from tests.helpers.clinic import clinic_config

TOPIC = "calendar"


class StoreOutbox:
    """The store's outbox (``CalendarOutbox`` for the pusher), plus writing and reading rows."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.store = AppointmentStore(clinic_config(path), outbox_topics=(TOPIC,))

    def close(self) -> None:
        self.store.close()

    def add(self, action: str, appointment: Appointment, topic: str = TOPIC) -> None:
        """What the store writes in a booking's, move's or cancellation's transaction."""
        payload = outbox.appointment_payload(action, appointment)  # type: ignore[arg-type]
        key = outbox.appointment_key(appointment.id)
        with self.store._backend.transaction(write=True) as tx:  # the store's own write path
            tx.add_outbox(topic, key, payload, utc_now())

    def outbox_claim(self, topic: str, *, limit: int, lease_s: float) -> tuple[OutboxItem, ...]:
        return self.store.outbox_claim(topic, limit=limit, lease_s=lease_s)

    def outbox_done(self, item_id: int) -> None:
        self.store.outbox_done(item_id)

    def outbox_retry(self, item_id: int, *, delay_s: float, error: str) -> None:
        self.store.outbox_retry(item_id, delay_s=delay_s, error=error)

    def unfinished(self) -> list[dict[str, Any]]:
        """Every row not yet delivered, oldest first, as the table holds it."""
        with closing(sqlite3.connect(self.path, timeout=5.0)) as conn:
            conn.row_factory = sqlite3.Row
            rows = conn.execute("SELECT * FROM outbox WHERE done_at IS NULL ORDER BY id")
            return [dict(row) for row in rows]
