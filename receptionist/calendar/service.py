"""What one server process runs for the calendar: the busy-times refresher and the pusher,
each restarted should anything unexpected end it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from datetime import datetime
from functools import partial
from zoneinfo import ZoneInfo

import structlog
import trio

from receptionist.calendar.busy import BusyTimes
from receptionist.calendar.caldav import open_caldav
from receptionist.calendar.pusher import CalendarOutbox, retry_delay, serve_calendar_sync
from receptionist.config.calendar import CalendarConfig

log = structlog.get_logger(__name__)


@asynccontextmanager
async def open_calendar(
    settings: CalendarConfig,
    outbox: CalendarOutbox,
    tz: ZoneInfo,
    *,
    days_ahead: int,
    now: Callable[[], datetime],
    secrets: Mapping[str, str],
) -> AsyncIterator[BusyTimes | None]:
    """Run the calendar's background tasks for as long as the block; None without a calendar.

    Start-up waits for the first read of busy times, at most ``request_timeout_s``; a
    calendar that is down or refuses the credentials is logged, and bookings go on locally.

    Raises:
        ConfigError: a secret is missing (``Config.secrets.calendar``).
    """
    if settings.kind == "none":
        yield None
        return
    async with open_caldav(settings, secrets) as client, trio.open_nursery() as nursery:
        busy = BusyTimes(client, settings, tz, days_ahead=days_ahead, now=now)
        pusher = partial(serve_calendar_sync, outbox, client, settings, tz, now=now)
        await nursery.start(keep_running, "busy_times", busy.run, settings)
        await nursery.start(keep_running, "pusher", pusher, settings)
        log.info("calendar.started", url=client.url, reachable=busy.reachable)
        try:
            yield busy
        finally:
            nursery.cancel_scope.cancel()


async def keep_running(
    name: str,
    run: Callable[..., Awaitable[None]],
    settings: CalendarConfig,
    *,
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Run the background task ``run`` (started with ``nursery.start``) until cancelled,
    starting it again after whatever escapes it, with the pusher's backoff.

    The calendar's tasks handle the failures they expect (the calendar down, the store
    down); this is for the rest, a bug or odd data: it must not end the server and its
    calls, which go on booking in the store. Each restart is logged at error level.
    Started once ``run`` first is, or has failed: start-up never waits on a broken task.
    ``Cancelled`` is never caught.
    """
    started, failures = False, 0
    while True:
        began = trio.current_time()
        try:
            async with trio.open_nursery() as nursery:
                await nursery.start(run)
                if not started:
                    started = True
                    task_status.started()
            error: BaseException = RuntimeError(f"calendar task {name} returned")
        except Exception as exc:
            error = exc
        if not started:
            started = True
            task_status.started()
        if trio.current_time() - began > settings.retry_max_s:
            failures = 0  # it ran well for a while: this is a new fault, not the same one
        delay = retry_delay(settings, failures)
        failures += 1
        log.error("calendar.task_failed", task=name, restart_in_s=delay, exc_info=error)
        await trio.sleep(delay)
