"""Offered times spread over the day, or nearest the time asked for (issue 10)."""

from __future__ import annotations

from datetime import time

from receptionist.scheduling.store import AppointmentStore
from tests.helpers.clinic import TUESDAY, at


def hhmm(store: AppointmentStore, **options: object) -> list[str]:
    slots = store.free_slots("check-up", TUESDAY, **options)  # type: ignore[arg-type]
    assert isinstance(slots, tuple)
    return [f"{slot:%H:%M}" for slot in slots]


def test_times_are_spread_over_the_morning_midday_and_afternoon(store: AppointmentStore) -> None:
    assert hhmm(store) == ["09:00", "12:00", "14:00"]


def test_a_busy_midday_still_offers_one_in_each_part_left(store: AppointmentStore) -> None:
    for hour in ("12:00", "12:30", "13:00", "13:30"):
        store.book("check-up", at(TUESDAY, hour), "John Smith", "5551234567")
    assert hhmm(store) == ["09:00", "09:15", "14:00"]


def test_times_nearest_the_one_asked_for(store: AppointmentStore) -> None:
    store.book("check-up", at(TUESDAY, "14:00"), "John Smith", "5551234567")
    assert hhmm(store, near=time(14)) == ["13:15", "13:30", "14:30"]
