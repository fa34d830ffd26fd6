"""Whole offline calls through the real server, with ``[calendar]`` pointed at Radicale.

``open_services`` runs the calendar as ``receptionist serve`` does: busy times read at
start-up and the outbox pushed to the calendar. Real clock, as in test_end_to_end.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from pathlib import Path

import pytest
import trio

from receptionist.calendar.events import event_uid
from receptionist.config import Config
from receptionist.config.calendar import CalendarConfig
from receptionist.devtools.replay import replay_config
from receptionist.runtime import open_services
from receptionist.scheduling.messages import Appointment
from receptionist.scheduling.store import AppointmentStore
from receptionist.server import serve_app
from tests.helpers.calendar_helpers import ENV, PREFIX, events, put_staff_event, wait_until
from tests.helpers.calls import NOW, call, capture_logs

TEST_LIMIT_S = 120
TUESDAY_10AM = datetime.fromisoformat("2026-12-01T10:00:00-05:00")
"""What booking_call.wav asks for: a check-up next Tuesday at ten."""


@pytest.fixture
def calendar_config(project_config: Config, settings: CalendarConfig, tmp_path: Path) -> Config:
    """The project's config.toml, replay settings, and a fresh Radicale calendar."""
    config = replay_config(project_config, tmp_path, fast=True)
    return replace(config, calendar=settings, secrets=replace(config.secrets, calendar=ENV))


async def booking_call(config: Config) -> list:  # type: ignore[type-arg]
    """Serve ``config`` and place the booking call; once it ends, wait for the outbox to
    reach the calendar (the calendar's writes go on after the caller hangs up)."""
    with capture_logs() as logs, trio.fail_after(TEST_LIMIT_S):
        async with open_services(config, now=NOW) as services, trio.open_nursery() as nursery:
            server = (await nursery.start(serve_app, services, "127.0.0.1", 0))[0]
            await call(server, "booking_call.wav")
            if AppointmentStore(config).appointments(include_past=True):

                async def written() -> bool:
                    return any(line["event"] == "calendar.written" for line in logs)

                await wait_until(written)
            nursery.cancel_scope.cancel()
    return logs


def bookings(config: Config) -> tuple[Appointment, ...]:
    return AppointmentStore(config).appointments(include_past=True)


async def test_a_booking_call_puts_the_appointment_in_the_calendar(
    calendar_config: Config, settings: CalendarConfig
) -> None:
    logs = await booking_call(calendar_config)

    (booking,) = bookings(calendar_config)
    assert booking.start == TUESDAY_10AM
    uid = event_uid(PREFIX, booking.id)
    (event,) = (await events(settings)).values()
    assert str(event["uid"]) == uid
    start, end = event.decoded("dtstart"), event.decoded("dtend")
    assert start == TUESDAY_10AM
    assert end - start == booking.end - booking.start
    assert event["dtstart"].params["TZID"] == "America/New_York"
    assert str(event["summary"]) == f"check-up: {booking.name}"
    assert "Phone: +15551234567" in str(event["description"])
    written = [line for line in logs if line["event"] == "calendar.written"]
    assert [(w["booking_id"], w["action"], w["uid"]) for w in written] == [
        (booking.id, "upsert", uid)
    ]
    assert not any(line["event"] == "calendar.task_failed" for line in logs)


async def test_a_staff_event_in_the_calendar_keeps_its_time_from_being_offered(
    calendar_config: Config, settings: CalendarConfig
) -> None:
    await put_staff_event(
        settings, "dentist-away", "SUMMARY:Dentist away\nDTSTART:20261201T150000Z\nDURATION:PT1H"
    )
    logs = await booking_call(calendar_config)

    said = [line["text"] for line in logs if line["event"] == "dialogue.said"]
    offers = [text for text in said if "I have" in text]
    assert offers, said
    assert not any("10 AM," in text or "10 AM." in text for text in offers), offers
    assert any("Sorry, 10 AM isn't free." in text for text in said), said
    assert all(booking.start != TUESDAY_10AM for booking in bookings(calendar_config))
    booked = {event_uid(PREFIX, booking.id) for booking in bookings(calendar_config)}
    assert set(await events(settings)) == {"dentist-away", *booked}
