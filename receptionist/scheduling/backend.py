"""What the appointments store asks of a database backend (database.py opens the one a
config names).

The store (store.py) keeps the rules; a backend keeps the rows, one transaction at a time,
and owns the one guarantee that needs the database: two overlapping active appointments are
never both committed (a clash raises ``SlotTaken`` inside the transaction).
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import AbstractContextManager
from datetime import datetime, timedelta
from typing import Any, Protocol

from receptionist.scheduling.messages import Appointment, LeaveMessage
from receptionist.scheduling.outbox import OutboxItem

OUTCOME_TTL = timedelta(hours=1)
"""An outcome waits only for Twilio's /call-ended request, seconds after the stream ends."""


CallOutcome = tuple[str, str | None, str | None]
"""How a call's stream ended: EndReason's value, the number to transfer to, if any, and a
transfer's briefing (JSON), if any."""
TRANSFER_TTL = timedelta(days=1)
"""A transfer's row outlives any call; older ones are deleted as new ones start."""
TransferRow = tuple[str, str]
"""A transfer's caller number and the staff leg's call SID ("" before it is dialled)."""
BusySpan = tuple[datetime, datetime, str]
"""An active appointment's [start, end) and who it is with ("": the clinic as a whole)."""


class Transaction(Protocol):
    """One database transaction; what the store asks of a backend."""

    @property
    def connection(self) -> Any:
        """The transaction's DB-API connection, for the call records (records/store.py):
        a record and its outbox rows are written in one transaction."""

    def busy_spans(self, start: datetime, end: datetime) -> list[BusySpan]:
        """Active appointments overlapping [start, end), with their resource."""

    def appointments(self, not_over_at: datetime | None, phone: str = "") -> list[Appointment]:
        """Active appointments ending after ``not_over_at`` (all: None), optionally of one
        phone, by start."""

    def own_active(self, appointment_id: int, phone: str) -> Appointment | None:
        """The active appointment with this id and phone, locked against other writers."""

    def insert(self, draft: Appointment, now: datetime) -> int:
        """Add ``draft`` (its id is ignored), with ``draft.practitioner`` as its resource;
        returns the new id. Raises SlotTaken when the resource is booked then; the
        transaction is still usable after (another resource may be tried)."""

    def reschedule(
        self, appointment_id: int, start: datetime, end: datetime, resource: str
    ) -> None:
        """Raises SlotTaken, leaving the transaction usable, like ``insert``."""

    def mark_cancelled(self, appointment_id: int, now: datetime) -> None: ...
    def insert_message(self, message: LeaveMessage, now: datetime) -> int:
        """Keep a message for the clinic (its request id is ignored); returns its id."""

    def phones(self) -> list[tuple[int, str]]:
        """(id, phone) of every appointment, cancelled ones too (phone_migration.py)."""

    def set_phone(self, appointment_id: int, phone: str) -> None: ...
    def add_outbox(
        self, topic: str, key: str, payload: Mapping[str, Any], now: datetime
    ) -> None: ...
    def outbox_claim(
        self, topic: str, limit: int, now: datetime, lease_until: datetime
    ) -> tuple[OutboxItem, ...]: ...
    def outbox_done(self, item_id: int, now: datetime) -> None: ...
    def outbox_waiting(self, topic: str) -> int:
        """How many of ``topic``'s items are not done yet."""

    def outbox_retry(self, item_id: int, next_attempt_at: datetime, error: str) -> None: ...
    def save_outcome(self, call_sid: str, outcome: CallOutcome, now: datetime) -> None:
        """Keep (or replace) how a call ended; forget those older than OUTCOME_TTL."""

    def take_outcome(self, call_sid: str) -> CallOutcome | None:
        """The call's outcome, deleted as it is read: one /call-ended request takes it."""

    def start_transfer(self, call_sid: str, caller: str, state: str, now: datetime) -> None:
        """Keep (or start again) a call's transfer; forget those older than TRANSFER_TTL."""

    def move_transfer(
        self, call_sid: str, from_states: tuple[str, ...], to_state: str, staff_call_sid: str
    ) -> TransferRow | None:
        """Set the state (and the staff leg's SID, unless "") if it is one of ``from_states``;
        the row when it moved, None when another process (or event) moved it first."""

    def heartbeat(self, server_id: str, draining: bool, ttl: timedelta, now: datetime) -> None:
        """Announce a live server (heartbeat.py) for ``ttl``; forget long-expired ones.

        Expiry is by the database's clock where it has one (PostgreSQL: the servers sharing
        it may be on machines whose clocks differ); ``now``, the process's clock, serves
        SQLite, whose servers share one machine."""

    def forget_server(self, server_id: str) -> None: ...
    def live_peers(self, server_id: str, now: datetime) -> int:
        """How many other servers (of this clinic) are live and not draining (by the
        database's clock, as for ``heartbeat``; SQLite: at ``now``)."""


class Backend(Protocol):
    location: str
    """Where the data is, for messages (a path, or a URL that holds no password)."""

    def open(self) -> None:
        """Connect and check the schema is this release's (SQLite creates a new file's)."""

    def close(self) -> None: ...
    def exists(self) -> bool:
        """False when there is plainly no database yet (a missing SQLite file)."""

    def upgrade(self) -> tuple[int, int]:
        """Apply missing migrations; returns the schema version before and after."""

    def transaction(self, *, write: bool) -> AbstractContextManager[Transaction]:
        """Commit on exit, roll back on an exception; a write transaction is ready to write
        (SQLite takes the write lock first). Driver errors leave as StoreUnavailable."""

    def connection(self) -> AbstractContextManager[Any]:
        """A raw DB-API connection, schema checked, for the call records (records/store.py):
        they share the database and its migrations but not the appointments' rules."""
