"""Phone numbers in one form (E.164), whichever way the caller gave them (issue 10)."""

from __future__ import annotations

from typing import Any

import pytest

from receptionist.config import parse_config
from receptionist.errors import ConfigError
from receptionist.offline import phrasing
from receptionist.scheduling.store import AppointmentStore
from tests.helpers.clinic import TUESDAY, at


def test_a_keyed_number_finds_the_booking_by_caller_id(store: AppointmentStore) -> None:
    store.book("check-up", at(TUESDAY, "10:00"), "John Smith", "5551234567")
    found = store.find_bookings("+15551234567")
    assert [appointment.phone for appointment in found] == ["+15551234567"]
    assert store.find_bookings("(555) 123-4567") == found


@pytest.mark.parametrize(
    ("number", "region", "read"),
    [
        ("+15551234567", "US", "5 5 5, 1 2 3, 4 5 6 7"),
        ("+447700900123", "GB", "0 7 7 0 0, 9 0 0 1 2 3"),
        ("+447700900123", "US", "4 4, 7 7 0 0, 9 0 0 1 2 3"),
    ],
)
def test_numbers_are_read_back_digit_by_digit_in_groups(
    number: str, region: str, read: str
) -> None:
    assert phrasing.phone_number(number, region) == read


def test_the_clinic_country_is_checked() -> None:
    raw: dict[str, Any] = {
        "clinic": {"hours": {"monday": "09:00-17:00"}},
        "services": [{"name": "check-up", "minutes": 30}],
    }
    assert parse_config(raw).clinic.country == "US"
    raw["clinic"]["country"] = "gb"
    assert parse_config(raw).clinic.country == "GB"
    raw["clinic"]["country"] = "XX"
    with pytest.raises(ConfigError, match="country"):
        parse_config(raw)
