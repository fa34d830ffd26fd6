"""Reading a caller's words as a recogniser writes them: table-driven, with a pinned now."""

from __future__ import annotations

from datetime import date, datetime, time
from zoneinfo import ZoneInfo

import pytest

from receptionist.config import OpeningHours, Service
from receptionist.offline import phrasing, spoken
from receptionist.offline.intents import Intent, intent

TZ = ZoneInfo("America/New_York")
NOW = datetime(2026, 11, 26, 15, 0, tzinfo=TZ)
"""Thursday the 26th of November 2026, 3 PM at the clinic."""
LATE = datetime(2026, 11, 26, 23, 30, tzinfo=TZ)
"""Half past eleven at night: already the 27th in UTC."""

SERVICES = (
    Service("check-up", 30, ("check up", "checkup", "physical", "annual")),
    Service("consultation", 20, ("consultation", "appointment", "sick", "sore", "cough")),
    Service("vaccination", 15, ("vaccination", "vaccine", "flu shot", "shot")),
    Service("blood test", 15, ("blood test", "bloods")),
)


@pytest.mark.parametrize(
    ("words", "expected"),
    [
        ("i'd like to book an appointment", Intent.BOOK),
        ("can i make an appointment please", Intent.BOOK),
        ("i need a flu shot", Intent.BOOK),
        ("i want to cancel my appointment", Intent.CANCEL),
        ("i can't make my appointment on friday", Intent.CANCEL),
        ("i need to reschedule", Intent.MOVE),
        ("can i move my appointment to another day", Intent.MOVE),
        ("what are your opening hours", Intent.HOURS),
        ("what time do you close today", Intent.HOURS),
        ("can i speak to a real person", Intent.PERSON),
        ("i'd like to talk to the receptionist", Intent.PERSON),
        ("no that's all thanks", Intent.GOODBYE),
        ("nothing else bye", Intent.GOODBYE),
        ("what's the weather like", None),
    ],
)
def test_intent(words: str, expected: Intent | None) -> None:
    assert intent(words, SERVICES) is expected


@pytest.mark.parametrize(
    ("words", "expected"),
    [
        ("yes", True),
        ("yes please", True),
        ("yeah", True),
        ("yep that's it", True),
        ("that's right", True),
        ("correct", True),
        ("sure go ahead", True),
        ("no", False),
        ("no thanks", False),
        ("nope", False),
        ("that's not right", False),
        ("maybe", None),
        ("the blue one", None),
    ],
)
def test_yes_or_no(words: str, expected: bool | None) -> None:
    assert spoken.yes_or_no(words) is expected


@pytest.mark.parametrize(
    ("words", "expected"),
    [
        ("it's for my annual check up", "check-up"),
        ("i've got a sore throat", "consultation"),
        ("a flu shot please", "vaccination"),
        ("i need some blood test results", "blood test"),
        ("just a check-up", "check-up"),
        ("something else entirely", None),
    ],
)
def test_service(words: str, expected: str | None) -> None:
    found = spoken.service(words, SERVICES)
    assert (found.name if found else None) == expected


@pytest.mark.parametrize(
    ("words", "expected"),
    [
        ("it's for my annual check up", "my annual check up"),
        ("i need a flu shot", "a flu shot"),
        ("um a sore throat", "a sore throat"),
        ("check up", "check up"),
    ],
)
def test_reason_keeps_the_callers_words(words: str, expected: str) -> None:
    assert spoken.reason(words) == expected


@pytest.mark.parametrize(
    ("words", "now", "expected"),
    [
        ("today", NOW, date(2026, 11, 26)),
        ("tomorrow", NOW, date(2026, 11, 27)),
        ("today", LATE, date(2026, 11, 26)),
        ("tomorrow", LATE, date(2026, 11, 27)),
        ("next tuesday", NOW, date(2026, 12, 1)),
        ("on friday", NOW, date(2026, 11, 27)),
        ("monday please", NOW, date(2026, 11, 30)),
        ("i'd like to come in on wednesday", NOW, date(2026, 12, 2)),
        ("december first", NOW, date(2026, 12, 1)),
        ("the first of december", NOW, date(2026, 12, 1)),
        ("the twenty first of december", NOW, date(2026, 12, 21)),
        ("january fifth", NOW, date(2027, 1, 5)),
        ("the third", NOW, date(2026, 12, 3)),
        ("the twenty seventh", NOW, date(2026, 11, 27)),
        ("friday at two", NOW, date(2026, 11, 27)),
        ("next tuesday at ten a m", NOW, date(2026, 12, 1)),
        ("may i book an appointment", NOW, None),
        ("the first one", NOW, None),
        ("as soon as possible", NOW, None),
    ],
)
def test_spoken_date(words: str, now: datetime, expected: date | None) -> None:
    assert spoken.spoken_date(words, now) == expected


@pytest.mark.parametrize(
    ("words", "expected"),
    [
        ("ten a m", time(10, 0)),
        ("10 am", time(10, 0)),
        ("ten o'clock", time(10, 0)),
        ("half past two", time(14, 30)),
        ("two thirty", time(14, 30)),
        ("three thirty p m", time(15, 30)),
        ("quarter to three", time(14, 45)),
        ("quarter past nine", time(9, 15)),
        ("ten oh five", time(10, 5)),
        ("noon", time(12, 0)),
        ("two", time(14, 0)),
        ("ten", time(10, 0)),
        ("nine in the morning", time(9, 0)),
        ("twelve thirty", time(12, 30)),
        ("how about the afternoon", None),
    ],
)
def test_time_of_day_in_business_hours(words: str, expected: time | None) -> None:
    assert spoken.time_of_day(words) == expected


def test_a_bare_number_is_no_time_when_a_date_may_be_about() -> None:
    assert spoken.time_of_day("in two days", bare_hour=False) is None
    assert spoken.time_of_day("friday at two", bare_hour=False) == time(14, 0)


@pytest.mark.parametrize(
    ("words", "expected"),
    [
        ("my name is john smith", "John Smith"),
        ("it's jane doe", "Jane Doe"),
        ("john smith", "John Smith"),
        ("yes it's mary o'brien please", "Mary O'Brien"),
        ("this is anne-marie jones", "Anne-Marie Jones"),
        ("um", None),
        ("it's five five five one two", None),
        ("", None),
    ],
)
def test_person_name(words: str, expected: str | None) -> None:
    assert spoken.person_name(words) == expected


@pytest.mark.parametrize(
    ("words", "expected"),
    [
        ("five five five one two three four", "5551234"),
        ("it's five five five oh one two three four five six", "5550123456"),
        ("double five five one two three four", "5551234"),
        ("555 123 4567", "5551234567"),
        ("five five five", None),
    ],
)
def test_phone_number_from_spoken_digits(words: str, expected: str | None) -> None:
    assert spoken.phone_number(words) == expected


@pytest.mark.parametrize(
    ("keyed", "expected"),
    [("5559876543", "5559876543"), ("555*98", None), ("1234567890123456", None)],
)
def test_phone_number_from_keypad(keyed: str, expected: str | None) -> None:
    assert spoken.keyed_phone_number(keyed) == expected


@pytest.mark.parametrize(
    ("words", "count", "expected"),
    [
        ("the first one", 3, 0),
        ("the second", 3, 1),
        ("the last one please", 3, 2),
        ("the third", 2, None),
        ("the first of december", 3, None),
    ],
)
def test_chosen_option(words: str, count: int, expected: int | None) -> None:
    assert spoken.chosen_option(words, count) == expected


def test_spoken_number_words_become_digits() -> None:
    assert spoken.numbers_to_digits("the twenty first at two thirty p m") == "the 21st at 2 30 pm"


# --- Saying things back --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("moment", "expected"),
    [(time(10), "10 AM"), (time(14, 30), "2:30 PM"), (time(12), "12 PM"), (time(9, 5), "9:05 AM")],
)
def test_clock(moment: time, expected: str) -> None:
    assert phrasing.clock(moment) == expected


def test_day() -> None:
    assert phrasing.day(date(2026, 12, 1)) == "Tuesday the 1st of December"
    assert phrasing.day(date(2026, 12, 22)) == "Tuesday the 22nd of December"
    assert phrasing.day(date(2026, 12, 13)) == "Sunday the 13th of December"


def test_opening_hours_group_days_with_equal_hours() -> None:
    nine_to = [OpeningHours(time(9), time(h)) for h in (17, 17, 17, 19, 16)]
    assert phrasing.opening_hours([*nine_to, None, None]) == (
        "We're open Monday to Wednesday, 9 AM to 5 PM; Thursday, 9 AM to 7 PM; "
        "and Friday, 9 AM to 4 PM. We're closed at the weekend."
    )


def test_opening_hours_name_closed_weekdays() -> None:
    open_ = OpeningHours(time(8, 30), time(18))
    hours = [open_, open_, None, open_, open_, open_, None]
    assert phrasing.opening_hours(hours) == (
        "We're open Monday and Tuesday, 8:30 AM to 6 PM; and Thursday to Saturday, "
        "8:30 AM to 6 PM. We're closed on Wednesdays and Sundays."
    )


@pytest.mark.parametrize(
    ("words", "expected"),
    [
        ("the first one", "the 1st one"),
        ("the tuesday one", "the tuesday one"),
        ("at one thirty", "at 1 30"),
        ("one two three", "1 2 3"),
    ],
)
def test_one_after_a_determiner_is_a_word_not_a_number(words: str, expected: str) -> None:
    assert spoken.numbers_to_digits(words) == expected


@pytest.mark.parametrize(
    ("words", "expected"),
    [
        ("the wednesday one", date(2026, 12, 2)),
        ("the tuesday one please", date(2026, 12, 1)),
        ("friday the fourth", date(2026, 12, 4)),
    ],
)
def test_spoken_date_with_pronouns_and_weekdays(words: str, expected: date) -> None:
    assert spoken.spoken_date(words, NOW) == expected
