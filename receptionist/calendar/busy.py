"""The staff's busy times, per process: read in the background, served at once.

Offering slots never waits on the calendar: it gets the last spans read (``cached``). A
background task re-reads the booking horizon every ``busy_max_age_s``, cheaply when the
calendar says nothing changed (its ctag or sync-token). Booking and moving re-read that one
day first (``fresh``), within ``booking_recheck_timeout_s``, so a staff event added since the
slot was offered is caught; when the calendar is slow or down they go on with the last spans
read: the local store still decides, and the calendar never holds up a caller.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import structlog
import trio

from receptionist.calendar.caldav import CalDavClient
from receptionist.calendar.events import Span, busy_spans
from receptionist.config.calendar import CalendarConfig
from receptionist.errors import CalendarAuthError, CalendarError
from receptionist.scheduling.messages import BookSlot, FindFreeSlots, MoveBooking, SchedulerRequest

log = structlog.get_logger(__name__)


class BusyTimes:
    """The calendar's busy spans by clinic day, for today and ``days_ahead`` days after.

    Args:
        now: the clinic's clock (aware).
    """

    def __init__(
        self,
        client: CalDavClient,
        settings: CalendarConfig,
        tz: ZoneInfo,
        *,
        days_ahead: int,
        now: Callable[[], datetime],
    ) -> None:
        self._client = client
        self._settings = settings
        self._tz = tz
        self._days_ahead = days_ahead
        self._now = now
        self._days: dict[date, tuple[float, tuple[Span, ...]]] = {}
        """day -> (when the read that found its spans began, trio time; the spans)."""
        self._tag: str | None = None
        self._tag_first_day: date | None = None
        self.reachable = False
        """Whether the last read worked; while not, bookings skip the re-check."""

    def cached(self, day: date) -> tuple[Span, ...]:
        """The last spans read for ``day``; () before the first read. Never waits."""
        return self._days.get(day, (0.0, ()))[1]

    async def fresh(self, day: date) -> tuple[Span, ...]:
        """``day``'s spans re-read now, within the re-check time box; else the last ones."""
        if not self.reachable:
            return self.cached(day)
        error = "timed out"
        with trio.move_on_after(self._settings.booking_recheck_timeout_s):
            try:
                await self._read(day, day + timedelta(days=1))
                return self.cached(day)
            except CalendarError as exc:
                error = str(exc)
        # Until the next refresh reads it again, bookings do not wait on it.
        self.reachable = False
        log.warning("calendar.busy_recheck_failed", day=str(day), error=error)
        return self.cached(day)

    async def refresh(self) -> None:
        """Re-read the horizon, unless the calendar's change tag says nothing changed.

        Raises:
            CalendarError: the calendar could not be read; the last spans are kept.
        """
        try:
            first = self._now().astimezone(self._tz).date()
            tag = (await self._client.describe()).tag
            if tag is None or tag != self._tag or first != self._tag_first_day:
                await self._read(first, first + timedelta(days=self._days_ahead + 1))
                self._tag, self._tag_first_day = tag, first
            self._forget_before(first)
        except CalendarError:
            self.reachable = False
            raise
        self.reachable = True

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Refresh every ``busy_max_age_s`` until cancelled.

        Started after the first read, or after ``request_timeout_s`` without one: start-up
        waits that long at most. Failures are logged (wrong credentials at error level, with
        what to check) and the last spans read are kept.
        """
        with trio.move_on_after(self._settings.request_timeout_s):
            await self._refresh_logged()
        task_status.started()
        while True:
            await trio.sleep(self._settings.busy_max_age_s)
            await self._refresh_logged()

    async def _refresh_logged(self) -> None:
        try:
            await self.refresh()
        except CalendarAuthError as exc:
            log.error(
                "calendar.auth_failed",
                error=str(exc),
                check=f"calendar.user and the secret in ${self._settings.secret_env}",
                bookings="still taken, and written to the calendar once it accepts them",
            )
        except CalendarError as exc:
            log.warning("calendar.busy_unavailable", error=str(exc), url=self._client.url)

    async def _read(self, first: date, end: date) -> None:
        """Read [first, end) in one query and keep each day's spans, newest read wins."""
        began = trio.current_time()
        window = (self._midnight(first), self._midnight(end))
        objects = await self._client.events_between(*window)
        spans = busy_spans(objects, window, self._tz, self._settings.event_uid_prefix)
        day = first
        while day < end:
            if self._days.get(day, (-1.0, ()))[0] <= began:
                opens, closes = self._midnight(day), self._midnight(day + timedelta(days=1))
                self._days[day] = (began, tuple(s for s in spans if s[0] < closes and opens < s[1]))
            day += timedelta(days=1)
        log.info("calendar.busy_read", first=str(first), days=(end - first).days, spans=len(spans))

    def _forget_before(self, first: date) -> None:
        for day in [day for day in self._days if day < first]:
            del self._days[day]

    def _midnight(self, day: date) -> datetime:
        return datetime.combine(day, time(), self._tz)


async def blocked_for(
    busy: BusyTimes | None, request: SchedulerRequest, tz: ZoneInfo
) -> tuple[Span, ...]:
    """The calendar's busy spans a scheduler request must avoid: the last read for offering
    slots, a fresh read (time-boxed) for booking and moving; () without a calendar."""
    if busy is None:
        return ()
    match request:
        case FindFreeSlots(day=day):
            return busy.cached(day)
        case BookSlot(start=start) | MoveBooking(new_start=start):
            return await busy.fresh(start.astimezone(tz).date())
        case _:
            return ()
