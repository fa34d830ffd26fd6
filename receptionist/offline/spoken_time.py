"""Reading numbers, times of day and dates in what a caller said.

Recognisers spell numbers out ("half past two", "the twenty first"); ``numbers_to_digits``
(spoken_numbers.py) turns them into digits, then times are read here and dates by the
maintained ``dateparser`` library. Only what dateparser gets wrong for a caller is handled by
hand: a bare "the third" (it reads a month), a clock time read as a date ("friday at 2" is
not February), and a pronoun "one" ("the tuesday one" is not January).
"""

from __future__ import annotations

import calendar
import re
from datetime import date, datetime, time

from dateparser.search import search_dates

from receptionist.offline.spoken_numbers import numbers_to_digits


def whole_words(*phrases: str) -> re.Pattern[str]:
    """One regex matching any of the phrases (regex fragments) as whole words."""
    return re.compile(r"\b(?:" + "|".join(phrases) + r")\b")


# --- Time of day --------------------------------------------------------------------------

_CLOCK = re.compile(
    r"(?P<at>\bat\s+)?\b(?P<hour>[01]?\d|2[0-3])(?:[: ](?P<minute>[0-5]\d))?\s*"
    r"(?P<suffix>am|pm|o'?clock|in the morning|in the afternoon|in the evening)?\b"
    r"(?!\s*(?:st|nd|rd|th)\b)"
)
_PAST_TO = re.compile(
    r"\b(?P<amount>half|quarter|\d{1,2}(?: minutes)?) (?P<way>past|after|to) (?P<hour>\d{1,2})"
    r"(?:\s*(?P<suffix>am|pm|o'?clock|in the morning|in the afternoon|in the evening))?\b"
)
_HALF_HOUR = re.compile(r"\bhalf (?P<hour>\d{1,2})\b")  # British "half two" is 2:30
_NOON = whole_words("noon", "midday", "lunchtime")
_AFTERNOON_HOURS = range(1, 8)
"""Without am/pm a clinic hour of 1 to 7 means the afternoon: nobody books at 3 in the night."""


def time_of_day(text: str, *, bare_hour: bool = True) -> time | None:
    """The time of day the caller said, read in business hours ("two" is 2 PM).

    Args:
        bare_hour: accept a number alone ("ten") as an hour. Off where other numbers may be
            about (a date), which then needs "at", am/pm or o'clock to count as a time.
    """
    # "ten oh five" is 10:05
    words = re.sub(r"\b(\d{1,2}) (?:oh|o) (\d)\b", r"\1 0\2", numbers_to_digits(text))
    if _NOON.search(words):
        return time(12, 0)
    relative = _PAST_TO.search(words) or _HALF_HOUR.search(words)
    if relative:
        return _relative_time(relative)
    for match in _CLOCK.finditer(words):
        if bare_hour or match["at"] or match["suffix"]:
            return _clock_time(int(match["hour"]), int(match["minute"] or 0), match["suffix"])
    return None


def _relative_time(match: re.Match[str]) -> time | None:
    groups = match.groupdict()
    amount = {"half": 30, "quarter": 15}.get(groups.get("amount") or "half")
    minutes = amount if amount is not None else int(groups["amount"].split()[0])
    hour = int(match["hour"])
    if groups.get("way") == "to":
        hour, minutes = hour - 1, 60 - minutes
    if not (0 <= hour <= 23 and 0 <= minutes <= 59):
        return None
    return _clock_time(hour, minutes, groups.get("suffix"))


def _clock_time(hour: int, minute: int, suffix: str | None) -> time | None:
    if suffix in ("pm", "in the afternoon", "in the evening") and hour < 12:
        hour += 12
    elif suffix in ("am", "in the morning") and hour == 12:
        hour = 0
    elif suffix in (None, "o'clock", "oclock") and hour in _AFTERNOON_HOURS:
        hour += 12
    return time(hour, minute) if 0 <= hour <= 23 else None


def _without_times(words: str) -> str:
    """Drop clock times, so "friday at 2" is not read as February the 26th."""
    words = _PAST_TO.sub(" ", words)
    return _CLOCK.sub(lambda m: " " if m["at"] or m["suffix"] else m[0], words)


# --- Dates --------------------------------------------------------------------------------

_WEEKDAYS = tuple(day.lower() for day in calendar.day_name)
_MONTHS = tuple(month.lower() for month in calendar.month_name[1:])
_WEEKDAY = whole_words(*_WEEKDAYS, "today", "tomorrow")
_MONTH = whole_words(*_MONTHS)
_IN_SOME_DAYS = re.compile(r"\bin \d+ (?:days?|weeks?)\b")
_DAY_OF_MONTH = re.compile(r"\b(\d{1,2})(?:st|nd|rd|th)\b(?! (?:1|one|option|time|slot)\b)")
_ORDINAL_SUFFIX = r"(?:st|nd|rd|th)?"
_MONTH_NAMES = "|".join(_MONTHS)
_MONTH_AND_DAY = re.compile(
    rf"\b(?:(?P<day>\d{{1,2}}){_ORDINAL_SUFFIX} (?:of )?(?P<month>{_MONTH_NAMES})"
    rf"|(?P<month_first>{_MONTH_NAMES}) (?:the )?(?P<day_after>\d{{1,2}}){_ORDINAL_SUFFIX})\b"
)
RECENTLY_PAST_DAYS = 60
"""A month and day this many days back or fewer is that (past) day, to be re-asked; further
back it is next year's ("the 5th of January" said in December)."""


def spoken_date(text: str, now: datetime) -> date | None:
    """The day the caller said, resolved from ``now`` (aware, in the clinic's timezone).

    Dates are never in the past: "friday" on a Saturday is the coming Friday.
    """
    words = _without_times(numbers_to_digits(text))
    if said := _MONTH_AND_DAY.search(words):
        found = _month_and_day(said, now.date())
        return found if found and _weekday_agrees(words, found) else None
    if not _MONTH.search(words) and (day := _DAY_OF_MONTH.search(words)):
        found = _next_day_of_month(int(day[1]), now.date())
        return found if found and _weekday_agrees(words, found) else None
    # A "one" left after numbers_to_digits is a pronoun ("the tuesday one"), which dateparser
    # would read as January.
    words = re.sub(r"\bone\b", " ", words)
    for said, found in search_dates(words, languages=["en"], settings=_settings(now)) or ():
        if _names_a_day(said) and _weekday_agrees(said, found.date()):
            return found.date()
    return None


def warm_up(now: datetime) -> None:
    """Parse one date now (blocking, at start-up): dateparser loads its language data on the
    first call, about 300 ms of CPU that would otherwise hold the event loop in the first
    call's Dialogue. Warm, a caller's answer takes a few milliseconds: parsed on the loop."""
    spoken_date("next tuesday at 2", now)  # no day of the month: that is read by hand


def _month_and_day(said: re.Match[str], today: date) -> date | None:
    """ "the 1st of December", "December 1st": this year's, even when it is today or has
    passed (the caller is then told so), unless it is long past: then next year's."""
    month = _MONTHS.index(said["month"] or said["month_first"]) + 1
    day = int(said["day"] or said["day_after"])
    for year in (today.year, today.year + 1):
        try:
            found = date(year, month, day)
        except ValueError:
            return None
        if (today - found).days <= RECENTLY_PAST_DAYS:
            return found
    return None


def _weekday_agrees(said: str, found: date) -> bool:
    """A named weekday must be the found date's: a guard against dateparser misreadings."""
    named = [index for index, day in enumerate(_WEEKDAYS) if re.search(rf"\b{day}\b", said)]
    return not named or found.weekday() in named


def _settings(now: datetime) -> dict[str, object]:
    return {
        "PREFER_DATES_FROM": "future",
        # Midnight, not now: "future" must not push today's date to next year.
        "RELATIVE_BASE": now.replace(hour=0, minute=0, second=0, microsecond=0, tzinfo=None),
        "TIMEZONE": getattr(now.tzinfo, "key", "UTC"),
        "RETURN_AS_TIMEZONE_AWARE": False,
    }


def _names_a_day(said: str) -> bool:
    """Whether dateparser's match really is a day: "may i book" is not the month of May."""
    has_number = any(char.isdigit() for char in said)
    return bool(
        _WEEKDAY.search(said) or (_MONTH.search(said) and has_number) or _IN_SOME_DAYS.search(said)
    )


def _next_day_of_month(day: int, today: date) -> date | None:
    """ "the third": the next 3rd from today. dateparser reads a lone ordinal as a month."""
    year, month = today.year, today.month
    for _ in range(12):
        if day <= calendar.monthrange(year, month)[1] and date(year, month, day) >= today:
            return date(year, month, day)
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return None


def mentions_day(text: str) -> bool:
    """Whether the caller named a day ("tuesday", "tomorrow", "the 1st of december")."""
    return _names_a_day(numbers_to_digits(text))
