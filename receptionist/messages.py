"""The messages one call's actors send each other: small, frozen, dispatched with ``match``.

Every timestamp is ``trio.current_time()`` (seconds), so tests run on a mock clock.

Who sends what::

    TwilioIO    -> Listener    InboundAudio
    TwilioIO    -> Dialogue    CallStarted, MarkPlayed, DtmfPressed, CallStopped
    Listener    -> Dialogue    SpeechStarted, SpeechPaused, SpeechResumed, SpeechStopped,
                               Transcript
    Dialogue    -> Listener    ListenFor
    Dialogue    -> Synthesizer Sentence
    Dialogue    -> TwilioIO    ClearAudio, EndCall
    Synthesizer -> TwilioIO    OutboundAudio, OutboundMark, TurnAudioEnd
    Dialogue    -> Scheduler   SchedulerRequest (FindFreeSlots, BookSlot, FindBookings, ...)
    Scheduler   -> Dialogue    SchedulerReply (FreeSlots, BookingConfirmed, ...)
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time
from types import MappingProxyType

FRAME_MS = 20
"""Twilio sends and expects 20 ms frames of 8 kHz mu-law: 160 bytes each."""
SAMPLE_RATE = 8000
FRAME_BYTES = SAMPLE_RATE * FRAME_MS // 1000
ULAW_SILENCE = b"\xff"


# --- TwilioIO -> the call ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CallStarted:
    call_sid: str
    stream_sid: str
    caller: str | None
    """The caller's number (E.164) when Twilio passed it on, else None."""
    parameters: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    at: float = 0.0


@dataclass(frozen=True, slots=True)
class InboundAudio:
    ulaw: bytes
    """One frame of 8 kHz mu-law as Twilio sent it (normally 160 bytes)."""
    at: float


@dataclass(frozen=True, slots=True)
class MarkPlayed:
    """Twilio echoed a mark: the audio sent before it has played (or was cleared)."""

    name: str
    at: float


@dataclass(frozen=True, slots=True)
class DtmfPressed:
    digit: str
    at: float


@dataclass(frozen=True, slots=True)
class CallStopped:
    """The stream ended: the caller hung up or Twilio closed it."""

    at: float


# --- Listener (VAD/STT) -> Dialogue ------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SpeechStarted:
    at: float
    """Time of the first voiced frame of this stretch of speech."""


@dataclass(frozen=True, slots=True)
class SpeechStopped:
    at: float
    """Time of the last voiced frame: where the caller's speech ended."""


@dataclass(frozen=True, slots=True)
class SpeechPaused:
    """A short silence in the caller's speech (``turn_taking.preemptive_after_ms``): their
    turn may be over. ``SpeechResumed`` or ``SpeechStopped`` follows."""

    at: float
    """Time of the last voiced frame."""


@dataclass(frozen=True, slots=True)
class SpeechResumed:
    """The caller spoke again after ``SpeechPaused``, before ``SpeechStopped``."""

    at: float


@dataclass(frozen=True, slots=True)
class Transcript:
    text: str
    is_final: bool
    speech_ended_at: float | None
    """When the caller stopped speaking (last voiced frame), when known."""
    at: float
    confidence: float | None = None


class Expectation(enum.Enum):
    """What the Dialogue expects the caller to say next; recognisers may narrow on it."""

    OPEN = "open"
    YES_NO = "yes_no"
    DIGITS = "digits"
    DAY = "day"
    TIME = "time"
    NAME = "name"


@dataclass(frozen=True, slots=True)
class ListenFor:
    expectation: Expectation


# --- Turn timings: carried along the pipeline, logged once per agent turn ----------------


@dataclass(frozen=True, slots=True)
class TurnTimings:
    """Timestamps of one agent turn, filled in stage by stage (None where not applicable)."""

    speech_ended: float | None = None
    transcript_final: float | None = None
    first_output: float | None = None
    first_sentence: float | None = None
    first_audio: float | None = None

    def with_first_audio(self, at: float) -> TurnTimings:
        return self if self.first_audio is not None else replace(self, first_audio=at)


# --- Dialogue -> Synthesizer -> TwilioIO -------------------------------------------------


@dataclass(frozen=True, slots=True)
class Sentence:
    turn_id: int
    index: int
    text: str
    last: bool
    """True on the final sentence of the turn."""
    timings: TurnTimings
    caller_text: str = ""
    """What the caller said that this turn answers (for the turn log)."""


@dataclass(frozen=True, slots=True)
class OutboundAudio:
    turn_id: int
    ulaw: bytes
    """Exactly FRAME_BYTES of 8 kHz mu-law."""
    timings: TurnTimings


@dataclass(frozen=True, slots=True)
class OutboundMark:
    """Sent after a sentence's audio; Twilio echoes it once that audio has played."""

    turn_id: int
    name: str
    text: str


@dataclass(frozen=True, slots=True)
class TurnAudioEnd:
    """No more audio will follow for this turn."""

    turn_id: int
    caller_text: str = ""


@dataclass(frozen=True, slots=True)
class ClearAudio:
    """Barge-in: drop everything buffered at Twilio and every frame of turns <= turn_id."""

    turn_id: int
    at: float


class EndReason(enum.Enum):
    COMPLETED = "completed"
    TRANSFER = "transfer"
    ERROR = "error"


@dataclass(frozen=True, slots=True)
class EndCall:
    """Hang up (or hand over) once everything already queued has played."""

    reason: EndReason
    transfer_to: str | None = None


# --- Dialogue <-> Scheduler --------------------------------------------------------------


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


@dataclass(frozen=True, slots=True)
class FindFreeSlots:
    request_id: int
    service: str
    day: date
    earliest: time | None = None
    limit: int = 3


@dataclass(frozen=True, slots=True)
class BookSlot:
    request_id: int
    service: str
    start: datetime
    name: str
    phone: str
    reason: str


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


SchedulerRequest = FindFreeSlots | BookSlot | FindBookings | CancelBooking | MoveBooking


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


SchedulerReply = (
    FreeSlots | BookingConfirmed | BookingsFound | BookingCancelled | BookingMoved | BookingRejected
)
