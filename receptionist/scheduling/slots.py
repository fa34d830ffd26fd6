"""Slot arithmetic: opening hours, the booking grid, notice, horizon and overlap.

Pure functions of the config, a day and "now", with no I/O: the appointments store only adds
SQLite around them, and they are tested directly.

Durations are added in UTC: adding a timedelta to an aware datetime in a zone with DST is
wall-clock arithmetic in Python, which would stretch or shrink an appointment across a change.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

import phonenumbers

from receptionist.config import ClinicConfig, SchedulerConfig
from receptionist.scheduling.messages import RejectReason

Span = tuple[datetime, datetime]
"""[start, end) of an appointment or of a day's opening hours, as aware datetimes."""

MINUTES_PER_DAY = 24 * 60


@dataclass(frozen=True, slots=True)
class Rejection:
    """Why a request cannot be met: an answer for the caller, not an error."""

    reason: RejectReason
    detail: str = ""


def normalise_phone(raw: str, region: str) -> str:
    """E.164 ('+15551234567'), reading a national number in ``region`` (the clinic's
    country, "US"); '' when ``raw`` cannot be a phone number.

    One form for every number, so a number keyed as "5551234567" finds the booking made
    under Twilio's caller ID "+15551234567". The maintained ``phonenumbers`` library knows
    each country's trunk prefixes and lengths ("07700 900123" in "GB" is +447700900123).
    """
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException:
        return ""
    if not phonenumbers.is_possible_number(number):
        return ""
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def end_of(start: datetime, minutes: int) -> datetime:
    """The instant ``minutes`` after ``start``, in start's timezone."""
    return (start.astimezone(UTC) + timedelta(minutes=minutes)).astimezone(start.tzinfo)


def overlaps(a: Span, b: Span) -> bool:
    """Half-open spans: an appointment ending at 10:00 leaves 10:00 free for the next."""
    return a[0] < b[1] and b[0] < a[1]


def opening_span(clinic: ClinicConfig, day: date) -> Span | None:
    """The clinic's opening hours on ``day`` in its timezone, or None when closed all day."""
    hours = clinic.hours[day.weekday()]
    if hours is None:
        return None
    tz = clinic.tz
    return datetime.combine(day, hours.opens, tz), datetime.combine(day, hours.closes, tz)


def is_open_at(clinic: ClinicConfig, moment: datetime) -> bool:
    """Whether the clinic is open at ``moment`` (aware): someone may take a call."""
    local = moment.astimezone(clinic.tz)
    span = opening_span(clinic, local.date())
    return span is not None and span[0] <= local < span[1]


def is_on_grid(start: datetime, slot_minutes: int) -> bool:
    """Whether a (clinic-local) start falls on the grid of minutes past the hour."""
    return start.minute % slot_minutes == 0 and start.second == 0 and start.microsecond == 0


def grid_starts(opening: Span, minutes: int, slot_minutes: int) -> list[datetime]:
    """Every start on the grid within ``opening`` whose appointment ends by closing time."""
    opens, closes = opening
    first = -(-(opens.hour * 60 + opens.minute) // slot_minutes) * slot_minutes  # ceiling
    starts = []
    for minute in range(first, MINUTES_PER_DAY, slot_minutes):
        start = datetime.combine(opens.date(), time(minute // 60, minute % 60), opens.tzinfo)
        if end_of(start, minutes) > closes:
            break
        if start >= opens:  # false only when opening time has seconds
            starts.append(start)
    return starts


def free_starts(
    candidates: Iterable[datetime], minutes: int, busy: Sequence[Span]
) -> list[datetime]:
    """The candidate starts whose appointment would overlap none of the ``busy`` spans."""
    return [
        start
        for start in candidates
        if not any(overlaps((start, end_of(start, minutes)), span) for span in busy)
    ]


def earliest_start(now: datetime, scheduler: SchedulerConfig) -> datetime:
    """The soonest an appointment may start: the clinic needs some notice."""
    return now + timedelta(minutes=scheduler.min_notice_minutes)


def check_day(
    day: date, now: datetime, clinic: ClinicConfig, scheduler: SchedulerConfig
) -> Rejection | None:
    """Reject a day before today or beyond the booking horizon (both in clinic time)."""
    today = now.astimezone(clinic.tz).date()
    if day < today:
        return Rejection(RejectReason.IN_THE_PAST, f"{day} has passed")
    if day > today + timedelta(days=scheduler.horizon_days):
        return Rejection(
            RejectReason.TOO_FAR_AHEAD, f"bookings open {scheduler.horizon_days} days ahead"
        )
    return None


def bookable_starts(
    day: date,
    minutes: int,
    now: datetime,
    clinic: ClinicConfig,
    scheduler: SchedulerConfig,
    earliest: time | None = None,
) -> list[datetime]:
    """Grid starts on ``day`` within hours, with enough notice, at or after ``earliest``.

    Existing bookings are not considered here; see ``free_starts``.
    """
    opening = opening_span(clinic, day)
    if opening is None or check_day(day, now, clinic, scheduler) is not None:
        return []
    not_before = earliest_start(now, scheduler)
    return [
        start
        for start in grid_starts(opening, minutes, scheduler.slot_minutes)
        if start >= not_before and (earliest is None or start.time() >= earliest)
    ]


PARTS_OF_THE_DAY = (time(12, 0), time(14, 0))
"""Where morning ends and midday ends: offers are spread over morning, midday, afternoon."""


def offered(free: Sequence[datetime], limit: int, near: time | None = None) -> list[datetime]:
    """The ``limit`` free starts to offer, in order: the nearest to ``near``, or else spread
    over the day, the earliest of each part of it first, so a caller who cannot come in the
    morning still hears an afternoon time."""
    if limit <= 0:
        return []
    if near is not None:
        wanted = near.hour * 60 + near.minute
        by_distance = sorted(free, key=lambda s: (abs(s.hour * 60 + s.minute - wanted), s))
        return sorted(by_distance[:limit])
    firsts = [
        next(start for start in free if _part_of_day(start) == part)
        for part in sorted({_part_of_day(start) for start in free})
    ]
    rest = [start for start in free if start not in firsts]
    return sorted([*firsts, *rest][:limit])


def _part_of_day(start: datetime) -> int:
    return sum(start.time() >= boundary for boundary in PARTS_OF_THE_DAY)


def check_start(
    start: datetime, minutes: int, now: datetime, clinic: ClinicConfig, scheduler: SchedulerConfig
) -> Rejection | None:
    """Everything about a requested start that does not need the database.

    Returns:
        None when an appointment of ``minutes`` may start at ``start``, else why not.
    """
    if start.utcoffset() is None:
        return Rejection(RejectReason.INVALID, "start has no timezone")
    local = start.astimezone(clinic.tz)
    if rejection := check_day(local.date(), now, clinic, scheduler):
        return rejection
    if local < earliest_start(now, scheduler):
        detail = f"needs {scheduler.min_notice_minutes} minutes' notice"
        return Rejection(RejectReason.IN_THE_PAST, detail)
    opening = opening_span(clinic, local.date())
    if opening is None or local < opening[0] or end_of(local, minutes) > opening[1]:
        return Rejection(RejectReason.OUTSIDE_HOURS, f"{local:%A %H:%M} is outside opening hours")
    if not is_on_grid(local, scheduler.slot_minutes):
        detail = f"starts are every {scheduler.slot_minutes} minutes"
        return Rejection(RejectReason.INVALID, detail)
    return None
