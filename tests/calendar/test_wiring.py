"""The calendar wired into the server: the Scheduler actor avoids its busy times, and its
background tasks are started again whatever ends them.

The Scheduler runs on the real clock (its store works in threads), against Radicale; the
supervisor's backoff on trio's autojump clock.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from functools import partial
from itertools import pairwise
from pathlib import Path

import trio
from structlog.testing import capture_logs

from receptionist.calendar.service import keep_running
from receptionist.config.calendar import CalendarConfig
from receptionist.scheduling.messages import (
    Appointment,
    BookingConfirmed,
    BookingRejected,
    BookSlot,
    FindFreeSlots,
    FreeSlots,
    MoveBooking,
    RejectReason,
    SchedulerReply,
    SchedulerRequest,
)
from receptionist.scheduling.store import AppointmentStore
from stages.scheduler import run_scheduler
from tests.helpers.calendar_helpers import CLOCK, busy_times, caldav, put_staff_event
from tests.helpers.clinic import PHONE, TUESDAY, at, clinic_config

DEADLINE_S = 20
BUFFER = 4


Ask = Callable[[SchedulerRequest], Awaitable[SchedulerReply]]


@asynccontextmanager
async def scheduler_with_calendar(
    store: AppointmentStore, settings: CalendarConfig
) -> AsyncIterator[Ask]:
    """The Scheduler actor with the calendar's busy times, read once first; its ``ask``."""
    send_requests, requests = trio.open_memory_channel[SchedulerRequest](BUFFER)
    replies, receive_replies = trio.open_memory_channel[SchedulerReply](BUFFER)

    async def ask(request: SchedulerRequest) -> SchedulerReply:
        await send_requests.send(request)
        return await receive_replies.receive()

    async with caldav(settings) as client, trio.open_nursery() as nursery:
        busy = busy_times(client, settings)
        await busy.refresh()
        scheduler = partial(run_scheduler, requests, replies, store=store, busy=busy)
        await nursery.start(scheduler)
        with send_requests, receive_replies:
            yield ask


def free_from(request_id: int, hhmm: str) -> FindFreeSlots:
    return FindFreeSlots(request_id, "check-up", TUESDAY, at(TUESDAY, hhmm).time())


def book_at(request_id: int, hhmm: str) -> BookSlot:
    return BookSlot(request_id, "check-up", at(TUESDAY, hhmm), "Jo", PHONE, "")


async def test_the_scheduler_neither_offers_nor_books_the_calendars_busy_times(
    settings: CalendarConfig, tmp_path: Path
) -> None:
    store = AppointmentStore(clinic_config(tmp_path / "appointments.sqlite3"), now=CLOCK)
    booked = store.book("check-up", at(TUESDAY, "14:00"), "Ann Lee", PHONE)
    assert isinstance(booked, Appointment)
    await put_staff_event(settings, "dentist-away", "DTSTART:20261201T150000Z\nDURATION:PT1H")
    with trio.fail_after(DEADLINE_S):
        async with scheduler_with_calendar(store, settings) as ask:
            offered = await ask(free_from(1, "09:30"))
            assert isinstance(offered, FreeSlots)
            # Spread over the day; nothing in the staff event (10:00-11:00) or the booking.
            assert offered.slots == tuple(at(TUESDAY, t) for t in ("09:30", "12:00", "14:30"))
            # The staff book a walk-in at 11:00 after it was offered: refused at booking.
            walk_in = "DTSTART:20261201T160000Z\nDURATION:PT30M"
            await put_staff_event(settings, "walk-in", walk_in)
            refused = await ask(book_at(2, "11:00"))
            assert refused == BookingRejected(2, RejectReason.SLOT_TAKEN, "11:00 is taken")
            nearest = await ask(free_from(3, "10:30"))
            assert isinstance(nearest, FreeSlots)
            assert nearest.slots[0] == at(TUESDAY, "11:30")
            moved = await ask(MoveBooking(4, booked.id, PHONE, at(TUESDAY, "10:15")))
            assert moved == BookingRejected(4, RejectReason.SLOT_TAKEN, "10:15 is taken")
            assert isinstance(await ask(book_at(5, "11:30")), BookingConfirmed)
    assert [a.start for a in store.appointments()] == [at(TUESDAY, "11:30"), at(TUESDAY, "14:00")]


SUPERVISED = CalendarConfig(retry_initial_s=2.0, retry_max_s=8.0)


async def test_a_calendar_task_that_fails_is_logged_and_started_again_with_backoff(
    autojump_clock: trio.testing.MockClock,
) -> None:
    runs: list[float] = []

    async def flaky(*, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        runs.append(trio.current_time())
        if len(runs) == 1:
            raise KeyError("before it started")
        task_status.started()
        if len(runs) < 5:
            raise ValueError(f"a bug, run {len(runs)}")
        await trio.sleep_forever()

    with capture_logs() as logs:
        async with trio.open_nursery() as nursery:
            await nursery.start(keep_running, "flaky", flaky, SUPERVISED)
            assert len(runs) == 1, "start-up does not wait on a task that failed"
            await trio.sleep(60)
            nursery.cancel_scope.cancel()
    assert len(runs) == 5
    assert [round(b - a) for a, b in pairwise(runs)] == [2, 4, 8, 8]
    failures = [line for line in logs if line["event"] == "calendar.task_failed"]
    assert [line["restart_in_s"] for line in failures] == [2.0, 4.0, 8.0, 8.0]
    assert all(line["log_level"] == "error" and line["task"] == "flaky" for line in failures)


async def test_a_task_that_ran_long_before_failing_restarts_after_the_first_delay(
    autojump_clock: trio.testing.MockClock,
) -> None:
    runs: list[float] = []

    async def fails_after_a_while(
        *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
    ) -> None:
        runs.append(trio.current_time())
        task_status.started()
        await trio.sleep(3 if len(runs) < 3 else 600)
        raise RuntimeError("odd data")

    async with trio.open_nursery() as nursery:
        await nursery.start(keep_running, "refresher", fails_after_a_while, SUPERVISED)
        await trio.sleep(700)
        nursery.cancel_scope.cancel()
    # 3 s runs back off (2, then 4); after a 600 s run the backoff starts over (2).
    assert [round(b - a) for a, b in pairwise(runs)] == [5, 7, 602]


async def test_cancelling_the_calendar_is_never_taken_for_a_failure(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async def works(*, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        task_status.started()
        await trio.sleep_forever()

    with capture_logs() as logs:
        async with trio.open_nursery() as nursery:
            await nursery.start(keep_running, "pusher", works, SUPERVISED)
            await trio.sleep(1)
            nursery.cancel_scope.cancel()
    assert logs == []
