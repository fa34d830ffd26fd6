"""The conversation's vocabulary and state, shared by its flows.

``receptionist.offline.conversation`` re-exports the events and actions; the flow modules
(``booking``, ``name_and_number``, ``changes``) hold per-step handlers over ``CallState``.
Nothing here does I/O: events carry the time, actions say what to do.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from receptionist.config import Config
from receptionist.messages import Expectation
from receptionist.offline.questions import ANYTHING_ELSE_QUESTION, INTENT_QUESTION, Question
from receptionist.scheduling.messages import (
    Appointment,
    MessageReason,
    SchedulerReply,
    SchedulerRequest,
)
from receptionist.scheduling.slots import normalise_phone
from receptionist.turns.escalation import Frustration
from receptionist.turns.reprompts import Reprompts

# --- Events: what happened on the call ------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CallBegan:
    caller_number: str | None
    now: datetime
    call_sid: str = ""
    resume: str = ""
    """Twilio's ``resume`` parameter: "transfer-unanswered" when the caller is back after
    a transfer nobody answered."""


@dataclass(frozen=True, slots=True)
class CallerSaid:
    text: str
    now: datetime
    confidence: float | None = None
    """The recogniser's, when it gives one: a low one is confirmed or re-asked."""


@dataclass(frozen=True, slots=True)
class CallerKeyed:
    """One DTMF key: a digit, "*" or "#"."""

    digit: str
    now: datetime


@dataclass(frozen=True, slots=True)
class CallerSilent:
    """The caller said nothing for a while after the receptionist finished speaking."""

    now: datetime


@dataclass(frozen=True, slots=True)
class SchedulerAnswered:
    reply: SchedulerReply


Event = CallBegan | CallerSaid | CallerKeyed | CallerSilent | SchedulerAnswered


# --- Actions: what the receptionist does -----------------------------------------------------


@dataclass(frozen=True, slots=True)
class Speak:
    text: str
    expect: Expectation = Expectation.OPEN
    end_of_call: bool = False
    """The last words of the call: say them in full, then hang up or transfer."""


@dataclass(frozen=True, slots=True)
class AskScheduler:
    request: SchedulerRequest


@dataclass(frozen=True, slots=True)
class Hangup:
    reason: str


@dataclass(frozen=True, slots=True)
class TransferCall:
    number: str


@dataclass(frozen=True, slots=True)
class TakeMessage:
    """A message for the clinic's team: who, the number to call back, what about."""

    name: str
    phone: str
    about: str


@dataclass(frozen=True, slots=True)
class Escalated:
    """The caller seemed frustrated (``turns.escalation``): logged once, with its reason."""

    reason: str


Action = Speak | AskScheduler | Hangup | TransferCall | TakeMessage | Escalated


# --- State -----------------------------------------------------------------------------------


class Step(enum.Enum):
    """What the receptionist is waiting for the caller to say."""

    INTENT = enum.auto()
    ANYTHING_ELSE = enum.auto()
    OFFER_HUMAN = enum.auto()
    REASON = enum.auto()
    DAY = enum.auto()
    TIME = enum.auto()
    NAME = enum.auto()
    PHONE_OK = enum.auto()
    PHONE_KEYPAD = enum.auto()
    CONFIRM_BOOKING = enum.auto()
    CHANGE_WHAT = enum.auto()
    WHICH_APPOINTMENT = enum.auto()
    CONFIRM_CANCEL = enum.auto()
    CONFIRM_MOVE = enum.auto()
    CONFIRM_HEARD = enum.auto()
    """Whether the receptionist heard an unsure answer right."""
    MESSAGE_NAME = enum.auto()
    MESSAGE_ABOUT = enum.auto()
    MESSAGE_PHONE_OK = enum.auto()
    WAITING = enum.auto()
    """For the Scheduler's reply, not for the caller."""
    ENDED = enum.auto()


class Task(enum.Enum):
    BOOK = "book"
    CANCEL = "cancel"
    MOVE = "move"
    MESSAGE = "message"


@dataclass
class Draft:
    """The appointment being booked, or the one being moved or cancelled."""

    service: str = ""
    reason: str = ""
    practitioner: str = ""
    """The practitioner the caller asked for ("with Dr. Patel"); "": anyone free."""
    day_said: str = ""
    """A day the caller named before it was asked for, to use once it is."""
    day: date | None = None
    wanted: time | None = None
    refused: datetime | None = None
    """A time the Scheduler refused at booking (just taken): offer the free ones nearest it."""
    offered: tuple[datetime, ...] = ()
    start: datetime | None = None
    name: str = ""
    phone: str = ""
    note: str = ""
    """Said before the next offer of times: why the asked-for day or time is not on offer."""
    days_searched: int = 0
    found: tuple[Appointment, ...] = ()
    appointment: Appointment | None = None


@dataclass
class CallState:
    config: Config
    now: datetime
    caller: str | None = None
    call_sid: str = ""
    step: Step = Step.INTENT
    question: Question = INTENT_QUESTION
    task: Task = Task.BOOK
    draft: Draft = field(default_factory=Draft)
    reprompts: Reprompts = field(init=False)
    frustration: Frustration = field(init=False)
    message_reason: MessageReason = MessageReason.ASKED
    keyed: str = ""
    """DTMF digits so far, until "#"."""
    resume: tuple[Step, Question] | None = None
    """Where to go back to when the caller declines a human."""
    last_request_id: int = 0
    pending: int | None = None
    heard: tuple[Step, Question, str] | None = None
    """An unsure answer being confirmed: the question it answered, and the words."""
    sure: bool = False
    """The words being handled were confirmed (or keyed): act on them without asking."""

    def __post_init__(self) -> None:
        self.reprompts = Reprompts(self.config.dialogue.max_reprompts)
        self.frustration = Frustration(self.config.escalation)

    @property
    def tz(self) -> ZoneInfo:
        return self.config.clinic.tz

    @property
    def caller_number(self) -> str | None:
        """The caller ID (E.164) when it is a number we could call back."""
        return normalise_phone(self.caller or "", self.config.clinic.country) or None

    def ask(self, step: Step, question: Question, before: str = "") -> list[Action]:
        """Say ``before`` then put the question, and wait for its answer."""
        self.step, self.question, self.keyed = step, question, ""  # keys answer one question
        return [Speak(join(before, question.text), question.expect)]

    def confirm(self, text: str, check: str) -> list[Action]:
        """Ask ``check`` ("did you say Tuesday the 8th?") before acting on ``text``."""
        self.heard = (self.step, self.question, text)
        question = Question(check, Expectation.YES_NO, rephrased=f"{check} Please say yes or no.")
        return self.ask(Step.CONFIRM_HEARD, question)

    def goodbye(self, reason: str, *before: str) -> list[Action]:
        self.step = Step.ENDED
        farewell = f"Thank you for calling {self.config.clinic.name}. Goodbye!"
        return [Speak(join(*before, farewell), end_of_call=True), Hangup(reason)]

    def anything_else(self, before: str = "") -> list[Action]:
        self.task, self.draft = Task.BOOK, Draft()
        return self.ask(Step.ANYTHING_ELSE, ANYTHING_ELSE_QUESTION, before)

    def request(self, make: Callable[[int], SchedulerRequest]) -> list[Action]:
        """Ask the Scheduler; ``make`` builds the request from a fresh request id."""
        self.last_request_id += 1
        self.pending, self.step = self.last_request_id, Step.WAITING
        return [AskScheduler(make(self.last_request_id))]


def join(*sentences: str) -> str:
    return " ".join(sentence for sentence in sentences if sentence)
