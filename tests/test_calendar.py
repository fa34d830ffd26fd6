"""Bookings in the clinic's calendar, against a real CalDAV server (Radicale on 127.0.0.1).

These run on the real clock: Radicale is another process, and a mock clock would jump past
its answers into the client's timeouts. Backoffs and polls are set to tens of milliseconds.
Until the appointments store has its outbox, bookings reach the pusher through the test
outbox (tests/calendar_outbox.py), written as the store will write them; the cases marked
``needs_store_outbox`` run the real store and start running once it has one.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import icalendar
import pytest
import trio
from structlog.testing import capture_logs

from receptionist.calendar.auth import build_auth
from receptionist.calendar.busy import BusyTimes, blocked_for
from receptionist.calendar.caldav import CalDavClient
from receptionist.calendar.check import check_calendar
from receptionist.calendar.config import CalendarConfig
from receptionist.calendar.events import event_uid
from receptionist.calendar.pusher import CalendarOutbox, serve_calendar_sync
from receptionist.messages import Appointment, BookSlot, FindFreeSlots
from receptionist.scheduling.slots import bookable_starts, free_starts

from .calendar_outbox import TestOutbox
from .clinic import PHONE, TUESDAY, TZ, Clock, at, clinic_config
from .radicale_server import PASSWORD, USER, RadicaleServer

ENV = {"CALENDAR_SECRET": PASSWORD}
WAIT_S = 15.0
POLL_S = 0.02
PREFIX = "receptionist-appointment"
CLOCK = Clock(at(TUESDAY, "08:00"))


@pytest.fixture(scope="session")
def radicale(tmp_path_factory: pytest.TempPathFactory) -> Any:
    server = RadicaleServer(tmp_path_factory.mktemp("radicale"))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def settings(radicale: RadicaleServer) -> CalendarConfig:
    return CalendarConfig(
        kind="caldav",
        url=radicale.new_calendar(),
        user=USER,
        retry_initial_s=0.05,
        retry_max_s=0.2,
        push_poll_s=POLL_S,
        connect_timeout_s=2.0,
        request_timeout_s=5.0,
        push_lease_s=30.0,
    )


@pytest.fixture
def outbox(tmp_path: Path) -> TestOutbox:
    return TestOutbox(tmp_path / "outbox.sqlite3")


@asynccontextmanager
async def caldav(
    settings: CalendarConfig, environ: dict[str, str] = ENV, puts: list[str] | None = None
) -> AsyncIterator[CalDavClient]:
    """A client for ``settings``; every PUT's URL goes into ``puts`` when given."""

    async def count(request: httpx.Request) -> None:
        if puts is not None and request.method == "PUT":
            puts.append(str(request.url))

    async with httpx.AsyncClient(
        auth=build_auth(settings, environ), timeout=settings.request_timeout_s,
        event_hooks={"request": [count]},
    ) as http:  # fmt: skip
        yield CalDavClient(http, settings.collection_url)


@asynccontextmanager
async def pushing(
    outbox: CalendarOutbox, settings: CalendarConfig, **client_options: Any
) -> AsyncIterator[None]:
    async with caldav(settings, **client_options) as client, trio.open_nursery() as nursery:
        sync = serve_calendar_sync
        await nursery.start(lambda task_status: sync(outbox, client, settings, TZ, now=CLOCK, task_status=task_status))  # fmt: skip  # noqa: E501
        yield
        nursery.cancel_scope.cancel()


async def wait_until(condition: Callable[[], Awaitable[bool]]) -> None:
    with trio.fail_after(WAIT_S):
        while not await condition():
            await trio.sleep(POLL_S)


async def drained(outbox: TestOutbox) -> None:
    async def empty() -> bool:
        return not await trio.to_thread.run_sync(outbox.unfinished)

    await wait_until(empty)


async def events(settings: CalendarConfig) -> dict[str, icalendar.Event]:
    """Every event in the calendar by UID, read straight from the server."""
    async with caldav(settings) as client:
        found = await client.events_between(at(TUESDAY, "00:00"), at(TUESDAY, "23:59"))
    parsed = [icalendar.Calendar.from_ical(text) for text in found]
    return {str(e["uid"]): e for cal in parsed for e in cal.walk("VEVENT")}


async def put_staff_event(settings: CalendarConfig, uid: str, lines: str) -> None:
    body = (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//staff//EN\r\nBEGIN:VEVENT\r\n"
        f"UID:{uid}\r\nDTSTAMP:20261101T000000Z\r\n{lines.strip()}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )
    async with caldav(settings) as client:
        await client.put_event(uid, body.encode())


def appointment(booking_id: int, hhmm: str = "10:00", minutes: int = 30) -> Appointment:
    start = at(TUESDAY, hhmm)
    end = start + timedelta(minutes=minutes)
    return Appointment(booking_id, start, end, "check-up", "John Smith", PHONE, "annual")


def busy_times(client: CalDavClient, settings: CalendarConfig) -> BusyTimes:
    return BusyTimes(client, settings, TZ, days_ahead=7, now=CLOCK)


# --- both ways -----------------------------------------------------------------------------


async def test_a_booking_becomes_an_event_at_the_right_time_and_zone(
    settings: CalendarConfig, outbox: TestOutbox
) -> None:
    outbox.add("upsert", appointment(41))
    async with pushing(outbox, settings):
        await drained(outbox)
    event = (await events(settings))[event_uid(PREFIX, 41)]
    assert event.decoded("dtstart") == at(TUESDAY, "10:00")
    assert event["dtstart"].params["TZID"] == "America/New_York"
    assert event.decoded("dtend") == at(TUESDAY, "10:30")
    assert event["summary"] == "check-up: John Smith"
    assert PHONE in event["description"]


async def test_a_move_updates_the_event_and_a_cancellation_deletes_it(
    settings: CalendarConfig, outbox: TestOutbox
) -> None:
    uid = event_uid(PREFIX, 42)
    async with pushing(outbox, settings):
        outbox.add("upsert", appointment(42))
        await drained(outbox)
        outbox.add("upsert", replace(appointment(42, "14:15")))
        await drained(outbox)
        moved = await events(settings)
        outbox.add("delete", appointment(42, "14:15"))
        await drained(outbox)
    assert list(moved) == [uid]
    assert moved[uid].decoded("dtstart") == at(TUESDAY, "14:15")
    assert await events(settings) == {}


async def test_a_cancellation_of_an_event_already_gone_is_done(
    settings: CalendarConfig, outbox: TestOutbox
) -> None:
    outbox.add("delete", appointment(43))
    with capture_logs() as logs:
        async with pushing(outbox, settings):
            await drained(outbox)
    (written,) = [line for line in logs if line["event"] == "calendar.written"]
    assert written["booking_id"] == 43 and written["note"] == "already gone"


async def test_a_staff_event_blocks_a_slot_that_would_be_offered(
    settings: CalendarConfig,
) -> None:
    config = clinic_config(Path("unused.sqlite3"))
    starts = bookable_starts(TUESDAY, 30, CLOCK(), config.clinic, config.scheduler)
    assert at(TUESDAY, "10:00") in free_starts(starts, 30, ())
    await put_staff_event(settings, "staff-meeting", "DTSTART:20261201T150000Z\nDURATION:PT1H")
    async with caldav(settings) as client:
        busy = busy_times(client, settings)
        await busy.refresh()
        request = FindFreeSlots(1, "check-up", TUESDAY)
        blocked = await blocked_for(busy, request, TZ)
    assert blocked == ((at(TUESDAY, "10:00"), at(TUESDAY, "11:00")),)
    free = free_starts(starts, 30, blocked)
    assert at(TUESDAY, "09:30") in free and at(TUESDAY, "11:00") in free
    assert not {at(TUESDAY, hhmm) for hhmm in ("09:45", "10:00", "10:30")} & set(free)


async def test_the_receptionists_own_events_never_block(
    settings: CalendarConfig, outbox: TestOutbox
) -> None:
    outbox.add("upsert", appointment(44))
    async with pushing(outbox, settings):
        await drained(outbox)
    async with caldav(settings) as client:
        busy = busy_times(client, settings)
        await busy.refresh()
    assert busy.cached(TUESDAY) == ()


async def test_busy_times_from_the_server_honour_free_cancelled_all_day_and_recurring(
    settings: CalendarConfig,
) -> None:
    await put_staff_event(settings, "free", "DTSTART:20261201T140000Z\nDURATION:PT1H\nTRANSP:TRANSPARENT")  # fmt: skip  # noqa: E501
    await put_staff_event(settings, "off", "DTSTART:20261201T140000Z\nDURATION:PT1H\nSTATUS:CANCELLED")  # fmt: skip  # noqa: E501
    await put_staff_event(settings, "holiday", "DTSTART;VALUE=DATE:20261203")
    await put_staff_event(settings, "daily", "DTSTART:20261125T170000Z\nDURATION:PT30M\nRRULE:FREQ=DAILY")  # fmt: skip  # noqa: E501
    async with caldav(settings) as client:
        busy = busy_times(client, settings)
        await busy.refresh()
    days = [TUESDAY + timedelta(days=n) for n in range(3)]
    described = [[f"{s:%d %H:%M}-{e:%d %H:%M}" for s, e in busy.cached(day)] for day in days]
    assert described == [
        ["01 12:00-01 12:30"],
        ["02 12:00-02 12:30"],
        ["03 00:00-04 00:00", "03 12:00-03 12:30"],
    ]


async def test_a_booking_rechecks_and_sees_a_staff_event_added_since_the_offer(
    settings: CalendarConfig,
) -> None:
    async with caldav(settings) as client:
        busy = busy_times(client, settings)
        await busy.refresh()
        assert busy.cached(TUESDAY) == ()
        await put_staff_event(settings, "walk-in", "DTSTART:20261201T150000Z\nDURATION:PT30M")
        assert busy.cached(TUESDAY) == ()  # offering still uses the last read ...
        book = BookSlot(2, "check-up", at(TUESDAY, "10:00"), "John Smith", PHONE, "")
        blocked = await blocked_for(busy, book, TZ)  # ... booking reads afresh
    assert blocked == ((at(TUESDAY, "10:00"), at(TUESDAY, "10:30")),)
    assert busy.cached(TUESDAY) == blocked  # and the next offer knows it too
