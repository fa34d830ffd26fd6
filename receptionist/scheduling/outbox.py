"""The outbox: changes to appointments, and messages callers leave for the clinic, for
workers outside the call (calendar sync, staff notifications), written in the same
transaction as the change (or the message) itself.

A booking, move or cancellation adds one row per configured topic, so a change is in the
outbox exactly when it is in the appointments table. Workers take rows with
``AppointmentStore.outbox_claim`` (a lease: a worker that dies mid-delivery lets its items
come back when the lease runs out), then report ``outbox_done`` or ``outbox_retry``. Rows of
one key (one appointment) are handed out one at a time, oldest first, so an upsert is never
delivered after the delete that followed it. Delivery is at least once: a worker whose lease
ran out may deliver an item another worker delivers again, so consumers upsert by key.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from receptionist.scheduling.messages import Appointment, LeaveMessage

Action = Literal["upsert", "delete"]
MAX_ERROR_CHARS = 2000
"""``last_error`` is for a person reading the table; a longer message is cut to this."""


@dataclass(frozen=True, slots=True)
class OutboxItem:
    id: int
    topic: str
    key: str
    payload: Mapping[str, Any]
    attempts: int
    """Failed deliveries so far (``outbox_retry`` calls), for the worker's backoff."""


def appointment_key(appointment_id: int) -> str:
    return f"appointment:{appointment_id}"


def appointment_payload(action: Action, appointment: Appointment) -> dict[str, Any]:
    """What a worker needs to mirror the change: times are ISO 8601 in the clinic's zone."""
    return {
        "action": action,
        "appointment": {
            "id": appointment.id,
            "start": appointment.start.isoformat(),
            "end": appointment.end.isoformat(),
            "service": appointment.service,
            "name": appointment.name,
            "phone": appointment.phone,
            "reason": appointment.reason,
            # Who it is with, where the clinic books by practitioner.
            **({"practitioner": appointment.practitioner} if appointment.practitioner else {}),
        },
    }


CLINIC_MESSAGE_TOPIC = "clinic_message"
"""Every message a caller leaves for the clinic adds one row of this topic (not configured:
a message is always for someone to deliver)."""


def clinic_message_key(message_id: int) -> str:
    return f"clinic_message:{message_id}"


def clinic_message_payload(
    message_id: int, message: LeaveMessage, created_at: datetime
) -> dict[str, Any]:
    return {
        "message": {
            "id": message_id,
            "call_sid": message.call_sid,
            "name": message.name,
            "phone": message.phone,
            "about": message.about,
            "reason": message.reason.value,
            "created_at": created_at.isoformat(),
        },
    }


def check_claim(limit: int, lease_s: float) -> None:
    if limit < 1:
        raise ValueError(f"outbox_claim: limit must be at least 1, got {limit}")
    if lease_s <= 0:
        raise ValueError(f"outbox_claim: lease_s must be positive, got {lease_s}")
