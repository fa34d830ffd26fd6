"""The appointments store on each backend: slots, bookings, cancellations, moves, blocked spans.

Races are in test_appointment_races.py, the outbox in test_outbox.py, schemas in
test_migrations.py.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, time, timedelta
from pathlib import Path

import pytest

from receptionist.errors import StoreUnavailable
from receptionist.scheduling.listing import format_booking, list_bookings_lines
from receptionist.scheduling.messages import Appointment, RejectReason
from receptionist.scheduling.migrations import LATEST
from receptionist.scheduling.store import AppointmentStore
from tests.helpers.clinic import (
    FRIDAY,
    OTHER_PHONE,
    PHONE,
    SATURDAY,
    TUESDAY,
    TZ,
    WEDNESDAY,
    Clock,
    at,
    book,
    clinic_config,
    query,
    reason_of,
)


@pytest.fixture
def sqlite_path(tmp_path: Path) -> Path:
    return tmp_path / "data" / "appointments.sqlite3"


def hhmm(slots: object) -> list[str]:
    assert isinstance(slots, tuple), slots
    return [f"{s:%H:%M}" for s in slots]


# --- the SQLite file ----------------------------------------------------------------------


def test_database_and_folders_are_created_on_first_use(sqlite_path: Path) -> None:
    store = AppointmentStore(clinic_config(sqlite_path))
    assert not store.exists()
    store.open()
    with sqlite3.connect(sqlite_path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == LATEST
        assert conn.execute("SELECT max(version) FROM schema_version").fetchone()[0] == LATEST


def test_a_newer_schema_is_refused(sqlite_path: Path) -> None:
    sqlite_path.parent.mkdir(parents=True)
    with sqlite3.connect(sqlite_path) as conn:
        conn.execute(f"PRAGMA user_version = {LATEST + 1}")
    with pytest.raises(StoreUnavailable, match="newer"):
        AppointmentStore(clinic_config(sqlite_path)).open()


def test_a_corrupt_file_is_store_unavailable(sqlite_path: Path) -> None:
    sqlite_path.parent.mkdir(parents=True)
    sqlite_path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(StoreUnavailable) as caught:
        AppointmentStore(clinic_config(sqlite_path)).find_bookings(PHONE)
    assert isinstance(caught.value.__cause__, sqlite3.DatabaseError)


def test_a_store_on_a_path_that_cannot_be_a_folder_is_unavailable(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    store = AppointmentStore(clinic_config(tmp_path / "file" / "db.sqlite3"))
    with pytest.raises(StoreUnavailable):
        store.open()


# --- free slots --------------------------------------------------------------------------


def test_free_slots_start_at_opening_with_enough_notice(store: AppointmentStore) -> None:
    assert hhmm(store.free_slots("check-up", TUESDAY, limit=20))[:3] == ["09:00", "09:15", "09:30"]


def test_free_slots_avoid_bookings_by_duration(store: AppointmentStore) -> None:
    book(store, at(TUESDAY, "10:00"))  # 10:00-10:30
    slots = store.free_slots("check-up", TUESDAY, earliest=time(9, 15), limit=4, near=time(10))
    assert hhmm(slots) == ["09:15", "09:30", "10:30", "10:45"]
    slots = store.free_slots("vaccination", TUESDAY, earliest=time(9, 45), near=time(10))
    assert hhmm(slots) == ["09:45", "10:30", "10:45"]


def test_free_slots_end_by_closing_time(store: AppointmentStore) -> None:
    slots = store.free_slots("check-up", FRIDAY, earliest=time(11, 0), limit=10)
    assert hhmm(slots) == ["11:00", "11:15", "11:30"]


def test_free_slots_are_clinic_local(store: AppointmentStore) -> None:
    slots = store.free_slots("check-up", TUESDAY, limit=1)
    assert isinstance(slots, tuple)
    assert slots[0] == at(TUESDAY, "09:00")
    assert slots[0].tzinfo is TZ


def test_free_slots_respect_notice_later_in_the_day(store: AppointmentStore, clock: Clock) -> None:
    clock.now = at(TUESDAY, "13:05")
    assert hhmm(store.free_slots("vaccination", TUESDAY, limit=2)) == ["14:15", "14:30"]


def test_no_free_slots_on_a_closed_day(store: AppointmentStore) -> None:
    assert store.free_slots("check-up", SATURDAY) == ()
    assert not store.is_open_on(SATURDAY)
    assert store.is_open_on(TUESDAY)


@pytest.mark.parametrize(
    ("service", "day", "reason"),
    [
        ("massage", TUESDAY, RejectReason.UNKNOWN_SERVICE),
        ("check-up", TUESDAY - timedelta(days=1), RejectReason.IN_THE_PAST),
        ("check-up", TUESDAY + timedelta(days=61), RejectReason.TOO_FAR_AHEAD),
    ],
)
def test_free_slots_rejections(
    store: AppointmentStore, service: str, day: object, reason: RejectReason
) -> None:
    assert reason_of(store.free_slots(service, day)) is reason  # type: ignore[arg-type]


def test_a_full_day_has_no_free_slots(store: AppointmentStore) -> None:
    for hour in range(9, 17):
        book(store, at(WEDNESDAY, f"{hour:02}:00"))
        book(store, at(WEDNESDAY, f"{hour:02}:30"))
    assert store.free_slots("vaccination", WEDNESDAY) == ()


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


def test_blocked_spans_are_not_offered(store: AppointmentStore) -> None:
    lunch = (at(TUESDAY, "09:30"), at(TUESDAY, "10:00"))
    slots = store.free_slots("check-up", TUESDAY, limit=4, near=time(9, 30), blocked=[lunch])
    assert hhmm(slots) == ["09:00", "10:00", "10:15", "10:30"]


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


# --- the CLI listing ---------------------------------------------------------------------


def test_format_booking() -> None:
    appointment = Appointment(
        7, at(TUESDAY, "10:00"), at(TUESDAY, "10:30"), "check-up", "John Smith", PHONE, "x"
    )
    assert format_booking(appointment) == "2026-12-01  10:00  check-up  John Smith  +15551234567"


def test_list_bookings_lines_sorted_without_cancelled_or_past(
    store: AppointmentStore, clock: Clock, database: str
) -> None:
    book(store, at(WEDNESDAY, "09:00"), "vaccination")
    book(store, at(TUESDAY, "10:00"))
    store.cancel(book(store, at(TUESDAY, "09:00")).id, PHONE)
    clock.now = at(TUESDAY, "12:00")
    config = clinic_config(database)
    assert list_bookings_lines(config, now=clock) == [
        "2026-12-02  09:00  vaccination  John Smith  +15551234567"
    ]
    assert len(list_bookings_lines(config, include_past=True, now=clock)) == 2


def test_list_bookings_lines_creates_no_database(sqlite_path: Path) -> None:
    assert list_bookings_lines(clinic_config(sqlite_path)) == []
    assert not sqlite_path.parent.exists()
