"""The Dialogue's requests to the Scheduler and its replies: small, frozen, each carrying the
``request_id`` of its request, dispatched with ``match`` like ``receptionist.messages``."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import date, datetime, time


@dataclass(frozen=True, slots=True)
class Appointment:
    id: int
    start: datetime
    """Aware datetime in the clinic's timezone."""
    end: datetime
    service: str
    name: str
    phone: str
    reason: str
    practitioner: str = ""
    """Who it is booked with ([[practitioners]]); "": the clinic as a whole."""


@dataclass(frozen=True, slots=True)
class FindFreeSlots:
    request_id: int
    service: str
    day: date
    earliest: time | None = None
    limit: int = 3
    near: time | None = None
    """The time the caller asked for: offer the free times nearest to it."""
    practitioner: str = ""
    """Only this practitioner's free times; "": anyone's who does the service."""


@dataclass(frozen=True, slots=True)
class BookSlot:
    request_id: int
    service: str
    start: datetime
    name: str
    phone: str
    reason: str
    practitioner: str = ""
    """The practitioner the caller asked for; "": any free one who does the service."""


@dataclass(frozen=True, slots=True)
class FindBookings:
    """Upcoming appointments booked under a phone number."""

    request_id: int
    phone: str


@dataclass(frozen=True, slots=True)
class CancelBooking:
    request_id: int
    appointment_id: int
    phone: str
    """Must match the booking's phone: a caller cancels only their own appointments."""


@dataclass(frozen=True, slots=True)
class MoveBooking:
    request_id: int
    appointment_id: int
    phone: str
    new_start: datetime


class MessageReason(enum.Enum):
    """Why the caller left a message rather than speak to a person."""

    ASKED = "asked"
    AFTER_HOURS = "after_hours"
    TRANSFER_UNANSWERED = "transfer_unanswered"
    ESCALATION = "escalation"
    NOT_UNDERSTOOD = "not_understood"


@dataclass(frozen=True, slots=True)
class LeaveMessage:
    """A message for the clinic's team: written (with its outbox row) before it is promised."""

    request_id: int
    call_sid: str
    name: str
    phone: str
    """The confirmed number to call back (E.164)."""
    about: str
    reason: MessageReason


SchedulerRequest = (
    FindFreeSlots | BookSlot | FindBookings | CancelBooking | MoveBooking | LeaveMessage
)


@dataclass(frozen=True, slots=True)
class FreeSlots:
    request_id: int
    day: date
    slots: tuple[datetime, ...]
    open_on_day: bool
    """False when the clinic is closed all that day."""


@dataclass(frozen=True, slots=True)
class BookingConfirmed:
    request_id: int
    appointment: Appointment


@dataclass(frozen=True, slots=True)
class BookingsFound:
    request_id: int
    appointments: tuple[Appointment, ...]


@dataclass(frozen=True, slots=True)
class BookingCancelled:
    request_id: int
    appointment: Appointment


@dataclass(frozen=True, slots=True)
class BookingMoved:
    request_id: int
    appointment: Appointment


class RejectReason(enum.Enum):
    SLOT_TAKEN = "slot_taken"
    OUTSIDE_HOURS = "outside_hours"
    IN_THE_PAST = "in_the_past"
    TOO_FAR_AHEAD = "too_far_ahead"
    UNKNOWN_SERVICE = "unknown_service"
    NOT_FOUND = "not_found"
    INVALID = "invalid"
    STORE_UNAVAILABLE = "store_unavailable"


@dataclass(frozen=True, slots=True)
class BookingRejected:
    request_id: int
    reason: RejectReason
    detail: str = ""


@dataclass(frozen=True, slots=True)
class MessageSaved:
    request_id: int
    message_id: int
    message: LeaveMessage
    """What was written, for the call's record and report."""


SchedulerReply = (
    FreeSlots | BookingConfirmed | BookingsFound | BookingCancelled | BookingMoved
    | BookingRejected | MessageSaved
)  # fmt: skip
