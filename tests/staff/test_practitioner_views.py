"""Who an appointment is with, where the clinic books by practitioner, in what staff see:
the calendar event, the transfer briefing, the post-call report, the outbox payload."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import icalendar

from receptionist.calendar.events import appointment_event
from receptionist.messages import CallStarted
from receptionist.scheduling.messages import Appointment, BookingConfirmed
from receptionist.scheduling.outbox import appointment_payload
from receptionist.staff.briefing import CallFacts
from receptionist.staff.report import compose_report
from tests.helpers.clinic import PHONE, TUESDAY, TZ, at

START = at(TUESDAY, "14:00")
WITH_CHEN = Appointment(7, START, START + timedelta(minutes=30), "check-up", "Maria Garcia",
                        PHONE, "annual", practitioner="Dr. Chen")  # fmt: skip


def test_the_calendar_event_names_the_practitioner() -> None:
    payload = appointment_payload("upsert", WITH_CHEN)["appointment"]
    assert payload["practitioner"] == "Dr. Chen"
    event = icalendar.Calendar.from_ical(appointment_event(payload, TZ, "uid-7", START))
    (vevent,) = event.walk("VEVENT")
    assert str(vevent["summary"]) == "check-up: Maria Garcia (Dr. Chen)"
    assert "With: Dr. Chen" in str(vevent["description"])
    plain = appointment_payload("upsert", replace(WITH_CHEN, practitioner=""))["appointment"]
    assert "practitioner" not in plain, "a clinic without practitioners: the payload as before"


def test_the_briefing_says_who_it_was_booked_with() -> None:
    facts = CallFacts()
    facts.observe(CallStarted("CA1", "MZ1", PHONE))
    facts.observe(BookingConfirmed(1, WITH_CHEN))
    assert facts.brief().done == (
        "a check-up booked for Tuesday 1 December at 14:00 with Dr. Chen",
    )


def test_the_report_says_who_it_was_booked_with() -> None:
    booking = {"change": "booked", "id": 7, "service": "check-up", "name": "Maria Garcia",
               "start": START.isoformat(), "end": WITH_CHEN.end.isoformat(), "reason": "",
               "practitioner": "Dr. Chen"}  # fmt: skip
    record = {"call_sid": "CA1", "caller": PHONE, "started_at": START.timestamp(),
              "ended_at": START.timestamp() + 60, "bookings": [booking], "lines": [],
              "outcome": "completed"}  # fmt: skip
    report = compose_report(record, TZ)
    assert report["bookings"][0]["practitioner"] == "Dr. Chen"
    assert report["summary"].startswith(
        "Maria Garcia booked a check-up for Tuesday 1 December at 14:00 with Dr. Chen."
    )
