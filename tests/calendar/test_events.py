"""The calendar's pure parts: the [calendar] section, iCalendar out and in, the retry backoff."""

from __future__ import annotations

from datetime import datetime, timedelta

import icalendar
import pytest
from structlog.testing import capture_logs

from receptionist.calendar.events import appointment_event, busy_spans, event_uid
from receptionist.calendar.pusher import retry_delay
from receptionist.config.calendar import CalendarConfig, parse_calendar_config
from receptionist.errors import ConfigError
from tests.helpers.clinic import TUESDAY, TZ, at

PREFIX = "receptionist-appointment"
BOOKING = {
    "id": 7,
    "start": "2026-12-01T10:00:00-05:00",
    "end": "2026-12-01T10:30:00-05:00",
    "service": "check-up",
    "name": "John Smith",
    "phone": "+15551234567",
    "reason": "annual; fasting, please",
}
CALDAV = {"kind": "caldav", "url": "https://cal.example.com/dav/clinic", "user": "clinic"}


def vcalendar(*events: str) -> str:
    body = "".join(
        f"BEGIN:VEVENT\nDTSTAMP:20261101T000000Z\n{e.strip()}\nEND:VEVENT\n" for e in events
    )
    return f"BEGIN:VCALENDAR\nVERSION:2.0\nPRODID:-//staff//EN\n{body}END:VCALENDAR\n"


def spans_hhmm(calendar: str, days: int = 1) -> list[str]:
    window = (at(TUESDAY, "00:00"), at(TUESDAY, "00:00") + timedelta(days=days))
    return [f"{s:%d %H:%M}-{e:%d %H:%M}" for s, e in busy_spans([calendar], window, TZ, PREFIX)]


# --- config ------------------------------------------------------------------------------


def test_none_is_the_default_and_needs_nothing_else() -> None:
    assert parse_calendar_config({}).kind == "none"


def test_a_caldav_calendar_gets_a_collection_url() -> None:
    assert parse_calendar_config(CALDAV).collection_url == "https://cal.example.com/dav/clinic/"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"url": "cal.example.com"}, "calendar.url"),
        ({"url": "https://clinic:pw@cal.example.com/"}, "must not hold credentials"),
        ({"user": ""}, "calendar.user"),
        ({"auth": "digest"}, "calendar.auth"),
        ({"retry_initial_s": 10, "retry_max_s": 5}, "retry_max_s"),
        ({"busy_max_age_s": 0}, "calendar.busy_max_age_s"),
        ({"oauth_token_url": "https://oauth2.googleapis.com/token"}, "oauth"),
        ({"event_uid_prefix": "a b"}, "calendar.event_uid_prefix"),
        ({"password": "x"}, "calendar.password"),
    ],
)
def test_bad_settings_are_refused_naming_the_key(change: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_calendar_config({**CALDAV, **change})


def test_the_settings_are_frozen() -> None:
    settings = parse_calendar_config(CALDAV)
    with pytest.raises(ValueError, match="frozen"):
        settings.user = "someone"  # type: ignore[misc]


# --- a booking as an event -----------------------------------------------------------------


def test_a_booking_is_an_event_in_the_clinic_timezone() -> None:
    uid = event_uid(PREFIX, 7)
    ics = appointment_event(BOOKING, TZ, uid, datetime(2026, 11, 30, 12, tzinfo=TZ))
    calendar = icalendar.Calendar.from_ical(ics)
    (event,) = calendar.walk("VEVENT")
    assert event["uid"] == "receptionist-appointment-7"
    assert event["dtstart"].params["TZID"] == "America/New_York"
    assert event.decoded("dtstart") == at(TUESDAY, "10:00")
    assert event.decoded("dtend") == at(TUESDAY, "10:30")
    assert event["summary"] == "check-up: John Smith"
    assert "Phone: +15551234567" in event["description"]
    assert "annual; fasting, please" in event["description"]
    assert [tz["tzid"] for tz in calendar.walk("VTIMEZONE")] == ["America/New_York"]


def test_a_booking_given_in_another_offset_is_written_in_clinic_time() -> None:
    utc = {**BOOKING, "start": "2026-12-01T15:00:00+00:00", "end": "2026-12-01T15:30:00+00:00"}
    ics = appointment_event(utc, TZ, "u", datetime(2026, 11, 30, tzinfo=TZ))
    assert b"DTSTART;TZID=America/New_York:20261201T100000" in ics


# --- staff events as busy spans ------------------------------------------------------------


def test_timed_events_are_busy_in_clinic_time() -> None:
    staff = vcalendar("UID:a\nDTSTART:20261201T150000Z\nDTEND:20261201T160000Z")
    assert spans_hhmm(staff) == ["01 10:00-01 11:00"]


def test_free_cancelled_and_own_events_are_not_busy() -> None:
    staff = vcalendar(
        "UID:free\nDTSTART:20261201T150000Z\nDURATION:PT1H\nTRANSP:TRANSPARENT",
        "UID:off\nDTSTART:20261201T160000Z\nDURATION:PT1H\nSTATUS:CANCELLED",
        f"UID:{PREFIX}-3\nDTSTART:20261201T170000Z\nDURATION:PT1H",
        "UID:busy\nDTSTART:20261201T180000Z\nDURATION:PT30M\nTRANSP:OPAQUE",
    )
    assert spans_hhmm(staff) == ["01 13:00-01 13:30"]


def test_an_all_day_event_takes_the_whole_clinic_day() -> None:
    staff = vcalendar("UID:holiday\nDTSTART;VALUE=DATE:20261202")
    assert spans_hhmm(staff, days=3) == ["02 00:00-03 00:00"]


def test_floating_times_are_clinic_time() -> None:
    staff = vcalendar("UID:f\nDTSTART:20261201T090000\nDTEND:20261201T093000")
    assert spans_hhmm(staff) == ["01 09:00-01 09:30"]


def test_recurring_events_are_expanded_with_exceptions() -> None:
    staff = vcalendar(
        "UID:meeting\nDTSTART;TZID=America/New_York:20261124T120000\nDURATION:PT1H\n"
        "RRULE:FREQ=DAILY;COUNT=20\nEXDATE;TZID=America/New_York:20261202T120000",
        "UID:meeting\nRECURRENCE-ID;TZID=America/New_York:20261203T120000\n"
        "DTSTART;TZID=America/New_York:20261203T120000\nDURATION:PT1H\nSTATUS:CANCELLED",
        "UID:meeting\nRECURRENCE-ID;TZID=America/New_York:20261204T120000\n"
        "DTSTART;TZID=America/New_York:20261204T150000\nDURATION:PT1H",
    )
    assert spans_hhmm(staff, days=4) == ["01 12:00-01 13:00", "04 15:00-04 16:00"]


def test_an_instant_blocks_nothing() -> None:
    assert spans_hhmm(vcalendar("UID:i\nDTSTART:20261201T150000Z")) == []


def test_an_unreadable_object_is_skipped_and_the_others_still_count() -> None:
    window = (at(TUESDAY, "00:00"), at(TUESDAY, "23:59"))
    staff = vcalendar("UID:a\nDTSTART:20261201T150000Z\nDTEND:20261201T160000Z")
    broken = vcalendar("UID:b\nDTSTART:not-a-time")
    with capture_logs() as logs:
        spans = busy_spans(["this is not a calendar", broken, staff], window, TZ, PREFIX)
    assert spans == [(at(TUESDAY, "10:00"), at(TUESDAY, "11:00"))]
    assert [line["event"] for line in logs] == ["calendar.unreadable_event"] * 2


# --- retries -------------------------------------------------------------------------------


def test_retries_back_off_exponentially_up_to_the_cap() -> None:
    settings = CalendarConfig(retry_initial_s=2, retry_max_s=300)
    delays = [retry_delay(settings, attempts) for attempts in (0, 1, 2, 3, 7, 8, 1000)]
    assert delays == [2, 4, 8, 16, 256, 300, 300]
