"""The facts of a call, as staff hear them before joining a warm transfer."""

from __future__ import annotations

from datetime import datetime

from receptionist.messages import CallStarted, Transcript, TransferBrief
from receptionist.scheduling.messages import Appointment, BookingConfirmed, BookingMoved
from receptionist.staff.briefing import CallFacts, briefing_text

TUESDAY_10 = datetime.fromisoformat("2026-12-01T10:00:00-05:00")


def appointment(service: str = "cleaning") -> Appointment:
    end = TUESDAY_10.replace(hour=11)
    return Appointment(7, TUESDAY_10, end, service, "Maria Garcia", "+15551234567", "")


def said(text: str) -> Transcript:
    return Transcript(text, is_final=True, speech_ended_at=None, at=0.0)


def test_the_facts_come_from_the_calls_events() -> None:
    facts = CallFacts()
    facts.observe(CallStarted("CA1", "MZ1", "+15551234567"))
    facts.observe(said("I'd like a cleaning please"))
    facts.observe(BookingConfirmed(1, appointment()))
    facts.observe(BookingMoved(2, appointment("check-up")))
    facts.observe(said("I have a question about my insurance"))
    facts.observe(said("a person"))  # too short to say why
    assert facts.brief() == TransferBrief(
        caller="+15551234567",
        name="Maria Garcia",
        done=(
            "a cleaning booked for Tuesday 1 December at 10:00",
            "a check-up moved to Tuesday 1 December at 10:00",
        ),
        why="I have a question about my insurance",
    )


def test_the_brains_reason_comes_first() -> None:
    facts = CallFacts("+15551234567")
    facts.observe(said("I have a question about my insurance"))
    assert facts.brief("billing question").why == "billing question"


def test_the_briefing_says_who_why_and_what_was_done() -> None:
    brief = TransferBrief(
        caller="+15551234567", name="Maria Garcia", done=("a cleaning booked Tuesday",),
        why="a question about my insurance?",
    )  # fmt: skip
    assert briefing_text(brief, "Riverside") == (
        "A call transferred by the Riverside receptionist. Maria Garcia, calling from"
        " (555) 123-4567. Already done: a cleaning booked Tuesday. They said: a question"
        " about my insurance. Connecting you now."
    )


def test_an_anonymous_caller_is_briefed_too() -> None:
    assert briefing_text(TransferBrief(), "Riverside") == (
        "A call transferred by the Riverside receptionist. A caller, number withheld."
        " Connecting you now."
    )
