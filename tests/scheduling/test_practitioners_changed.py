"""Practitioners configured, or removed, while appointments are booked, on each backend: an
appointment booked with the clinic as a whole (before any practitioner was configured, or
after they were all removed) holds the slot for everyone, and one booked with a
practitioner holds it against a booking with the clinic as a whole."""

from __future__ import annotations

from receptionist.scheduling.messages import Appointment, RejectReason
from receptionist.scheduling.store import AppointmentStore
from tests.helpers.clinic import (
    OTHER_PHONE,
    PRACTITIONERS,
    TUESDAY,
    Clock,
    at,
    book,
    clinic_config,
    reason_of,
)


def store_of(database: str, clock: Clock, *, staffed: bool) -> AppointmentStore:
    config = clinic_config(database, practitioners=PRACTITIONERS if staffed else None)
    return AppointmentStore(config, now=clock, outbox_clock=clock)


def test_a_booking_made_before_practitioners_holds_its_slot_for_all_of_them(
    database: str, clock: Clock
) -> None:
    with store_of(database, clock, staffed=False) as before:
        assert book(before, at(TUESDAY, "14:00")).practitioner == ""
    with store_of(database, clock, staffed=True) as after:
        offered = after.free_slots("check-up", TUESDAY, earliest=at(TUESDAY, "14:00").time())
        assert isinstance(offered, tuple), offered
        assert at(TUESDAY, "14:00") not in offered
        for who in ("", "Dr. Patel", "Dr. Chen"):
            again = after.book("check-up", at(TUESDAY, "14:15"), "Bob", OTHER_PHONE,
                               practitioner=who)  # fmt: skip
            assert reason_of(again) is RejectReason.SLOT_TAKEN, who
        assert len(after.appointments()) == 1


def test_a_practitioners_booking_holds_its_slot_once_practitioners_are_removed(
    database: str, clock: Clock
) -> None:
    with store_of(database, clock, staffed=True) as before:
        booked = before.book("check-up", at(TUESDAY, "14:00"), "Ann", OTHER_PHONE)
        assert isinstance(booked, Appointment), booked
        assert booked.practitioner == "Dr. Patel"
    with store_of(database, clock, staffed=False) as after:
        offered = after.free_slots("check-up", TUESDAY, earliest=at(TUESDAY, "14:00").time())
        assert isinstance(offered, tuple), offered
        assert at(TUESDAY, "14:00") not in offered
        again = after.book("check-up", at(TUESDAY, "14:15"), "Bob", OTHER_PHONE)
        assert reason_of(again) is RejectReason.SLOT_TAKEN
        assert len(after.appointments()) == 1


def test_upcoming_appointments_of_a_practitioner_no_longer_configured_are_found(
    database: str, clock: Clock
) -> None:
    """Renamed or removed from [[practitioners]], their appointments hold nobody's time any
    more: the server says so as it starts (runtime.py), so staff rebook or rename back."""
    with store_of(database, clock, staffed=True) as before:
        before.book("check-up", at(TUESDAY, "10:00"), "Ann", OTHER_PHONE, practitioner="Dr. Patel")
        before.book("check-up", at(TUESDAY, "11:00"), "Bob", OTHER_PHONE, practitioner="Dr. Patel")
        before.book("check-up", at(TUESDAY, "14:00"), "Cy", OTHER_PHONE, practitioner="Dr. Chen")
        assert before.unknown_practitioners() == {}
    renamed = [{**PRACTITIONERS[0], "name": "Dr. Priya Patel"}, PRACTITIONERS[1]]
    config = clinic_config(database, practitioners=renamed)
    with AppointmentStore(config, now=clock, outbox_clock=clock) as after:
        assert after.unknown_practitioners() == {"Dr. Patel": 2}
    with store_of(database, clock, staffed=False) as unstaffed:
        assert unstaffed.unknown_practitioners() == {"Dr. Patel": 2, "Dr. Chen": 1}
