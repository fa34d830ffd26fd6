"""Helpers for the calendar tests: clients, a running pusher, waiting, reading the server."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import timedelta
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier
from pathlib import Path
from typing import Any

import httpx
import icalendar
import trio

from receptionist.calendar.auth import build_auth
from receptionist.calendar.busy import BusyTimes
from receptionist.calendar.caldav import CalDavClient
from receptionist.calendar.pusher import CalendarOutbox, serve_calendar_sync
from receptionist.config.calendar import CalendarConfig
from receptionist.scheduling.messages import Appointment
from tests.helpers.calendar_outbox import StoreOutbox
from tests.helpers.clinic import PHONE, TUESDAY, TZ, Clock, at
from tests.helpers.radicale_server import PASSWORD, USER

ENV = {"CALENDAR_SECRET": PASSWORD}
WAIT_S = 15.0
POLL_S = 0.02
PREFIX = "receptionist-appointment"
CLOCK = Clock(at(TUESDAY, "08:00"))


def calendar_settings(url: str) -> CalendarConfig:
    """A Radicale calendar with retries and polls in tens of milliseconds."""
    return CalendarConfig(
        kind="caldav",
        url=url,
        user=USER,
        retry_initial_s=0.05,
        retry_max_s=0.2,
        push_poll_s=POLL_S,
        connect_timeout_s=2.0,
        request_timeout_s=5.0,
        push_lease_s=30.0,
    )


@asynccontextmanager
async def caldav(
    settings: CalendarConfig, secrets: dict[str, str] = ENV, puts: list[str] | None = None
) -> AsyncIterator[CalDavClient]:
    """A client for ``settings``; every PUT's URL goes into ``puts`` when given."""

    async def count(request: httpx.Request) -> None:
        if puts is not None and request.method == "PUT":
            puts.append(str(request.url))

    async with httpx.AsyncClient(
        auth=build_auth(settings, secrets), timeout=settings.request_timeout_s,
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
        # Another process's state (the server's, the outbox's): nothing to wait on but time.
        while not await condition():  # noqa: ASYNC110
            await trio.sleep(POLL_S)


async def drained(outbox: StoreOutbox) -> None:
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


def push_in_child(url: str, database: str, barrier: Barrier, results: Queue[list[str]]) -> None:
    """In a child process: a pusher on the store at ``database`` until its outbox is drained
    (every booking written, by this process or the other); the URLs it PUT go to ``results``."""
    from receptionist.scheduling.store import AppointmentStore  # imported where it runs

    from .clinic import clinic_config

    settings = calendar_settings(url).model_copy(update={"push_batch": 2})
    store = AppointmentStore(
        clinic_config(Path(database)),
        now=CLOCK,
        outbox_topics=("calendar",),
    )
    puts: list[str] = []

    async def push() -> None:
        async def all_written() -> bool:
            # The store, not the calendar: two processes reading it every poll slow it down.
            return await trio.to_thread.run_sync(store.outbox_waiting, "calendar") == 0

        async with pushing(store, settings, puts=puts):
            await wait_until(all_written)

    barrier.wait()
    trio.run(push)
    results.put(puts)
