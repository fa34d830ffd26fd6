"""The pure slot arithmetic, without a database."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, time, timedelta
from pathlib import Path

import pytest

from receptionist.scheduling.messages import RejectReason
from receptionist.scheduling.slots import (
    bookable_starts,
    check_start,
    end_of,
    free_starts,
    grid_starts,
    normalise_phone,
    opening_span,
    overlaps,
)
from tests.helpers.clinic import FRIDAY, SATURDAY, TUESDAY, TZ, at, clinic_config

CONFIG = clinic_config(Path("unused.sqlite3"))
CLINIC, SCHEDULER = CONFIG.clinic, CONFIG.scheduler
NOW = at(TUESDAY, "08:00")


def hhmm(starts: list[datetime]) -> list[str]:
    return [f"{s:%H:%M}" for s in starts]


@pytest.mark.parametrize(
    ("raw", "region", "normal"),
    [
        ("+1 (555) 123-4567", "US", "+15551234567"),
        ("555.123.4567", "US", "+15551234567"),
        ("5551234567", "US", "+15551234567"),
        ("07700 900123", "GB", "+447700900123"),
        ("+1 555 123 4567", "GB", "+15551234567"),
        ("n/a", "US", ""),
        ("12", "US", ""),
    ],
)
def test_normalise_phone_to_e164(raw: str, region: str, normal: str) -> None:
    assert normalise_phone(raw, region) == normal


def test_touching_spans_do_not_overlap() -> None:
    ten, half_past, eleven = at(TUESDAY, "10:00"), at(TUESDAY, "10:30"), at(TUESDAY, "11:00")
    assert not overlaps((ten, half_past), (half_past, eleven))
    assert overlaps((ten, eleven), (half_past, eleven))
    assert overlaps((ten, eleven), (at(TUESDAY, "10:10"), at(TUESDAY, "10:20")))


def test_end_of_adds_real_minutes_across_a_dst_change() -> None:
    # 2026-03-08 02:00 EST jumps to 03:00 EDT: one hour after 01:30 is 03:30 on the wall.
    start = datetime(2026, 3, 8, 1, 30, tzinfo=TZ)
    assert end_of(start, 60).replace(tzinfo=None) == datetime(2026, 3, 8, 3, 30)


def test_grid_starts_end_by_closing_time() -> None:
    opening = (at(TUESDAY, "09:00"), at(TUESDAY, "10:00"))
    assert hhmm(grid_starts(opening, 30, 15)) == ["09:00", "09:15", "09:30"]


def test_grid_starts_round_an_odd_opening_time_up() -> None:
    opening = (at(TUESDAY, "09:10"), at(TUESDAY, "10:00"))
    assert hhmm(grid_starts(opening, 15, 15)) == ["09:15", "09:30", "09:45"]


def test_opening_span_is_none_on_a_closed_day() -> None:
    assert opening_span(CLINIC, SATURDAY) is None
    assert opening_span(CLINIC, FRIDAY) == (at(FRIDAY, "09:00"), at(FRIDAY, "12:00"))


def test_free_starts_skip_any_overlap_with_a_booking() -> None:
    candidates = grid_starts((at(TUESDAY, "09:00"), at(TUESDAY, "11:00")), 30, 15)
    busy = [(at(TUESDAY, "10:00"), at(TUESDAY, "10:30"))]
    assert hhmm(free_starts(candidates, 30, busy)) == ["09:00", "09:15", "09:30", "10:30"]


def test_bookable_starts_need_notice() -> None:
    starts = bookable_starts(TUESDAY, 15, at(TUESDAY, "09:20"), CLINIC, SCHEDULER)
    assert hhmm(starts[:2]) == ["10:30", "10:45"]


def test_bookable_starts_from_an_earliest_time() -> None:
    starts = bookable_starts(TUESDAY, 30, NOW, CLINIC, SCHEDULER, earliest=time(16, 0))
    assert hhmm(starts) == ["16:00", "16:15", "16:30"]


@pytest.mark.parametrize(
    "day",
    [SATURDAY, TUESDAY - timedelta(days=1), TUESDAY + timedelta(days=61)],
    ids=["closed", "yesterday", "beyond-horizon"],
)
def test_no_bookable_starts(day: object) -> None:
    assert bookable_starts(day, 15, NOW, CLINIC, SCHEDULER) == []  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("start", "minutes", "reason"),
    [
        (datetime(2026, 12, 1, 10, 0), 30, RejectReason.INVALID),  # no timezone
        (at(TUESDAY, "10:05"), 30, RejectReason.INVALID),  # off the grid
        (at(TUESDAY, "07:00"), 30, RejectReason.IN_THE_PAST),
        (at(TUESDAY, "08:45"), 30, RejectReason.IN_THE_PAST),  # less than an hour's notice
        (at(TUESDAY - timedelta(days=1), "10:00"), 30, RejectReason.IN_THE_PAST),
        (at(TUESDAY + timedelta(days=61), "10:00"), 30, RejectReason.TOO_FAR_AHEAD),
        (at(SATURDAY, "10:00"), 30, RejectReason.OUTSIDE_HOURS),
        (at(FRIDAY, "11:45"), 30, RejectReason.OUTSIDE_HOURS),  # would end after closing
        (at(TUESDAY, "17:00"), 15, RejectReason.OUTSIDE_HOURS),
    ],
)
def test_check_start_rejects(start: datetime, minutes: int, reason: RejectReason) -> None:
    rejection = check_start(start, minutes, NOW, CLINIC, SCHEDULER)
    assert rejection is not None
    assert rejection.reason is reason


@pytest.mark.parametrize(
    "start",
    [
        at(TUESDAY, "09:00"),
        at(FRIDAY, "11:30"),  # ends exactly at closing
        datetime(2026, 12, 1, 15, 0, tzinfo=UTC),  # 10:00 in New York
    ],
)
def test_check_start_accepts(start: datetime) -> None:
    assert check_start(start, 30, NOW, CLINIC, SCHEDULER) is None


def test_the_horizons_last_day_is_bookable() -> None:
    scheduler = replace(SCHEDULER, horizon_days=59)  # 2027-01-29, a Friday
    last_day = TUESDAY + timedelta(days=59)
    assert check_start(at(last_day, "10:00"), 30, NOW, CLINIC, scheduler) is None
    rejection = check_start(at(last_day + timedelta(days=3), "10:00"), 30, NOW, CLINIC, scheduler)
    assert rejection is not None
    assert rejection.reason is RejectReason.TOO_FAR_AHEAD
