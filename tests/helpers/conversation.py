"""The offline receptionist driven synchronously: its clinic, a caller, and conversation steps."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from receptionist.config import Config, parse_config
from receptionist.offline.conversation import (
    Action,
    AskScheduler,
    CallBegan,
    CallerKeyed,
    CallerSaid,
    CallerSilent,
    Escalated,
    Hangup,
    Receptionist,
    SchedulerAnswered,
    Speak,
)
from receptionist.scheduling.messages import (
    Appointment,
    FindFreeSlots,
    FreeSlots,
    SchedulerReply,
    SchedulerRequest,
)

TZ = ZoneInfo("America/New_York")


NOW = datetime(2026, 11, 26, 15, 0, tzinfo=TZ)
"""Thursday the 26th of November 2026, 3 PM."""


TUESDAY = date(2026, 12, 1)


WEDNESDAY = date(2026, 12, 2)


SATURDAY = date(2026, 11, 28)


MONDAY = date(2026, 11, 30)


CALLER = "+15551234567"


WHOLE_DAY = 24 * 60 // 15
"""Free starts a day can hold on the default 15-minute grid."""


GREETING = "Thank you for calling Riverside Family Clinic. How can I help?"


GOODBYE = "Thank you for calling Riverside Family Clinic. Goodbye!"


CONFIG = parse_config(
    {
        "clinic": {
            "name": "Riverside Family Clinic",
            "timezone": "America/New_York",
            "greeting": GREETING,
            "hours": {
                "monday": "09:00-17:00",
                "tuesday": "09:00-17:00",
                "wednesday": "09:00-17:00",
                "thursday": "09:00-19:00",
                "friday": "09:00-16:00",
            },
        },
        "services": [
            {"name": "check-up", "minutes": 30, "words": ["check up", "annual", "physical"]},
            {"name": "consultation", "minutes": 20, "words": ["appointment", "sore", "cough"]},
            {"name": "vaccination", "minutes": 15, "words": ["flu shot", "vaccine"]},
        ],
        "dialogue": {"max_reprompts": 2},
    }
)


WITH_TRANSFER = replace(CONFIG, clinic=replace(CONFIG.clinic, transfer_number="+15550001111"))


def at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), TZ)


def appointment(id_: int, start: datetime, service: str = "check-up") -> Appointment:
    return Appointment(id_, start, start, service, "John Smith", CALLER, "check up")


class Call:
    """One scripted call: each method is something the caller (or the Scheduler) does."""

    def __init__(
        self, config: Config = CONFIG, caller: str | None = CALLER, *, resume: str = "",
        now: datetime = NOW,
    ) -> None:  # fmt: skip
        self.receptionist, self.now = Receptionist(config), now
        self.greeting = self.receptionist.handle(CallBegan(caller, now, "CA1", resume))

    def says(self, text: str) -> list[Action]:
        return self.receptionist.handle(CallerSaid(text, self.now))

    def keys(self, digits: str) -> list[Action]:
        actions: list[Action] = []
        for digit in digits:
            actions += self.receptionist.handle(CallerKeyed(digit, self.now))
        return actions

    def silent(self) -> list[Action]:
        return self.receptionist.handle(CallerSilent(self.now))

    def scheduler(self, reply: SchedulerReply) -> list[Action]:
        return self.receptionist.handle(SchedulerAnswered(reply))


def spoken(actions: list[Action]) -> str:
    """The one thing said, checking nothing else was done."""
    assert len(actions) == 1, actions
    assert isinstance(actions[0], Speak), actions
    return actions[0].text


def escalation(actions: list[Action]) -> tuple[str, str]:
    """An escalation's reason, and what was said with it (checking nothing else was done)."""
    assert len(actions) == 2, actions
    escalated, speak = actions
    assert isinstance(escalated, Escalated), actions
    assert isinstance(speak, Speak), actions
    return escalated.reason, speak.text


def asked(actions: list[Action]) -> SchedulerRequest:
    assert len(actions) == 1, actions
    assert isinstance(actions[0], AskScheduler), actions
    return actions[0].request


def said_goodbye(actions: list[Action], reason: str) -> str:
    assert len(actions) == 2, actions
    speak, hangup = actions
    assert isinstance(speak, Speak)
    assert speak.end_of_call
    assert hangup == Hangup(reason)
    return speak.text


def to_the_time_step(call: Call) -> FindFreeSlots:
    """Book a check-up, ask for next Tuesday: returns the Scheduler request."""
    call.says("i'd like to book a check up")
    request = asked(call.says("next tuesday please"))
    assert isinstance(request, FindFreeSlots)
    return request


def to_the_phone_question(call: Call) -> None:
    to_the_time_step(call)
    call.scheduler(FreeSlots(1, TUESDAY, (at(TUESDAY, 9),), True))
    call.says("nine")
    call.says("jane doe")
