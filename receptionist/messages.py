"""The messages one call's actors send each other: small, frozen, dispatched with ``match``.

Every timestamp is ``trio.current_time()`` (seconds), so tests run on a mock clock.

Who sends what (the unions at the end type each channel)::

    TwilioIO    -> Listener    InboundAudio
    TwilioIO    -> Dialogue    CallEvent: CallStarted, MarkPlayed, DtmfPressed, CallStopped
    Listener    -> Dialogue    ListenerEvent: SpeechStarted, SpeechPaused, SpeechResumed,
                               SpeechStopped, Transcript, CallerSettled
    Dialogue    -> Listener    ListenFor
    Dialogue    -> Synthesizer Sentence
    Dialogue    -> TwilioIO    ClearAudio, EndCall
    Synthesizer -> TwilioIO    OutboundAudio, OutboundMark
    Dialogue    -> Scheduler   SchedulerRequest (``receptionist.scheduling.messages``)
    Scheduler   -> Dialogue    SchedulerReply (idem)

The Dialogue's inbox takes the first three kinds fanned in (``DialogueEvent``); TwilioIO's
outbox takes the Synthesizer's and the Dialogue's (``Outbound``).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType

from receptionist.scheduling.messages import SchedulerReply

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
class CallerSettled:
    """The Listener has heard ``turn_taking.settle_ms`` of the caller's quiet audio since
    their last final transcript or their last voiced frame: what they said stayed said.
    Counted in frames as the Listener hears them, so however late the audio is processed,
    speech that came within the settle time is always heard first."""

    at: float
    """Arrival time of the frame that completed the quiet."""


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
class ClearAudio:
    """Barge-in: drop everything buffered at Twilio and every frame of turns <= turn_id."""

    turn_id: int
    at: float


class EndReason(enum.Enum):
    COMPLETED = "completed"
    TRANSFER = "transfer"
    ERROR = "error"
    RETRY = "retry"
    """Refused by a draining server: /call-ended sends Twilio back to /incoming-call."""


@dataclass(frozen=True, slots=True)
class TransferBrief:
    """What staff hear before joining a warm transfer: the call's facts (staff/briefing.py)."""

    caller: str = ""
    """The caller's number (E.164), "" when withheld."""
    name: str = ""
    """The caller's name, when the call learnt it (a booking)."""
    done: tuple[str, ...] = ()
    """What the receptionist already did: "a cleaning booked for Tuesday 3 December, 10:00"."""
    why: str = ""
    """The brain's reason for the transfer, else the caller's last words."""


@dataclass(frozen=True, slots=True)
class EndCall:
    """Hang up (or hand over) once everything already queued has played."""

    reason: EndReason
    transfer_to: str | None = None
    why: str = ""
    """A transfer's reason, when the brain gave one (for the staff's briefing)."""
    brief: TransferBrief | None = None
    """A transfer's briefing, added by the supervisor from what the call saw."""


# --- What each channel carries -----------------------------------------------------------

CallEvent = CallStarted | MarkPlayed | DtmfPressed | CallStopped
"""TwilioIO -> Dialogue."""
ListenerEvent = (
    SpeechStarted | SpeechPaused | SpeechResumed | SpeechStopped | Transcript | CallerSettled
)
"""Listener -> Dialogue: the VAD's turn events, the recogniser's transcripts, and when the
caller's last words have stayed said."""
DialogueEvent = CallEvent | ListenerEvent | SchedulerReply
"""Everything the Dialogue receives: TwilioIO, Listener and Scheduler messages, fanned in."""
Outbound = OutboundAudio | OutboundMark | ClearAudio | EndCall
"""Everything TwilioIO sends the caller's way: the Synthesizer's audio and marks, the
Dialogue's clear and hang-up."""
