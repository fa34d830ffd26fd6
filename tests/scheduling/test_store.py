"""The appointments store on each backend: its SQLite file, free slots, blocked spans, the
CLI listing. Bookings, cancellations and moves are in test_appointment_changes.py.

Races are in test_races.py, the outbox in test_outbox.py, schemas in
test_migrations.py.
"""

from __future__ import annotations

import sqlite3
from datetime import time, timedelta
from pathlib import Path

import pytest

from receptionist.errors import StoreUnavailable
from receptionist.scheduling.listing import format_booking, list_bookings_lines
from receptionist.scheduling.messages import Appointment, RejectReason
from receptionist.scheduling.migrations import LATEST
from receptionist.scheduling.store import AppointmentStore
from tests.helpers.clinic import (
    FRIDAY,
    PHONE,
    SATURDAY,
    TUESDAY,
    TZ,
    WEDNESDAY,
    Clock,
    at,
    book,
    clinic_config,
    hhmm,
    reason_of,
)


@pytest.fixture
def sqlite_path(tmp_path: Path) -> Path:
    return tmp_path / "data" / "appointments.sqlite3"


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


# --- spans blocked outside the store (the clinic's calendar) ------------------------------


def test_blocked_spans_are_not_offered(store: AppointmentStore) -> None:
    lunch = (at(TUESDAY, "09:30"), at(TUESDAY, "10:00"))
    slots = store.free_slots("check-up", TUESDAY, limit=4, near=time(9, 30), blocked=[lunch])
    assert hhmm(slots) == ["09:00", "10:00", "10:15", "10:30"]


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
