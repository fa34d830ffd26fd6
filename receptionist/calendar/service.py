"""What one server process runs for the calendar: the busy-times refresher and the pusher."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from datetime import datetime
from functools import partial
from zoneinfo import ZoneInfo

import structlog
import trio

from receptionist.calendar.busy import BusyTimes
from receptionist.calendar.caldav import open_caldav
from receptionist.calendar.pusher import CalendarOutbox, serve_calendar_sync
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
        await nursery.start(busy.run)
        await nursery.start(partial(serve_calendar_sync, outbox, client, settings, tz, now=now))
        log.info("calendar.started", url=client.url, reachable=busy.reachable)
        try:
            yield busy
        finally:
            nursery.cancel_scope.cancel()
