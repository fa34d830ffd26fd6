"""``receptionist calendar check``: try the configured calendar, step by step, and say what worked.

Connect, sign in, confirm the URL is a calendar, list tomorrow's events, write a test event
and delete it. Each step is tried only when the one before it worked.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from receptionist.calendar.caldav import CalDavClient, open_caldav
from receptionist.calendar.events import appointment_event, busy_spans
from receptionist.config.calendar import CalendarConfig
from receptionist.errors import CalendarAuthError, CalendarError, CalendarUnavailable


@dataclass(frozen=True, slots=True)
class CheckStep:
    name: str
    ok: bool
    detail: str

    def line(self) -> str:
        return f"  {'ok' if self.ok else 'FAIL':<4} {self.name:<12} {self.detail}"


async def run_check(
    settings: CalendarConfig, tz: ZoneInfo, secrets: Mapping[str, str]
) -> tuple[CheckStep, ...]:
    """Every step tried against ``settings``' calendar, in order, up to the first failure.

    Raises:
        ConfigError: a secret is missing (``Config.secrets.calendar``).
    """
    async with open_caldav(settings, secrets) as client:
        return await check_calendar(client, settings, tz, datetime.now(tz))


async def check_calendar(
    client: CalDavClient, settings: CalendarConfig, tz: ZoneInfo, now: datetime
) -> tuple[CheckStep, ...]:
    steps: list[CheckStep] = []
    try:
        info = await client.describe()
    except CalendarUnavailable as exc:
        return (CheckStep("connect", False, str(exc)),)
    except CalendarAuthError as exc:
        hint = f"check calendar.user ({settings.user!r}) and ${settings.secret_env}"
        return (
            CheckStep("connect", True, f"the server at {client.url} answered"),
            CheckStep("authenticate", False, f"{exc}: {hint}"),
        )
    except CalendarError as exc:
        return (
            CheckStep("connect", True, "the server answered"),
            CheckStep("url", False, str(exc)),
        )
    steps.append(CheckStep("connect", True, f"the server at {client.url} answered"))
    steps.append(CheckStep("authenticate", True, f"signed in ({settings.auth})"))
    if not info.is_calendar:
        return (*steps, await _not_a_calendar(client))
    change_tag = "reports changes (ctag)" if info.tag else "no change tag: re-read in full"
    steps.append(CheckStep("calendar", True, f"{info.name or 'unnamed'!r}, {change_tag}"))
    try:
        steps.append(await _read_tomorrow(client, settings, tz, now))
    except CalendarError as exc:
        return (*steps, CheckStep("read", False, str(exc)))
    return (*steps, *await _write_and_delete(client, settings, tz, now))


async def _not_a_calendar(client: CalDavClient) -> CheckStep:
    """The failed step, naming the calendars found from this URL, to copy into the config."""
    detail = "this URL is not a calendar: set calendar.url to the calendar's own URL"
    try:
        found = await client.find_calendars()
    except CalendarError:
        found = []
    listed = "".join(f"\n{' ' * 20}{name!r}: {url}" for url, name in found)
    return CheckStep("calendar", False, detail + (f"; calendars found:{listed}" if found else ""))


async def _read_tomorrow(
    client: CalDavClient, settings: CalendarConfig, tz: ZoneInfo, now: datetime
) -> CheckStep:
    tomorrow = now.astimezone(tz).date() + timedelta(days=1)
    window = (datetime.combine(tomorrow, time(), tz), datetime.combine(tomorrow, time(23, 59), tz))
    objects = await client.events_between(*window)
    spans = busy_spans(objects, window, tz, settings.event_uid_prefix)
    detail = f"{len(objects)} events on {tomorrow:%A %d %B}, {len(spans)} busy spans"
    return CheckStep("read", True, detail)


async def _write_and_delete(
    client: CalDavClient, settings: CalendarConfig, tz: ZoneInfo, now: datetime
) -> list[CheckStep]:
    """A one-minute event tomorrow at midnight, under a random UID, written and deleted."""
    uid = f"{settings.event_uid_prefix}-check-{secrets.token_hex(6)}"
    start = datetime.combine(now.astimezone(tz).date() + timedelta(days=1), time(), tz)
    test = {
        "id": 0,
        "start": start.isoformat(),
        "end": (start + timedelta(minutes=1)).isoformat(),
        "service": "receptionist calendar check",
        "name": "test event, deleted at once",
        "phone": "-",
        "reason": "",
    }
    try:
        await client.put_event(uid, appointment_event(test, tz, uid, now))
    except CalendarError as exc:
        return [CheckStep("write", False, str(exc))]
    steps = [CheckStep("write", True, f"created the test event {uid}")]
    try:
        await client.delete_event(uid)
    except CalendarError as exc:
        detail = f"{exc}: delete the test event {uid} by hand"
        return [*steps, CheckStep("delete", False, detail)]
    return [*steps, CheckStep("delete", True, "deleted the test event")]
