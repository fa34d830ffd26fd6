"""The calendar with the real appointments store: its outbox and its blocked spans.

test_sync.py and test_failures.py hand the pusher changes written straight into the store's
outbox; these book, move and cancel through the store itself and use its blocked spans.
"""

from __future__ import annotations

import multiprocessing
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import trio
from structlog.testing import capture_logs

from receptionist.calendar.busy import blocked_for
from receptionist.calendar.events import event_uid
from receptionist.config.calendar import CalendarConfig
from receptionist.scheduling.messages import Appointment, BookSlot, FindFreeSlots, RejectReason
from receptionist.scheduling.store import AppointmentStore, Rejection
from tests.helpers.calendar_helpers import (
    CLOCK,
    PREFIX,
    busy_times,
    caldav,
    calendar_settings,
    events,
    push_in_child,
    pushing,
    put_staff_event,
    wait_until,
)
from tests.helpers.clinic import PHONE, TUESDAY, TZ, at, clinic_config
from tests.helpers.radicale_server import RadicaleServer


def calendar_store(database: Path) -> Any:
    return AppointmentStore(clinic_config(database), now=CLOCK, outbox_topics=("calendar",))


@pytest.fixture
def store(tmp_path: Path) -> Any:
    return calendar_store(tmp_path / "appointments.sqlite3")


def booked(outcome: object) -> Appointment:
    assert isinstance(outcome, Appointment), outcome
    return outcome


async def event_times(settings: CalendarConfig) -> dict[str, str]:
    return {uid: f"{e.decoded('dtstart'):%H:%M}" for uid, e in (await events(settings)).items()}


async def wait_for_events(settings: CalendarConfig, expected: dict[str, str]) -> None:
    async def arrived() -> bool:
        return await event_times(settings) == expected

    await wait_until(arrived)


async def test_booking_moving_and_cancelling_in_the_store_reach_the_calendar(
    settings: CalendarConfig, store: Any
) -> None:
    async with pushing(store, settings):
        appointment = booked(store.book("check-up", at(TUESDAY, "10:00"), "Ann Lee", PHONE))
        uid = event_uid(PREFIX, appointment.id)
        await wait_for_events(settings, {uid: "10:00"})
        booked(store.move(appointment.id, PHONE, at(TUESDAY, "11:30")))
        await wait_for_events(settings, {uid: "11:30"})
        booked(store.cancel(appointment.id, PHONE))
        await wait_for_events(settings, {})


async def test_a_booking_while_the_calendar_is_down_is_taken_and_appears_once_later(
    tmp_path: Path, store: Any
) -> None:
    (tmp_path / "own-radicale").mkdir()
    server = RadicaleServer(tmp_path / "own-radicale")
    server.start()
    try:
        settings = calendar_settings(server.new_calendar())
        with capture_logs() as logs:
            async with pushing(store, settings):
                await trio.to_thread.run_sync(server.stop)
                start = at(TUESDAY, "10:00")
                appointment = booked(store.book("check-up", start, "Ann Lee", PHONE))

                async def failed_twice() -> bool:
                    failed = [e for e in logs if e["event"] == "calendar.write_failed"]
                    return len(failed) >= 2

                await wait_until(failed_twice)
                await trio.to_thread.run_sync(server.start)
                await wait_for_events(settings, {event_uid(PREFIX, appointment.id): "10:00"})
    finally:
        server.stop()


async def test_staff_events_are_neither_offered_nor_booked(
    settings: CalendarConfig, store: Any
) -> None:
    await put_staff_event(settings, "meeting", "DTSTART:20261201T150000Z\nDURATION:PT1H")
    async with caldav(settings) as client:
        busy = busy_times(client, settings)
        await busy.refresh()
        offer = FindFreeSlots(1, "check-up", TUESDAY, limit=20)
        slots = store.free_slots("check-up", TUESDAY, limit=20, blocked=busy.cached(TUESDAY))
        assert at(TUESDAY, "09:30") in slots
        assert at(TUESDAY, "10:00") not in slots
        assert await blocked_for(busy, offer, TZ) == busy.cached(TUESDAY)
        # A walk-in the staff add after 11:00 was offered: refused at booking time.
        await put_staff_event(settings, "walk-in", "DTSTART:20261201T160000Z\nDURATION:PT30M")
        book = BookSlot(2, "check-up", at(TUESDAY, "11:00"), "Ann Lee", PHONE, "")
        blocked = await blocked_for(busy, book, TZ)
    outcome = store.book("check-up", at(TUESDAY, "11:00"), "Ann Lee", PHONE, blocked=blocked)
    assert isinstance(outcome, Rejection)
    assert outcome.reason is RejectReason.SLOT_TAKEN
    nearest = store.free_slots(
        "check-up", TUESDAY, earliest=at(TUESDAY, "11:00").time(), limit=1, blocked=blocked
    )
    assert nearest == (at(TUESDAY, "11:30"),)


def test_two_server_processes_sharing_one_store_push_each_booking_once(
    radicale: RadicaleServer, tmp_path: Path
) -> None:
    database = tmp_path / "appointments.sqlite3"
    store = calendar_store(database)
    starts = [at(TUESDAY, f"{9 + n // 2:02}:{n % 2 * 30:02}") for n in range(12)]
    ids = [booked(store.book("check-up", start, f"Caller {n}", PHONE)).id for n, start in enumerate(starts)]  # fmt: skip  # noqa: E501
    url = radicale.new_calendar()
    context = multiprocessing.get_context("spawn")
    barrier, results = context.Barrier(2), context.Queue()
    children = [
        context.Process(target=push_in_child, args=(url, str(database), barrier, results))
        for _ in range(2)
    ]
    for child in children:
        child.start()
    puts = [results.get(timeout=60) for _ in children]
    for child in children:
        child.join(timeout=10)
    written = Counter(put.rsplit("/", 1)[1] for put in puts[0] + puts[1])
    assert written == Counter(f"{event_uid(PREFIX, booking_id)}.ics" for booking_id in ids)
    in_calendar = trio.run(events, calendar_settings(url))
    assert set(in_calendar) == {event_uid(PREFIX, booking_id) for booking_id in ids}
