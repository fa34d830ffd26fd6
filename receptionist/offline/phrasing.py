"""How the receptionist says days, times, lists and opening hours: short, natural, for TTS.

Times read "10 AM" and "2:30 PM"; days read "Tuesday the 1st of December".
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Sequence
from datetime import date, datetime, time

import phonenumbers

from receptionist.config import OpeningHours
from receptionist.offline.spoken import last_digits, ordinal
from receptionist.scheduling.messages import Appointment

SATURDAY, SUNDAY = 5, 6


def clock(moment: time | datetime) -> str:
    """10:00 -> "10 AM", 14:30 -> "2:30 PM"."""
    hour = moment.hour % 12 or 12
    minutes = f":{moment.minute:02d}" if moment.minute else ""
    return f"{hour}{minutes} {'AM' if moment.hour < 12 else 'PM'}"


def day(when: date) -> str:
    """ "Tuesday the 1st of December"."""
    weekday = calendar.day_name[when.weekday()]
    return f"{weekday} the {ordinal(when.day)} of {calendar.month_name[when.month]}"


def day_and_time(start: datetime) -> str:
    return f"{day(start.date())} at {clock(start)}"


def either(items: Sequence[str], conjunction: str = "or") -> str:
    """["a", "b", "c"] -> "a, b or c"."""
    if len(items) <= 1:
        return "".join(items)
    return f"{', '.join(items[:-1])} {conjunction} {items[-1]}"


def times(slots: Sequence[datetime]) -> str:
    return either([clock(slot) for slot in slots])


def with_article(noun: str) -> str:
    return f"{'an' if noun[:1].lower() in 'aeiou' else 'a'} {noun}"


def appointment(booked: Appointment) -> str:
    """ "a check-up on Tuesday the 1st of December at 10 AM" (", with Dr. Patel")."""
    with_whom = f", with {booked.practitioner}" if booked.practitioner else ""
    return f"{with_article(booked.service)} on {day_and_time(booked.start)}{with_whom}"


def number_ending(number: str) -> str:
    """Digits spaced out, so TTS reads "4 5 6 7" and not "four thousand five hundred..."."""
    return " ".join(last_digits(number))


def phone_number(number: str, region: str) -> str:
    """Every digit, grouped as the country writes the number: "5 5 5, 1 2 3, 4 5 6 7".

    ``number`` is E.164; a number from ``region`` is read in its national form, without the
    country code, as the caller would say it.
    """
    try:
        parsed = phonenumbers.parse(number, region)
    except phonenumbers.NumberParseException:
        return " ".join(char for char in number if char.isdigit())
    if parsed.country_code == phonenumbers.country_code_for_region(region):
        written = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.NATIONAL)
    else:
        written = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
    groups = re.findall(r"\d+", written)
    return ", ".join(" ".join(group) for group in groups)


def opening_hours(hours: Sequence[OpeningHours | None]) -> str:
    """Runs of days with equal hours, spoken naturally.

    "We're open Monday to Wednesday, 9 AM to 5 PM; Thursday, 9 AM to 7 PM; and Friday,
    9 AM to 4 PM. We're closed at the weekend."
    """
    spans = [
        f"{_day_range(first, last)}, {clock(span.opens)} to {clock(span.closes)}"
        for first, last, span in _runs_of_equal_hours(hours)
    ]
    said = f"We're open {'; '.join(spans[:-1])}{'; and ' if len(spans) > 1 else ''}{spans[-1]}."
    closed = [weekday for weekday, span in enumerate(hours) if span is None]
    return f"{said} We're closed {_closed_days(closed)}." if closed else said


def _runs_of_equal_hours(
    hours: Sequence[OpeningHours | None],
) -> list[tuple[int, int, OpeningHours]]:
    runs: list[tuple[int, int, OpeningHours]] = []
    for weekday, span in enumerate(hours):
        if span is None:
            continue
        if runs and runs[-1][1] == weekday - 1 and runs[-1][2] == span:
            runs[-1] = (runs[-1][0], weekday, span)
        else:
            runs.append((weekday, weekday, span))
    return runs


def _day_range(first: int, last: int) -> str:
    names = calendar.day_name
    if first == last:
        return names[first]
    joiner = "and" if last == first + 1 else "to"
    return f"{names[first]} {joiner} {names[last]}"


def _closed_days(closed: Sequence[int]) -> str:
    weekend = SATURDAY in closed and SUNDAY in closed
    weekdays = [f"{calendar.day_name[d]}s" for d in closed if not (weekend and d >= SATURDAY)]
    parts = ([f"on {either(weekdays, 'and')}"] if weekdays else []) + (
        ["at the weekend"] if weekend else []
    )
    return " and ".join(parts)
