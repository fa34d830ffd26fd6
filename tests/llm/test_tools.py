"""Tool schemas, argument validation, Scheduler requests and results, the system prompt."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date, time
from pathlib import Path
from typing import Any

import pytest

from receptionist.config import Config
from receptionist.llm import results
from receptionist.llm.prompt import system_prompt
from receptionist.llm.stream import ToolCall
from receptionist.llm.tools import (
    Book,
    Cancel,
    CheckAvailability,
    Hangup,
    Invalid,
    ToolContext,
    Transfer,
    to_request,
    tool_schemas,
    validate,
)
from receptionist.scheduling.messages import (
    Appointment,
    BookingConfirmed,
    BookingRejected,
    BookingsFound,
    BookSlot,
    CancelBooking,
    FindBookings,
    FindFreeSlots,
    FreeSlots,
    RejectReason,
)
from tests.helpers.clinic import PHONE, SATURDAY, TUESDAY, at, clinic_config

CONFIG = clinic_config(Path("unused.sqlite3"))
NOW = at(TUESDAY, "08:00")
CONTEXT = ToolContext(CONFIG, NOW, caller="+1 (555) 123-4567")
WITH_TRANSFER = replace(CONFIG, clinic=replace(CONFIG.clinic, transfer_number="+15550001111"))


def check(name: str, arguments: dict[str, Any] | str, context: ToolContext = CONTEXT) -> Any:
    raw = arguments if isinstance(arguments, str) else json.dumps(arguments)
    return validate(ToolCall("call_1", name, raw), context)


def invalid(name: str, arguments: dict[str, Any] | str, context: ToolContext = CONTEXT) -> str:
    outcome = check(name, arguments, context)
    assert isinstance(outcome, Invalid), outcome
    return outcome.detail


def test_check_availability_becomes_find_free_slots() -> None:
    valid = check(
        "check_availability", {"service": "Check-Up", "date": "2026-12-01", "earliest": "13:00"}
    )
    assert valid == CheckAvailability("check-up", TUESDAY, time(13, 0))
    assert to_request(valid, 7) == FindFreeSlots(7, "check-up", TUESDAY, time(13, 0))
    assert check("check_availability", {"service": "vaccination", "date": "2026-12-02"}) == (
        CheckAvailability("vaccination", date(2026, 12, 2), None)
    )


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        (
            {"service": "massage", "date": "2026-12-01"},
            "unknown service 'massage'; the clinic offers: check-up, consultation, vaccination",
        ),
        ({"service": "check-up", "date": "tomorrow"}, "date must be YYYY-MM-DD, got 'tomorrow'"),
        ({"service": "check-up"}, "date must be YYYY-MM-DD, got None"),
        ({"service": "check-up", "date": "2026-11-30"}, "2026-11-30: 2026-11-30 has passed"),
        ({"service": "check-up", "date": "2027-06-01"}, "2027-06-01: bookings open 60 days ahead"),
        (
            {"service": "check-up", "date": "2026-12-01", "earliest": "3pm"},
            "earliest must be HH:MM on the 24-hour clock, got '3pm'",
        ),
    ],
)
def test_check_availability_rejects(arguments: dict[str, Any], expected: str) -> None:
    assert invalid("check_availability", arguments) == expected


BOOKING = {
    "service": "consultation",
    "date": "2026-12-01",
    "time": "10:30",
    "name": "Ada Lovelace",
    "reason": "a sore throat",
}


def test_book_appointment_becomes_book_slot_with_the_caller_number() -> None:
    valid = check("book_appointment", BOOKING)
    assert valid == Book(
        "consultation", at(TUESDAY, "10:30"), "Ada Lovelace", PHONE, "a sore throat"
    )
    assert to_request(valid, 3) == BookSlot(
        3, "consultation", at(TUESDAY, "10:30"), "Ada Lovelace", PHONE, "a sore throat"
    )


def test_a_phone_number_given_wins_over_the_caller_id() -> None:
    valid = check("book_appointment", {**BOOKING, "phone": "555 987 6543"})
    assert isinstance(valid, Book)
    assert valid.phone == "+15559876543"


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            {"date": SATURDAY.isoformat()},
            "cannot book then: Saturday 10:30 is outside opening hours",
        ),
        ({"time": "16:50"}, "cannot book then: Tuesday 16:50 is outside opening hours"),
        ({"time": "08:30"}, "cannot book then: needs 60 minutes' notice"),
        ({"time": "10:10"}, "cannot book then: starts are every 15 minutes"),
        ({"time": "25:00"}, "time must be HH:MM on the 24-hour clock, got '25:00'"),
        ({"name": "  "}, "name is needed: ask the caller"),
        ({"name": "x" * 81}, "name is too long: keep it under 80 characters"),
        ({"reason": 5}, "reason is needed: ask the caller"),
    ],
)
def test_book_appointment_rejects(change: dict[str, Any], expected: str) -> None:
    assert invalid("book_appointment", {**BOOKING, **change}) == expected


def test_booking_without_any_phone_number_asks_for_one() -> None:
    anonymous = ToolContext(CONFIG, NOW, caller=None)
    assert invalid("book_appointment", BOOKING, anonymous) == (
        "a phone number is needed: ask the caller for theirs"
    )


def test_cancel_by_id_or_by_date_and_time() -> None:
    by_id = check("cancel_appointment", {"appointment_id": 12})
    assert by_id == Cancel(PHONE, 12, None)
    assert to_request(by_id, 4) == CancelBooking(4, 12, PHONE)
    by_time = check("cancel_appointment", {"date": "2026-12-01", "time": "09:00"})
    assert by_time == Cancel(PHONE, None, at(TUESDAY, "09:00"))
    assert to_request(by_time, 5) == FindBookings(5, PHONE)


@pytest.mark.parametrize(
    ("arguments", "caller", "expected"),
    [
        ({}, PHONE, "give appointment_id, or the appointment's date and time"),
        ({"appointment_id": "twelve"}, PHONE, "appointment_id must be an integer"),
        (
            {"appointment_id": 12},
            None,
            "the caller's number is unknown, so their appointments "
            "cannot be found; offer to put them through to the clinic instead",
        ),
    ],
)
def test_cancel_rejects(arguments: dict[str, Any], caller: str | None, expected: str) -> None:
    assert invalid("cancel_appointment", arguments, ToolContext(CONFIG, NOW, caller)) == expected


def test_end_call_and_transfer() -> None:
    assert check("end_call", "") == Hangup()
    assert invalid("transfer_to_human", {}) == (
        "nobody can take a transferred call; help the caller yourself"
    )
    during_hours = ToolContext(WITH_TRANSFER, at(TUESDAY, "10:00"), None)
    assert check("transfer_to_human", {}, during_hours) == Transfer("+15550001111")
    before_opening = ToolContext(WITH_TRANSFER, NOW, None)  # 8 AM; the clinic opens at 9
    assert check("transfer_to_human", {}, before_opening) == Invalid(
        "the clinic is closed: nobody can take the call; offer a message"
    )
    assert check("transfer_to_human", {"reason": "an insurance question"}, during_hours) == (
        Transfer("+15550001111", "an insurance question")
    )


@pytest.mark.parametrize(
    ("name", "arguments", "expected"),
    [
        ("check_availability", '{"service": "check-up", "da', "the arguments were not valid JSON"),
        ("check_availability", "[1, 2]", "the arguments must be a JSON object"),
        ("get_weather", "{}", "there is no tool named 'get_weather'"),
    ],
)
def test_malformed_calls_are_invalid_not_errors(name: str, arguments: str, expected: str) -> None:
    assert invalid(name, arguments) == expected


def test_schemas_name_the_tools_and_the_clinic_services() -> None:
    def names(config: Config) -> list[str]:
        return [tool["function"]["name"] for tool in tool_schemas(config)]

    assert names(CONFIG) == [
        "check_availability",
        "book_appointment",
        "cancel_appointment",
        "end_call",
        "take_message",
        "escalate",
    ]
    assert names(WITH_TRANSFER)[-1] == "transfer_to_human"
    assert "transfer_to_human" not in [
        tool["function"]["name"] for tool in tool_schemas(WITH_TRANSFER, open_now=False)
    ]
    book = tool_schemas(CONFIG)[1]["function"]["parameters"]
    assert book["properties"]["service"]["enum"] == ["check-up", "consultation", "vaccination"]
    assert book["required"] == ["service", "date", "time", "name", "reason"]
    json.dumps(tool_schemas(WITH_TRANSFER))  # what is sent must be JSON


APPOINTMENT = Appointment(
    9,
    at(TUESDAY, "10:30"),
    at(TUESDAY, "10:50"),
    "consultation",
    "Ada Lovelace",
    PHONE,
    "a sore throat",
)
BOOKED = {
    "appointment_id": 9,
    "service": "consultation",
    "date": "2026-12-01",
    "weekday": "Tuesday",
    "time": "10:30",
    "name": "Ada Lovelace",
}


def test_scheduler_replies_become_compact_results() -> None:
    free = FreeSlots(1, TUESDAY, (at(TUESDAY, "09:00"), at(TUESDAY, "09:30")), True)
    assert results.dumps(results.reply_result(free)) == (
        '{"date":"2026-12-01","weekday":"Tuesday","open":true,"free_times":["09:00","09:30"]}'
    )
    assert results.reply_result(BookingConfirmed(2, APPOINTMENT)) == {"booked": BOOKED}
    assert results.reply_result(BookingsFound(3, (APPOINTMENT,))) == {"appointments": [BOOKED]}
    assert results.reply_result(BookingRejected(4, RejectReason.SLOT_TAKEN)) == {
        "error": "slot_taken",
        "detail": "that time was just taken: check availability again",
    }


def test_nothing_at_the_time_named_shows_what_there_is() -> None:
    found = BookingsFound(3, (APPOINTMENT,))
    assert results.not_found_among(found, at(TUESDAY, "09:00")) == {
        "error": "not_found",
        "detail": "no appointment at 2026-12-01 09:00 under the caller's number",
        "appointments": [BOOKED],
    }


def test_system_prompt_from_config() -> None:
    prompt = system_prompt(
        replace(CONFIG, clinic=replace(CONFIG.clinic, name="Riverside")), NOW, caller_known=True
    )
    for expected in (
        "receptionist of Riverside",
        "Today is Tuesday 2026-12-01, and it is 08:00 at the clinic (America/New_York).",
        "- Friday: 09:00 to 12:00",
        "- Saturday: closed",
        "- check-up: 30 minutes",
        "- vaccination: 15 minutes",
        "short, plain sentences",
        "get a clear yes",
        "Use the tools",
        "The caller's phone number is known.",
        "Nobody can take a transferred call",
    ):
        assert expected in prompt
