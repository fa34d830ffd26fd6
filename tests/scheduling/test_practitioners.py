"""Booking with practitioners ([[practitioners]]), on each backend: a slot is free while
someone doing the service is; each booking is with one of them; nobody is booked twice."""

from __future__ import annotations

import multiprocessing
from collections.abc import Iterator
from datetime import timedelta
from functools import partial

import pytest

from receptionist.scheduling.messages import Appointment, RejectReason
from receptionist.scheduling.store import AppointmentStore, Rejection
from tests.helpers.clinic import (
    OTHER_PHONE,
    PHONE,
    PRACTITIONERS,
    TUESDAY,
    WEDNESDAY,
    Clock,
    at,
    book_in_turns,
    clinic_config,
    reason_of,
)
from tests.helpers.races import race

PATEL, CHEN = "Dr. Patel", "Dr. Chen"


@pytest.fixture
def staffed(database: str, clock: Clock) -> Iterator[list[AppointmentStore]]:
    """Two stores (as two processes would have) of the clinic with PRACTITIONERS."""
    config = clinic_config(database, practitioners=PRACTITIONERS)
    stores = [AppointmentStore(config, now=clock, outbox_clock=clock) for _ in range(2)]
    yield stores
    for store in stores:
        store.close()


def booked_with(outcome: Appointment | Rejection) -> str:
    assert isinstance(outcome, Appointment), outcome
    return outcome.practitioner


def times(slots: object) -> list[str]:
    assert isinstance(slots, tuple), slots
    return [f"{start:%H:%M}" for start in slots]


def test_a_booking_is_with_the_first_free_practitioner_doing_the_service(
    staffed: list[AppointmentStore],
) -> None:
    store = staffed[0]
    afternoon = at(TUESDAY, "14:00")
    assert booked_with(store.book("check-up", afternoon, "Ann", PHONE)) == PATEL
    assert booked_with(store.book("check-up", afternoon, "Bob", OTHER_PHONE)) == CHEN
    third = store.book("check-up", afternoon, "Cy", PHONE)
    assert reason_of(third) is RejectReason.SLOT_TAKEN
    assert [a.practitioner for a in staffed[1].appointments()] == [PATEL, CHEN]


def test_only_someone_working_and_doing_the_service_is_booked(
    staffed: list[AppointmentStore],
) -> None:
    store = staffed[0]
    morning = at(TUESDAY, "10:00")  # Dr. Chen works Tuesday afternoons only
    assert booked_with(store.book("check-up", morning, "Ann", PHONE)) == PATEL
    assert reason_of(store.book("check-up", morning, "Bob", PHONE)) is RejectReason.SLOT_TAKEN
    vaccination = store.book("vaccination", morning, "Bob", PHONE)
    assert reason_of(vaccination) is RejectReason.OUTSIDE_HOURS  # only Dr. Chen vaccinates
    assert booked_with(store.book("vaccination", at(TUESDAY, "13:00"), "Bob", PHONE)) == CHEN


def test_a_named_practitioner_is_booked_or_the_slot_is_taken(
    staffed: list[AppointmentStore],
) -> None:
    store = staffed[0]
    afternoon = at(TUESDAY, "14:00")
    asked = store.book("check-up", afternoon, "Ann", PHONE, practitioner="dr.  chen")
    assert booked_with(asked) == CHEN
    again = store.book("check-up", afternoon, "Bob", PHONE, practitioner=CHEN)
    assert reason_of(again) is RejectReason.SLOT_TAKEN  # though Dr. Patel is free
    unknown = store.book("check-up", afternoon, "Bob", PHONE, practitioner="Dr. Who")
    assert isinstance(unknown, Rejection)
    assert "Dr. Who" in unknown.detail
    not_theirs = store.book("consultation", afternoon, "Bob", PHONE, practitioner=CHEN)
    assert isinstance(not_theirs, Rejection)
    assert not_theirs.detail == "Dr. Chen does not do consultation (ask for: Dr. Patel)"


def test_free_slots_are_those_where_someone_is_free(staffed: list[AppointmentStore]) -> None:
    store = staffed[0]
    for hhmm in ("09:00", "13:00"):
        store.book("check-up", at(TUESDAY, hhmm), "Ann", PHONE, practitioner=PATEL)
    near = partial(store.free_slots, "check-up", TUESDAY, limit=3)
    assert times(near(near=at(TUESDAY, "09:00").time())) == ["09:30", "09:45", "10:00"]
    assert times(near(near=at(TUESDAY, "13:00").time())) == ["12:30", "13:00", "13:15"]
    chen = times(near(practitioner=CHEN, near=at(TUESDAY, "09:00").time()))
    assert chen == ["13:00", "13:15", "13:30"]
    patel = times(near(practitioner=PATEL, near=at(TUESDAY, "13:00").time()))
    assert patel == ["12:15", "12:30", "13:30"]


def test_moves_keep_the_practitioner_or_find_another(staffed: list[AppointmentStore]) -> None:
    store = staffed[0]
    first = store.book("check-up", at(WEDNESDAY, "10:00"), "Ann", PHONE, practitioner=CHEN)
    assert isinstance(first, Appointment)
    moved = store.move(first.id, PHONE, at(WEDNESDAY, "11:00"))
    assert booked_with(moved) == CHEN
    store.book("check-up", at(WEDNESDAY, "15:00"), "Bob", OTHER_PHONE, practitioner=CHEN)
    reassigned = store.move(first.id, PHONE, at(WEDNESDAY, "15:00"))
    assert booked_with(reassigned) == PATEL
    blocked = store.book("check-up", at(WEDNESDAY, "15:00"), "Cy", OTHER_PHONE)
    assert reason_of(blocked) is RejectReason.SLOT_TAKEN
    assert isinstance(store.cancel(first.id, PHONE), Appointment)
    assert booked_with(store.book("check-up", at(WEDNESDAY, "15:00"), "Cy", PHONE)) == PATEL


@pytest.mark.parametrize("repeat", range(3))
def test_threads_racing_for_one_practitioners_slot_one_wins(
    staffed: list[AppointmentStore], repeat: int
) -> None:
    day = TUESDAY + timedelta(days=7 * repeat)
    threads = 16
    outcomes = race(
        [staffed[i % 2] for i in range(threads)],
        [lambda s, i=i: s.book("check-up", at(day, "14:00"), f"Caller {i}", PHONE,
                               practitioner=CHEN)
         for i in range(threads)],
    )  # fmt: skip
    winners = [o for o in outcomes if isinstance(o, Appointment)]
    assert [w.practitioner for w in winners] == [CHEN]
    assert {reason_of(o) for o in outcomes if o not in winners} == {RejectReason.SLOT_TAKEN}


@pytest.mark.parametrize("repeat", range(3))
def test_threads_racing_for_a_slot_two_practitioners_share_two_win(
    staffed: list[AppointmentStore], repeat: int
) -> None:
    day = TUESDAY + timedelta(days=7 * repeat)
    threads = 16
    outcomes = race(
        [staffed[i % 2] for i in range(threads)],
        [lambda s, i=i: s.book("check-up", at(day, "14:00"), f"Caller {i}", PHONE)
         for i in range(threads)],
    )  # fmt: skip
    winners = sorted(o.practitioner for o in outcomes if isinstance(o, Appointment))
    assert winners == [CHEN, PATEL]
    assert sorted(a.practitioner for a in staffed[0].appointments()) == [CHEN, PATEL]


@pytest.mark.parametrize(("practitioner", "winners"), [(CHEN, [CHEN]), ("", [CHEN, PATEL])])
def test_two_processes_racing_one_winner_per_practitioner(
    database: str, clock: Clock, practitioner: str, winners: list[str]
) -> None:
    context = multiprocessing.get_context("spawn")
    contenders = 3
    barrier, results = context.Barrier(contenders), context.Queue()
    days = [TUESDAY + timedelta(days=7 * week) for week in range(3)]
    run = partial(book_in_turns, hhmm="14:00", staffed=True, practitioner=practitioner)
    args = (database, clock.now, days, barrier, results)
    processes = [context.Process(target=run, args=args) for _ in range(contenders)]
    for process in processes:
        process.start()
    outcomes = [results.get(timeout=60) for _ in range(contenders * len(days))]
    for process in processes:
        process.join(timeout=30)
    for day in days:
        won = sorted(who for when, kind, who in outcomes if when == day and kind == "Appointment")
        assert won == winners
