"""A warm transfer's briefing and progress in the database, on both backends: any process
may get the staff leg's status callbacks, and only one acts on each step."""

from __future__ import annotations

from datetime import timedelta

from receptionist.scheduling.backend import TRANSFER_TTL
from receptionist.scheduling.store import AppointmentStore
from tests.helpers.clinic import Clock

SID = "CA" + "1" * 32
STAFF_SID = "CA" + "9" * 32
BRIEF = '{"caller": "+15551234567", "name": "Maria Garcia", "done": [], "why": ""}'


def test_the_briefing_is_kept_with_the_outcome(store: AppointmentStore) -> None:
    store.save_outcome(SID, ("transfer", "+15550001111", BRIEF))
    assert store.take_outcome(SID) == ("transfer", "+15550001111", BRIEF)


def test_each_step_is_taken_once(make_store) -> None:  # type: ignore[no-untyped-def]
    first, second = make_store(), make_store()
    first.start_transfer(SID, "+15551234567", "dialling")
    assert first.move_transfer(SID, ("dialling",), "dialling", STAFF_SID) == (
        "+15551234567",
        STAFF_SID,
    )
    assert second.move_transfer(SID, ("dialling", "answered"), "returned") == (
        "+15551234567",
        STAFF_SID,
    )
    assert first.move_transfer(SID, ("dialling", "answered"), "returned") is None
    assert second.move_transfer(SID, ("returned",), "ended") == ("+15551234567", STAFF_SID)


def test_an_unknown_transfer_does_not_move(store: AppointmentStore) -> None:
    assert store.move_transfer(SID, ("dialling",), "joined") is None


def test_a_transfer_started_again_starts_afresh(store: AppointmentStore) -> None:
    store.start_transfer(SID, "+15551234567", "dialling")
    store.move_transfer(SID, ("dialling",), "returned", STAFF_SID)
    store.start_transfer(SID, "+15551234567", "dialling")
    assert store.move_transfer(SID, ("dialling",), "joined") is not None


def test_old_transfers_are_forgotten(store: AppointmentStore, clock: Clock) -> None:
    store.start_transfer(SID, "+15551234567", "dialling")
    clock.now += TRANSFER_TTL + timedelta(seconds=1)
    store.start_transfer("CA" + "2" * 32, "", "dialling")
    assert store.move_transfer(SID, ("dialling",), "joined") is None
