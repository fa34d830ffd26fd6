"""The outbox on each backend: written in the booking's transaction, claimed once, retried
with backoff, one item per key at a time."""

from __future__ import annotations

import multiprocessing
from datetime import timedelta

import pytest

from receptionist.errors import StoreUnavailable
from receptionist.scheduling.messages import Appointment
from receptionist.scheduling.outbox import OutboxItem
from receptionist.scheduling.store import AppointmentStore
from tests.helpers.clinic import (
    OTHER_PHONE,
    PHONE,
    TUESDAY,
    WEDNESDAY,
    Clock,
    StoreFactory,
    at,
    claim_all,
    query,
    reason_of,
)

TOPICS = ("calendar", "staff")


@pytest.fixture
def store(make_store: StoreFactory) -> AppointmentStore:
    return make_store(outbox_topics=TOPICS)


def book(store: AppointmentStore, hhmm: str, phone: str = PHONE) -> Appointment:
    booked = store.book("check-up", at(TUESDAY, hhmm), "John Smith", phone, "annual")
    assert isinstance(booked, Appointment), booked
    return booked


def actions(items: tuple[OutboxItem, ...]) -> list[tuple[str, str]]:
    return [(item.key, item.payload["action"]) for item in items]


def test_a_booking_adds_one_item_per_topic(store: AppointmentStore) -> None:
    booked = book(store, "10:00")
    for topic in TOPICS:
        (item,) = store.outbox_claim(topic, limit=10, lease_s=60)
        assert (item.topic, item.key, item.attempts) == (topic, f"appointment:{booked.id}", 0)
        assert item.payload == {
            "action": "upsert",
            "appointment": {
                "id": booked.id,
                "start": "2026-12-01T10:00:00-05:00",
                "end": "2026-12-01T10:30:00-05:00",
                "service": "check-up",
                "name": "John Smith",
                "phone": PHONE,
                "reason": "annual",
            },
        }


def test_a_store_without_topics_writes_no_items(make_store: StoreFactory) -> None:
    quiet, watching = make_store(), make_store(outbox_topics=TOPICS)
    assert isinstance(quiet.book("check-up", at(TUESDAY, "10:00"), "Jo", PHONE), Appointment)
    assert watching.outbox_claim("calendar", limit=10, lease_s=60) == ()


def test_a_rejected_booking_writes_no_item(store: AppointmentStore) -> None:
    book(store, "10:00")
    assert reason_of(store.book("check-up", at(TUESDAY, "10:15"), "Jo", OTHER_PHONE))
    assert reason_of(store.book("check-up", at(TUESDAY, "07:00"), "Jo", OTHER_PHONE))
    assert len(store.outbox_claim("calendar", limit=10, lease_s=60)) == 1


def test_a_booking_whose_item_cannot_be_written_is_not_booked(
    store: AppointmentStore, database: str
) -> None:
    store.open()
    query(database, "ALTER TABLE outbox RENAME TO outbox_away")
    try:
        with pytest.raises(StoreUnavailable):
            store.book("check-up", at(TUESDAY, "10:00"), "Jo", PHONE)
        assert store.appointments() == ()
    finally:  # the PostgreSQL database is shared with the next tests
        query(database, "ALTER TABLE outbox_away RENAME TO outbox")


def test_items_of_one_appointment_come_one_at_a_time_in_order(store: AppointmentStore) -> None:
    booked = book(store, "10:00")
    store.move(booked.id, PHONE, at(WEDNESDAY, "11:00"))
    store.cancel(booked.id, PHONE)
    other = book(store, "12:00", OTHER_PHONE)
    key, other_key = f"appointment:{booked.id}", f"appointment:{other.id}"
    seen = []
    while items := store.outbox_claim("calendar", limit=10, lease_s=60):
        seen.append(actions(items))
        for item in items:
            store.outbox_done(item.id)
    assert seen == [
        [(key, "upsert"), (other_key, "upsert")],  # the other appointment is not held back
        [(key, "upsert")],
        [(key, "delete")],
    ]


def test_a_moved_item_carries_the_new_times(store: AppointmentStore) -> None:
    booked = book(store, "10:00")
    store.move(booked.id, PHONE, at(WEDNESDAY, "11:00"))
    (first,) = store.outbox_claim("calendar", limit=10, lease_s=60)
    store.outbox_done(first.id)
    (moved,) = store.outbox_claim("calendar", limit=10, lease_s=60)
    assert moved.payload["appointment"]["start"] == "2026-12-02T11:00:00-05:00"


def test_a_claimed_item_is_not_claimed_again_until_its_lease_runs_out(
    store: AppointmentStore, clock: Clock
) -> None:
    book(store, "10:00")
    (item,) = store.outbox_claim("calendar", limit=10, lease_s=30)
    clock.now += timedelta(seconds=29)
    assert store.outbox_claim("calendar", limit=10, lease_s=30) == ()
    clock.now += timedelta(seconds=1)  # the worker died: the item comes back
    assert store.outbox_claim("calendar", limit=10, lease_s=30) == (item,)


def test_retry_counts_the_failure_and_waits_out_the_delay(
    store: AppointmentStore, clock: Clock, database: str
) -> None:
    book(store, "10:00")
    (item,) = store.outbox_claim("calendar", limit=10, lease_s=60)
    store.outbox_retry(item.id, delay_s=0.5, error="calendar answered 503")
    assert store.outbox_claim("calendar", limit=10, lease_s=60) == ()
    clock.now += timedelta(seconds=0.5)
    (again,) = store.outbox_claim("calendar", limit=10, lease_s=60)
    assert (again.id, again.attempts) == (item.id, 1)
    store.outbox_retry(item.id, delay_s=120, error="x" * 5000)
    clock.now += timedelta(seconds=119)
    assert store.outbox_claim("calendar", limit=10, lease_s=60) == ()
    clock.now += timedelta(seconds=1)
    (third,) = store.outbox_claim("calendar", limit=10, lease_s=60)
    assert third.attempts == 2
    [(last_error,)] = query(database, f"SELECT last_error FROM outbox WHERE id = {item.id}")
    assert last_error == "x" * 2000


def test_retries_follow_the_outbox_clock_while_the_clinic_clock_stands_still(
    make_store: StoreFactory, clock: Clock
) -> None:
    """A replay or a test pins the clinic's clock; a failed calendar write must still come
    back after its backoff, in real time."""
    outbox_clock = Clock(clock.now)
    store = make_store(outbox_topics=TOPICS, outbox_clock=outbox_clock)
    book(store, "10:00")
    (item,) = store.outbox_claim("calendar", limit=10, lease_s=60)
    store.outbox_retry(item.id, delay_s=2, error="calendar down")
    outbox_clock.now += timedelta(seconds=2)
    (again,) = store.outbox_claim("calendar", limit=10, lease_s=60)
    assert (again.id, again.attempts) == (item.id, 1)


def test_waiting_counts_the_items_not_done_whatever_their_state(store: AppointmentStore) -> None:
    assert store.outbox_waiting("calendar") == 0
    book(store, "10:00")
    book(store, "11:00")
    first, second = store.outbox_claim("calendar", limit=10, lease_s=60)
    store.outbox_retry(second.id, delay_s=60, error="calendar down")
    assert store.outbox_waiting("calendar") == 2
    store.outbox_done(first.id)
    assert (store.outbox_waiting("calendar"), store.outbox_waiting("staff")) == (1, 2)


def test_done_items_never_come_back(store: AppointmentStore, clock: Clock) -> None:
    book(store, "10:00")
    (item,) = store.outbox_claim("calendar", limit=10, lease_s=1)
    store.outbox_done(item.id)
    clock.now += timedelta(hours=1)
    assert store.outbox_claim("calendar", limit=10, lease_s=1) == ()
    assert len(store.outbox_claim("staff", limit=10, lease_s=1)) == 1  # topics are separate


def test_claim_takes_at_most_limit_oldest_first(store: AppointmentStore) -> None:
    ids = [book(store, f"{hour}:00").id for hour in (10, 11, 12)]
    first = store.outbox_claim("calendar", limit=2, lease_s=60)
    assert [item.key for item in first] == [f"appointment:{i}" for i in ids[:2]]
    with pytest.raises(ValueError, match="limit"):
        store.outbox_claim("calendar", limit=0, lease_s=60)


def test_two_processes_never_claim_the_same_item(
    store: AppointmentStore, database: str, clock: Clock
) -> None:
    for week in range(8):
        for hhmm in ("10:00", "11:00", "14:00"):
            booked = store.book("check-up", at(TUESDAY + timedelta(weeks=week), hhmm), "Jo", PHONE)
            assert isinstance(booked, Appointment)
    context = multiprocessing.get_context("spawn")
    barrier, results = context.Barrier(2), context.Queue()
    args = (database, clock.now, "calendar", barrier, results)
    processes = [context.Process(target=claim_all, args=args) for _ in range(2)]
    for process in processes:
        process.start()
    claimed = [results.get(timeout=30) for _ in processes]
    for process in processes:
        process.join(timeout=30)
    everything = claimed[0] + claimed[1]
    assert sorted(everything) == sorted(set(everything))  # none twice
    assert len(everything) == 24
