"""Same-day and read-back dates, in the clinic's timezone (issue 10).

With the clinic's "now" at Tuesday 2026-12-01 09:00, the date the receptionist itself reads
back ("Tuesday the 1st of December") is today, not next year.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from receptionist.offline import phrasing
from receptionist.offline.conversation import (
    AskScheduler,
    CallBegan,
    CallerSaid,
    Receptionist,
    Speak,
)
from receptionist.offline.spoken_time import spoken_date
from receptionist.scheduling.messages import FindFreeSlots
from tests.helpers.conversation import CALLER, CONFIG

TZ = ZoneInfo("America/New_York")
NOW = datetime(2026, 12, 1, 9, 0, tzinfo=TZ)
TODAY = date(2026, 12, 1)


@pytest.mark.parametrize(
    ("said", "day"),
    [
        ("the first of december", TODAY),
        ("tuesday the first of december", TODAY),
        (phrasing.day(TODAY).lower(), TODAY),
        ("today", TODAY),
        ("tomorrow", date(2026, 12, 2)),
        ("this friday", date(2026, 12, 4)),
        ("the 3rd", date(2026, 12, 3)),
        ("the third", date(2026, 12, 3)),
        ("tuesday the 1st", TODAY),
        ("december 1st at 2", TODAY),
        ("december the third at half past ten", date(2026, 12, 3)),
        ("next week monday", date(2026, 12, 7)),
        ("the fifth of january", date(2027, 1, 5)),
    ],
)
def test_dates_resolve_from_the_clinics_today(said: str, day: date) -> None:
    assert spoken_date(said, NOW) == day


def test_a_date_just_past_stays_in_the_past_to_be_re_asked() -> None:
    assert spoken_date("the 30th of november", NOW) == date(2026, 11, 30)
    assert spoken_date("november 30th", NOW) == date(2026, 11, 30)


def test_a_weekday_that_disagrees_with_the_date_is_not_a_date() -> None:
    assert spoken_date("wednesday the first of december", NOW) is None


def test_today_is_the_clinics_today_not_utcs() -> None:
    # 02:00 UTC on the 2nd is still the 1st in New York.
    late = datetime(2026, 12, 2, 2, 0, tzinfo=UTC).astimezone(TZ)
    assert spoken_date("today", late) == TODAY
    assert spoken_date("tomorrow", late) == date(2026, 12, 2)


def test_the_receptionist_books_today_and_re_asks_a_past_date() -> None:
    receptionist = Receptionist(CONFIG)
    receptionist.handle(CallBegan(CALLER, NOW))
    receptionist.handle(CallerSaid("i'd like to book a check up", NOW))
    [past] = receptionist.handle(CallerSaid("the thirtieth of november", NOW))
    assert isinstance(past, Speak)
    assert past.text.startswith("Sorry, that day has already passed.")
    [ask] = receptionist.handle(CallerSaid("tuesday the first of december", NOW))
    assert isinstance(ask, AskScheduler)
    assert ask.request == FindFreeSlots(1, "check-up", TODAY)
