"""Call outcomes in the database, for /call-ended on whichever process Twilio reaches."""

from __future__ import annotations

from datetime import timedelta

from receptionist.scheduling.backend import OUTCOME_TTL
from receptionist.scheduling.store import AppointmentStore
from tests.helpers.clinic import Clock

SID = "CA" + "1" * 32


def test_an_outcome_is_taken_once(store: AppointmentStore) -> None:
    store.save_outcome(SID, ("transfer", "+15550001111", None))
    assert store.take_outcome(SID) == ("transfer", "+15550001111", None)
    assert store.take_outcome(SID) is None


def test_another_process_takes_the_outcome(make_store) -> None:  # type: ignore[no-untyped-def]
    make_store().save_outcome(SID, ("error", None, None))
    assert make_store().take_outcome(SID) == ("error", None, None)


def test_a_second_outcome_replaces_the_first(store: AppointmentStore) -> None:
    store.save_outcome(SID, ("completed", None, None))
    store.save_outcome(SID, ("error", None, None))
    assert store.take_outcome(SID) == ("error", None, None)


def test_old_outcomes_are_forgotten(store: AppointmentStore, clock: Clock) -> None:
    store.save_outcome(SID, ("completed", None, None))
    clock.now += OUTCOME_TTL + timedelta(seconds=1)
    store.save_outcome("CA" + "2" * 32, ("completed", None, None))
    assert store.take_outcome(SID) is None
    assert store.take_outcome("CA" + "2" * 32) == ("completed", None, None)
