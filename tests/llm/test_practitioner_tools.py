"""The LLM's optional ``practitioner`` argument (where [[practitioners]] are configured)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from receptionist.llm import results
from receptionist.llm.prompt import system_prompt
from receptionist.llm.stream import ToolCall
from receptionist.llm.tools import (
    Book,
    CheckAvailability,
    Invalid,
    ToolContext,
    to_request,
    tool_schemas,
    validate,
)
from receptionist.scheduling.messages import Appointment, BookingConfirmed, BookSlot
from tests.helpers.clinic import PHONE, PRACTITIONERS, TUESDAY, at, clinic_config

STAFFED = clinic_config(Path("unused.sqlite3"), practitioners=PRACTITIONERS)
CONTEXT = ToolContext(STAFFED, at(TUESDAY, "08:00"), caller=PHONE)


def parameters(config: Any, tool: str) -> dict[str, Any]:
    (schema,) = [t for t in tool_schemas(config) if t["function"]["name"] == tool]
    return schema["function"]["parameters"]


def check(name: str, arguments: dict[str, Any]) -> Any:
    return validate(ToolCall("call_1", name, json.dumps(arguments)), CONTEXT)


def test_the_argument_is_offered_only_where_practitioners_are_configured() -> None:
    for tool in ("check_availability", "book_appointment"):
        who = parameters(STAFFED, tool)["properties"]["practitioner"]
        assert who["enum"] == ["Dr. Patel", "Dr. Chen"]
        assert "practitioner" not in parameters(STAFFED, tool)["required"]
        plain = clinic_config(Path("unused.sqlite3"))
        assert "practitioner" not in parameters(plain, tool)["properties"]


def test_a_named_practitioner_reaches_the_scheduler() -> None:
    asked = check("check_availability", {"service": "check-up", "date": "2026-12-01",
                                         "practitioner": "dr. chen"})  # fmt: skip
    assert isinstance(asked, CheckAvailability)
    assert to_request(asked, 1).practitioner == "Dr. Chen"  # type: ignore[union-attr]
    booking = check("book_appointment", {"service": "check-up", "date": "2026-12-01",
                                         "time": "14:00", "name": "Ann Lee", "reason": "annual",
                                         "practitioner": "Dr. Chen"})  # fmt: skip
    assert isinstance(booking, Book)
    request = to_request(booking, 2)
    assert isinstance(request, BookSlot)
    assert request.practitioner == "Dr. Chen"
    plain = {"service": "check-up", "date": "2026-12-01", "time": "14:00", "name": "Ann Lee"}
    anyone = check("book_appointment", {**plain, "reason": ""})
    assert isinstance(anyone, Book)
    assert anyone.practitioner == ""


def test_an_unknown_practitioner_is_refused_with_the_clinics_names() -> None:
    refused = check("check_availability", {"service": "check-up", "date": "2026-12-01",
                                           "practitioner": "Dr. Who"})  # fmt: skip
    assert isinstance(refused, Invalid)
    assert "Dr. Patel, Dr. Chen" in refused.detail


def test_the_result_says_who_the_appointment_is_with() -> None:
    start = at(TUESDAY, "14:00")
    booked = Appointment(3, start, at(TUESDAY, "14:30"), "check-up", "Ann Lee", PHONE, "",
                         practitioner="Dr. Chen")  # fmt: skip
    assert results.reply_result(BookingConfirmed(1, booked))["booked"]["practitioner"] == "Dr. Chen"


def test_the_prompt_names_who_does_what_and_when_only_where_configured() -> None:
    staffed = system_prompt(STAFFED, at(TUESDAY, "08:00"), caller_known=True)
    assert "- Dr. Patel: check-up, consultation\n" in staffed
    assert (
        "- Dr. Chen: check-up, vaccination; works Tuesday 13:00 to 17:00, "
        "Wednesday 09:00 to 17:00" in staffed
    )
    plain = clinic_config(Path("unused.sqlite3"))
    assert "Practitioners" not in system_prompt(plain, at(TUESDAY, "08:00"), caller_known=True)
