"""The Scheduler actor over memory channels, with a real store on each backend (a SQLite
file in a temporary folder, a database of the test PostgreSQL cluster).

No ``autojump_clock`` here: the store runs in worker threads, and a mock clock that jumps
whenever every task waits would fire ``fail_after`` while a thread is still working.
Nothing in the actor is timed, so real time with a generous deadline is the honest check.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from datetime import time
from pathlib import Path

import psycopg
import pytest
import trio
import trio.testing
from structlog.testing import capture_logs

from receptionist.scheduling.messages import (
    BookingCancelled,
    BookingConfirmed,
    BookingMoved,
    BookingRejected,
    BookingsFound,
    BookSlot,
    CancelBooking,
    FindBookings,
    FindFreeSlots,
    FreeSlots,
    LeaveMessage,
    MessageReason,
    MessageSaved,
    MoveBooking,
    RejectReason,
    SchedulerReply,
    SchedulerRequest,
)
from receptionist.scheduling.store import AppointmentStore
from stages.scheduler import run_scheduler
from tests.helpers.clinic import (
    OTHER_PHONE,
    PHONE,
    SATURDAY,
    TUESDAY,
    WEDNESDAY,
    Clock,
    at,
    clinic_config,
)

DEADLINE_S = 10
BUFFER = 8


@dataclass
class Scheduler:
    requests: trio.MemorySendChannel[SchedulerRequest]
    replies: trio.MemoryReceiveChannel[SchedulerReply]

    async def ask(self, request: SchedulerRequest) -> SchedulerReply:
        await self.requests.send(request)
        reply = await self.replies.receive()
        assert reply.request_id == request.request_id
        return reply


@asynccontextmanager
async def running_scheduler(store: AppointmentStore) -> AsyncIterator[Scheduler]:
    send_requests, receive_requests = trio.open_memory_channel[SchedulerRequest](BUFFER)
    send_replies, receive_replies = trio.open_memory_channel[SchedulerReply](BUFFER)
    async with trio.open_nursery() as nursery:
        await nursery.start(
            lambda task_status: run_scheduler(
                receive_requests, send_replies, store=store, task_status=task_status
            )
        )
        with send_requests, receive_replies:
            yield Scheduler(send_requests, receive_replies)


@pytest.fixture
def sqlite_store(tmp_path: Path) -> AppointmentStore:
    database = tmp_path / "data" / "appointments.sqlite3"
    return AppointmentStore(clinic_config(database), now=Clock(at(TUESDAY, "08:00")))


@contextmanager
def another_writer(database: str) -> Iterator[None]:
    """Hold the appointments' write lock from another connection until the block ends."""
    if database.startswith("postgresql://"):
        password = os.environ["RECEPTIONIST_DATABASE_PASSWORD"]  # set by postgres_cluster
        with psycopg.connect(database, password=password) as conn:
            conn.execute("LOCK TABLE appointments IN EXCLUSIVE MODE")  # blocks INSERT
            yield
        return
    blocker = sqlite3.connect(database, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    try:
        yield
    finally:
        blocker.execute("COMMIT")
        blocker.close()


def book_request(request_id: int, hhmm: str, phone: str = PHONE) -> BookSlot:
    return BookSlot(request_id, "check-up", at(TUESDAY, hhmm), "John Smith", phone, "annual")


async def test_started_means_the_database_exists(sqlite_store: AppointmentStore) -> None:
    with trio.fail_after(DEADLINE_S):
        async with running_scheduler(sqlite_store):
            assert await trio.Path(sqlite_store.location).exists()


async def test_a_booking_conversation(store: AppointmentStore) -> None:
    with trio.fail_after(DEADLINE_S):
        async with running_scheduler(store) as scheduler:
            free = await scheduler.ask(FindFreeSlots(1, "check-up", TUESDAY, time(10), 2))
            # Spread over the day: the morning's first, then midday's.
            assert free == FreeSlots(1, TUESDAY, (at(TUESDAY, "10:00"), at(TUESDAY, "12:00")), True)
            booked = await scheduler.ask(book_request(2, "10:00"))
            assert isinstance(booked, BookingConfirmed)
            found = await scheduler.ask(FindBookings(3, PHONE))
            assert found == BookingsFound(3, (booked.appointment,))
            moved = await scheduler.ask(
                MoveBooking(4, booked.appointment.id, PHONE, at(WEDNESDAY, "11:00"))
            )
            assert isinstance(moved, BookingMoved)
            assert moved.appointment.start == at(WEDNESDAY, "11:00")
            cancelled = await scheduler.ask(CancelBooking(5, booked.appointment.id, PHONE))
            assert cancelled == BookingCancelled(5, moved.appointment)
            assert await scheduler.ask(FindBookings(6, PHONE)) == BookingsFound(6, ())


async def test_rejections_carry_their_reason(store: AppointmentStore) -> None:
    with trio.fail_after(DEADLINE_S):
        async with running_scheduler(store) as scheduler:
            await scheduler.ask(book_request(1, "10:00"))
            taken = await scheduler.ask(book_request(2, "10:15", OTHER_PHONE))
            assert isinstance(taken, BookingRejected)
            assert taken.reason is RejectReason.SLOT_TAKEN
            not_mine = await scheduler.ask(CancelBooking(3, 1, OTHER_PHONE))
            assert isinstance(not_mine, BookingRejected)
            assert not_mine.reason is RejectReason.NOT_FOUND
            unknown = await scheduler.ask(FindFreeSlots(4, "massage", TUESDAY))
            assert isinstance(unknown, BookingRejected)
            assert unknown.reason is RejectReason.UNKNOWN_SERVICE


async def test_a_closed_day_is_reported(store: AppointmentStore) -> None:
    with trio.fail_after(DEADLINE_S):
        async with running_scheduler(store) as scheduler:
            reply = await scheduler.ask(FindFreeSlots(1, "check-up", SATURDAY))
            assert reply == FreeSlots(1, SATURDAY, (), open_on_day=False)


async def test_a_store_failure_is_answered_and_the_next_request_served(
    sqlite_store: AppointmentStore,
) -> None:
    path = trio.Path(sqlite_store.location)
    with trio.fail_after(DEADLINE_S), capture_logs() as logs:
        async with running_scheduler(sqlite_store) as scheduler:
            await path.write_bytes(b"not a database" * 100)
            failed = await scheduler.ask(book_request(1, "10:00"))
            assert isinstance(failed, BookingRejected)
            assert failed.reason is RejectReason.STORE_UNAVAILABLE
            await path.unlink()  # the disk comes back; the store recreates the schema
            assert isinstance(await scheduler.ask(book_request(2, "10:00")), BookingConfirmed)
    failures = [e for e in logs if e["event"] == "scheduler.store_unavailable"]
    assert [(e["log_level"], e["during"]) for e in failures] == [("warning", "BookSlot")]


async def test_a_store_that_cannot_open_still_starts_and_answers(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    store = AppointmentStore(clinic_config(tmp_path / "file" / "appointments.sqlite3"))
    with trio.fail_after(DEADLINE_S), capture_logs() as logs:
        async with running_scheduler(store) as scheduler:
            reply = await scheduler.ask(FindBookings(1, PHONE))
            assert isinstance(reply, BookingRejected)
            assert reply.reason is RejectReason.STORE_UNAVAILABLE
    assert [e["during"] for e in logs if e["event"] == "scheduler.store_unavailable"] == [
        "open",
        "FindBookings",
    ]


async def test_a_message_is_saved_or_its_failure_answered(
    store: AppointmentStore, tmp_path: Path
) -> None:
    message = LeaveMessage(1, "CA1", "Jane Doe", PHONE, "my results", MessageReason.ASKED)
    with trio.fail_after(DEADLINE_S):
        async with running_scheduler(store) as scheduler:
            saved = await scheduler.ask(message)
            assert isinstance(saved, MessageSaved)
        (tmp_path / "file").write_text("")
        broken = AppointmentStore(clinic_config(tmp_path / "file" / "appointments.sqlite3"))
        async with running_scheduler(broken) as scheduler:
            failed = await scheduler.ask(message)
    assert isinstance(failed, BookingRejected)
    assert failed.reason is RejectReason.STORE_UNAVAILABLE


async def test_closing_requests_ends_the_actor_and_closes_replies(store: AppointmentStore) -> None:
    send_requests, receive_requests = trio.open_memory_channel[SchedulerRequest](BUFFER)
    send_replies, receive_replies = trio.open_memory_channel[SchedulerReply](BUFFER)
    with trio.fail_after(DEADLINE_S):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(lambda: run_scheduler(receive_requests, send_replies, store=store))
            await send_requests.send(FindBookings(1, PHONE))
            send_requests.close()
            assert await receive_replies.receive() == BookingsFound(1, ())
            with pytest.raises(trio.EndOfChannel):
                await receive_replies.receive()


async def test_a_cancelled_call_still_finishes_the_booking_write(
    store: AppointmentStore, database: str
) -> None:
    send_requests, receive_requests = trio.open_memory_channel[SchedulerRequest](BUFFER)
    send_replies, receive_replies = trio.open_memory_channel[SchedulerReply](BUFFER)
    with trio.fail_after(DEADLINE_S):
        store.open()
        with trio.CancelScope() as call:
            async with trio.open_nursery() as nursery:
                await nursery.start(
                    lambda task_status: run_scheduler(
                        receive_requests, send_replies, store=store, task_status=task_status
                    )
                )
                # Another writer holds the lock, so the booking is in its thread, waiting.
                with another_writer(database):
                    await send_requests.send(book_request(1, "10:00"))
                    await trio.testing.wait_all_tasks_blocked()
                    call.cancel()  # the caller hangs up mid-booking
        assert call.cancelled_caught
    assert [a.start for a in store.appointments()] == [at(TUESDAY, "10:00")]
    with pytest.raises(trio.EndOfChannel):
        receive_replies.receive_nowait()  # no reply: the call is gone
