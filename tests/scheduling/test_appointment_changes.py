"""The appointments store's changes on each backend: bookings, finding a caller's own,
cancellations, moves, and spans blocked outside the store.

Free slots and the SQLite file are in test_store.py.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest

from receptionist.scheduling.messages import Appointment, RejectReason
from receptionist.scheduling.store import AppointmentStore
from tests.helpers.clinic import (
    FRIDAY,
    OTHER_PHONE,
    PHONE,
    SATURDAY,
    TUESDAY,
    WEDNESDAY,
    Clock,
    at,
    book,
    hhmm,
    query,
    reason_of,
)

# --- booking -----------------------------------------------------------------------------


def test_booking_is_stored_and_returned_in_clinic_time(store: AppointmentStore) -> None:
    booked = store.book("check-up", at(TUESDAY, "10:00"), " John Smith ", "(555) 123-4567", "")
    assert booked == Appointment(
        1, at(TUESDAY, "10:00"), at(TUESDAY, "10:30"), "check-up", "John Smith", "+15551234567", ""
    )
    assert store.find_bookings("555-123-4567") == (booked,)


@pytest.mark.parametrize(
    ("service", "start", "name", "phone", "reason"),
    [
        ("massage", at(TUESDAY, "10:00"), "Jo", PHONE, RejectReason.UNKNOWN_SERVICE),
        ("check-up", at(TUESDAY, "10:00"), "  ", PHONE, RejectReason.INVALID),
        ("check-up", at(TUESDAY, "10:00"), "Jo", "unknown", RejectReason.INVALID),
        ("check-up", datetime(2026, 12, 1, 10), "Jo", PHONE, RejectReason.INVALID),
        ("check-up", at(TUESDAY, "10:10"), "Jo", PHONE, RejectReason.INVALID),
        ("check-up", at(TUESDAY, "08:30"), "Jo", PHONE, RejectReason.IN_THE_PAST),
        (
            "check-up",
            at(TUESDAY + timedelta(days=61), "10:00"),
            "Jo",
            PHONE,
            RejectReason.TOO_FAR_AHEAD,
        ),
        ("check-up", at(SATURDAY, "10:00"), "Jo", PHONE, RejectReason.OUTSIDE_HOURS),
        ("check-up", at(FRIDAY, "11:45"), "Jo", PHONE, RejectReason.OUTSIDE_HOURS),
    ],
)
def test_booking_is_validated_before_writing(
    store: AppointmentStore,
    service: str,
    start: datetime,
    name: str,
    phone: str,
    reason: RejectReason,
) -> None:
    assert reason_of(store.book(service, start, name, phone)) is reason
    assert store.appointments(include_past=True) == ()


@pytest.mark.parametrize(
    ("service", "start"),
    [("check-up", "10:00"), ("vaccination", "10:15"), ("check-up", "09:45")],
    ids=["same", "inside", "overlapping-start"],
)
def test_overlapping_booking_is_slot_taken(
    store: AppointmentStore, service: str, start: str
) -> None:
    book(store, at(TUESDAY, "10:00"))  # 10:00-10:30
    outcome = store.book(service, at(TUESDAY, start), "Jane Doe", OTHER_PHONE)
    assert reason_of(outcome) is RejectReason.SLOT_TAKEN
    assert len(store.appointments()) == 1


def test_back_to_back_bookings_are_fine(store: AppointmentStore) -> None:
    book(store, at(TUESDAY, "10:00"))
    book(store, at(TUESDAY, "10:30"), phone=OTHER_PHONE)
    book(store, at(TUESDAY, "09:30"), phone=OTHER_PHONE)
    assert len(store.appointments()) == 3


# --- finding, cancelling, moving ---------------------------------------------------------


def test_find_bookings_only_the_callers_upcoming_ones(
    store: AppointmentStore, clock: Clock
) -> None:
    mine = book(store, at(TUESDAY, "10:00"))
    later = book(store, at(WEDNESDAY, "09:00"))
    book(store, at(TUESDAY, "11:00"), phone=OTHER_PHONE)
    cancelled = book(store, at(WEDNESDAY, "11:00"))
    store.cancel(cancelled.id, PHONE)
    assert store.find_bookings("+1 555 123 4567") == (mine, later)
    clock.now = at(TUESDAY, "10:30")  # the first is over
    assert store.find_bookings(PHONE) == (later,)


def test_cancel_frees_the_slot_and_keeps_the_row(store: AppointmentStore, database: str) -> None:
    booked = book(store, at(TUESDAY, "10:00"))
    assert store.cancel(booked.id, "1-555-123-4567") == booked
    assert store.appointments() == ()
    book(store, at(TUESDAY, "10:00"), phone=OTHER_PHONE)
    rows = query(database, "SELECT id, cancelled_at FROM appointments ORDER BY id")
    assert rows[0][1] is not None
    assert rows[1][1] is None


def test_cancel_with_the_wrong_phone_is_not_found(store: AppointmentStore) -> None:
    booked = book(store, at(TUESDAY, "10:00"))
    assert reason_of(store.cancel(booked.id, OTHER_PHONE)) is RejectReason.NOT_FOUND
    assert reason_of(store.cancel(999, PHONE)) is RejectReason.NOT_FOUND
    assert store.appointments() == (booked,)


def test_cancel_twice_is_not_found(store: AppointmentStore) -> None:
    booked = book(store, at(TUESDAY, "10:00"))
    store.cancel(booked.id, PHONE)
    assert reason_of(store.cancel(booked.id, PHONE)) is RejectReason.NOT_FOUND


def test_a_started_appointment_cannot_be_cancelled_or_moved(
    store: AppointmentStore, clock: Clock
) -> None:
    booked = book(store, at(TUESDAY, "10:00"))
    clock.now = at(TUESDAY, "10:05")
    assert reason_of(store.cancel(booked.id, PHONE)) is RejectReason.IN_THE_PAST
    moved = store.move(booked.id, PHONE, at(WEDNESDAY, "10:00"))
    assert reason_of(moved) is RejectReason.IN_THE_PAST


def test_move_keeps_the_duration(store: AppointmentStore) -> None:
    booked = book(store, at(TUESDAY, "10:00"))
    moved = store.move(booked.id, PHONE, at(WEDNESDAY, "14:15"))
    assert moved == Appointment(
        booked.id,
        at(WEDNESDAY, "14:15"),
        at(WEDNESDAY, "14:45"),
        "check-up",
        "John Smith",
        PHONE,
        "annual",
    )
    assert store.appointments() == (moved,)
    assert "10:00" in hhmm(store.free_slots("check-up", TUESDAY, earliest=time(10), limit=1))


def test_move_may_overlap_the_appointment_itself(store: AppointmentStore) -> None:
    booked = book(store, at(TUESDAY, "10:00"))
    moved = store.move(booked.id, PHONE, at(TUESDAY, "10:15"))
    assert isinstance(moved, Appointment)
    assert moved.start == at(TUESDAY, "10:15")


@pytest.mark.parametrize(
    ("phone", "new_start", "reason"),
    [
        (PHONE, at(TUESDAY, "11:15"), RejectReason.SLOT_TAKEN),
        (PHONE, at(SATURDAY, "10:00"), RejectReason.OUTSIDE_HOURS),
        (PHONE, at(TUESDAY, "08:00"), RejectReason.IN_THE_PAST),
        (OTHER_PHONE, at(WEDNESDAY, "10:00"), RejectReason.NOT_FOUND),
    ],
)
def test_a_rejected_move_changes_nothing(
    store: AppointmentStore, phone: str, new_start: datetime, reason: RejectReason
) -> None:
    booked = book(store, at(TUESDAY, "10:00"))
    other = book(store, at(TUESDAY, "11:00"), phone=OTHER_PHONE)
    assert reason_of(store.move(booked.id, phone, new_start)) is reason
    assert store.appointments() == (booked, other)


# --- spans blocked outside the store (the clinic's calendar) ------------------------------


def test_a_booking_into_a_blocked_span_is_slot_taken(store: AppointmentStore) -> None:
    meeting = (at(TUESDAY, "10:15").astimezone(UTC), at(TUESDAY, "11:00"))  # any zone
    outcome = store.book("check-up", at(TUESDAY, "10:00"), "Jo", PHONE, blocked=[meeting])
    assert reason_of(outcome) is RejectReason.SLOT_TAKEN
    assert isinstance(store.book("check-up", at(TUESDAY, "11:00"), "Jo", PHONE,
                                 blocked=[meeting]), Appointment)  # fmt: skip
    assert len(store.appointments()) == 1


def test_a_move_into_a_blocked_span_is_slot_taken(store: AppointmentStore) -> None:
    booked = book(store, at(TUESDAY, "10:00"))
    blocked = [(at(WEDNESDAY, "09:00"), at(WEDNESDAY, "12:00"))]
    outcome = store.move(booked.id, PHONE, at(WEDNESDAY, "11:45"), blocked=blocked)
    assert reason_of(outcome) is RejectReason.SLOT_TAKEN
    assert store.appointments() == (booked,)
