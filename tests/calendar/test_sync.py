"""Bookings in the clinic's calendar, against a real CalDAV server (Radicale on 127.0.0.1).

These run on the real clock: Radicale is another process, and a mock clock would jump past
its answers into the client's timeouts. Backoffs and polls are set to tens of milliseconds.
Changes reach the pusher through the real store's outbox (tests/helpers/calendar_outbox.py
writes its rows as a booking's transaction does); test_store.py books through the store.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from pathlib import Path

from structlog.testing import capture_logs

from receptionist.calendar.busy import blocked_for
from receptionist.calendar.events import event_uid
from receptionist.calendar.service import open_calendar
from receptionist.config.calendar import CalendarConfig
from receptionist.scheduling.messages import BookSlot, FindBookings, FindFreeSlots, MoveBooking
from receptionist.scheduling.slots import bookable_starts, free_starts
from tests.helpers.calendar_helpers import (
    CLOCK,
    PREFIX,
    appointment,
    busy_times,
    caldav,
    drained,
    events,
    pushing,
    put_staff_event,
)
from tests.helpers.calendar_outbox import StoreOutbox
from tests.helpers.clinic import PHONE, TUESDAY, TZ, at, clinic_config

# --- both ways -----------------------------------------------------------------------------


async def test_a_booking_becomes_an_event_at_the_right_time_and_zone(
    settings: CalendarConfig, outbox: StoreOutbox
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
    settings: CalendarConfig, outbox: StoreOutbox
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
    settings: CalendarConfig, outbox: StoreOutbox
) -> None:
    outbox.add("delete", appointment(43))
    with capture_logs() as logs:
        async with pushing(outbox, settings):
            await drained(outbox)
    (written,) = [line for line in logs if line["event"] == "calendar.written"]
    assert written["booking_id"] == 43
    assert written["note"] == "already gone"


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
    assert at(TUESDAY, "09:30") in free
    assert at(TUESDAY, "11:00") in free
    assert not {at(TUESDAY, hhmm) for hhmm in ("09:45", "10:00", "10:30")} & set(free)


async def test_the_receptionists_own_events_never_block(
    settings: CalendarConfig, outbox: StoreOutbox
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


async def test_without_a_calendar_nothing_runs_and_nothing_is_blocked(outbox: StoreOutbox) -> None:
    none = CalendarConfig()
    async with open_calendar(none, outbox, TZ, days_ahead=7, now=CLOCK, secrets={}) as busy:
        assert busy is None
        book = BookSlot(1, "check-up", at(TUESDAY, "10:00"), "Ann Lee", PHONE, "")
        assert await blocked_for(busy, book, TZ) == ()


async def test_a_move_rechecks_its_new_day_and_a_lookup_needs_no_busy_times(
    settings: CalendarConfig,
) -> None:
    await put_staff_event(settings, "walk-in", "DTSTART:20261201T150000Z\nDURATION:PT30M")
    async with caldav(settings) as client:
        busy = busy_times(client, settings)
        await busy.refresh()
        move = MoveBooking(3, 41, PHONE, at(TUESDAY, "10:00"))
        assert await blocked_for(busy, move, TZ) == ((at(TUESDAY, "10:00"), at(TUESDAY, "10:30")),)
        assert await blocked_for(busy, FindBookings(4, PHONE), TZ) == ()
