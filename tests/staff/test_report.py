"""The post-call report, composed synchronously from records the collector builds out of a
call's own messages: what was done, the outcome, the composed summary, the transcript."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from receptionist.messages import (
    CallStarted,
    CallStopped,
    EndCall,
    EndReason,
    MarkPlayed,
    OutboundMark,
    Transcript,
)
from receptionist.records.collector import CallFinished, CallRecording, RecorderMessage
from receptionist.scheduling.messages import (
    Appointment,
    BookingCancelled,
    BookingConfirmed,
    BookingMoved,
    LeaveMessage,
    MessageReason,
    MessageSaved,
)
from receptionist.staff.report import OUTCOMES, compose_report
from tests.helpers.clinic import PHONE, TUESDAY, TZ, WEDNESDAY, at

CALL_SID = "CA" + "7" * 32
STARTED = at(TUESDAY, "08:00").timestamp()


def appointment(hhmm: str = "10:00", day: date = TUESDAY) -> Appointment:
    start = at(day, hhmm)
    return Appointment(7, start, start + timedelta(minutes=30), "check-up",
                       "Maria Garcia", PHONE, "a chipped tooth")  # fmt: skip


def record_of(*messages: object, seconds: float = 95.0) -> dict[str, Any]:
    """The record the collector hands the recorder after these messages, one a second."""
    sent: list[RecorderMessage] = []
    wall = iter([STARTED, STARTED + seconds])
    recording = CallRecording(
        lambda m: sent.append(m) or True, record_audio=False, max_samples=1,
        wall_clock=lambda: next(wall),
    )  # fmt: skip
    recording.observe(CallStarted(CALL_SID, "MZ1", PHONE, at=0.0), at=0.0)
    for second, message in enumerate(messages, start=1):
        recording.observe(message, at=float(second))
    recording.finish(crashed=False)
    (finished,) = sent
    assert isinstance(finished, CallFinished)
    return dict(finished.record)


def said(text: str, at_s: float) -> list[object]:
    return [OutboundMark(1, f"m{at_s}", text), MarkPlayed(f"m{at_s}", at=at_s)]


def heard(text: str, at_s: float) -> Transcript:
    return Transcript(text, is_final=True, speech_ended_at=at_s, at=at_s)


def test_a_booking_call_reports_what_was_booked_when_and_by_whom() -> None:
    record = record_of(
        *said("Smile Dental, how can I help?", 1.0),
        heard("I'd like a check-up on Tuesday at ten", 3.0),
        BookingConfirmed(1, appointment()),
        EndCall(EndReason.COMPLETED),
    )
    report = compose_report(record, TZ)

    assert report["outcome"] == "booked"
    assert report["caller"] == PHONE
    assert report["started_at"] == "2026-12-01T08:00:00-05:00"
    assert report["ended_at"] == "2026-12-01T08:01:35-05:00"
    assert report["duration_s"] == 95.0
    (booking,) = report["bookings"]
    assert booking == {
        "change": "booked", "id": 7, "service": "check-up",
        "start": "2026-12-01T10:00:00-05:00", "end": "2026-12-01T10:30:00-05:00",
        "name": "Maria Garcia", "reason": "a chipped tooth", "practitioner": "",
    }  # fmt: skip
    assert report["summary"] == (
        "Maria Garcia booked a check-up for Tuesday 1 December at 10:00."
        " The call from +15551234567 lasted 1 min 35 s."
    )
    assert report["summary_from"] == "facts"
    assert report["message"] is None
    assert [(line["who"], line["text"]) for line in report["transcript"]] == [
        ("receptionist", "Smile Dental, how can I help?"),
        ("caller", "I'd like a check-up on Tuesday at ten"),
    ]


def test_a_move_and_a_cancellation_each_say_what_changed() -> None:
    moved = compose_report(record_of(BookingMoved(1, appointment("14:30", WEDNESDAY))), TZ)
    assert moved["outcome"] == "moved"
    assert moved["summary"].startswith(
        "Maria Garcia moved their check-up to Wednesday 2 December at 14:30."
    )
    cancelled = compose_report(record_of(BookingCancelled(1, appointment())), TZ)
    assert cancelled["outcome"] == "cancelled"
    assert cancelled["summary"].startswith(
        "Maria Garcia cancelled their check-up on Tuesday 1 December at 10:00."
    )


def test_a_caller_who_hangs_up_before_anything_is_done_abandoned_the_call() -> None:
    record = record_of(*said("Smile Dental, how can I help?", 1.0), CallStopped(at=2.0), seconds=4)
    report = compose_report(record, TZ)
    assert report["outcome"] == "abandoned"
    assert report["bookings"] == []
    assert report["summary"] == (
        "The caller hung up before anything was done. The call from +15551234567 lasted 4 s."
    )


def test_questions_answered_a_transfer_and_a_silent_call() -> None:
    answered = record_of(heard("are you open on saturday", 2.0), EndCall(EndReason.COMPLETED))
    assert compose_report(answered, TZ)["outcome"] == "answered"
    transferred = record_of(heard("a person please", 2.0), EndCall(EndReason.TRANSFER, "+1555"))
    assert compose_report(transferred, TZ)["outcome"] == "transferred"
    silent = record_of(EndCall(EndReason.COMPLETED))
    assert compose_report(silent, TZ)["outcome"] == "abandoned"


def test_a_message_taken_is_the_outcome_and_in_the_report() -> None:
    left = LeaveMessage(
        4, "CA1", "Maria Garcia", "+15551234567", "her insurance claim.", MessageReason.ASKED
    )
    record = record_of(heard("can someone call me back", 2.0), MessageSaved(4, 12, left))
    report = compose_report(record, TZ)
    assert report["outcome"] == "message taken"
    assert report["message"] == {
        "id": 12,
        "name": "Maria Garcia",
        "phone": "+15551234567",
        "about": "her insurance claim.",
        "reason": "asked",
    }  # fmt: skip: the whole number, for the clinic to call back
    assert report["summary"].startswith(
        "Maria Garcia left a message for the clinic about her insurance claim."
    )


def test_the_models_summary_replaces_the_composed_one() -> None:
    record = record_of(BookingConfirmed(1, appointment()))
    report = compose_report(record, TZ, llm_summary=" Maria booked a check-up. All good. ")
    assert (report["summary"], report["summary_from"]) == (
        "Maria booked a check-up. All good.",
        "llm",
    )
    assert report["outcome"] in OUTCOMES
