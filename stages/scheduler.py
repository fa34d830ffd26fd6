"""The Scheduler actor: answers the Dialogue's appointment requests from the store, avoiding
the clinic calendar's busy times when there is one, and keeps the messages callers leave."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import assert_never

import structlog
import trio

from receptionist.calendar.busy import BusyTimes, blocked_for
from receptionist.errors import StoreUnavailable
from receptionist.scheduling.messages import (
    Appointment,
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
    MessageSaved,
    MoveBooking,
    RejectReason,
    SchedulerReply,
    SchedulerRequest,
)
from receptionist.scheduling.slots import Span
from receptionist.scheduling.store import AppointmentStore, Rejection

log = structlog.get_logger(__name__)


async def run_scheduler(
    requests: trio.MemoryReceiveChannel[SchedulerRequest],
    replies: trio.MemorySendChannel[SchedulerReply],
    *,
    store: AppointmentStore,
    busy: BusyTimes | None = None,
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Answer each request with exactly one reply carrying its ``request_id``, in order.

    Requests are handled one at a time, so a booking never interleaves with another of the
    same call. Returns when ``requests`` is closed and drained. With a calendar (``busy``),
    its busy times are never offered, and a booking or move first re-reads that day's
    (``blocked_for``: time-boxed, so a slow calendar never holds up the caller for long).

    Resource handling:
        Owns and closes both channel ends. Each request runs in a worker thread (the store
        blocks: SQLite, or PostgreSQL through a connection pool), so the event loop never
        waits on the database. Started once the store has tried to open. The thread is never
        abandoned on cancellation: a write already begun is committed or rolled back as a
        whole (bounded by the backend's timeouts) before ``Cancelled`` propagates, and its
        reply is then lost with the call.

    Error handling:
        ``StoreUnavailable`` (the database cannot be opened, read or written) is logged
        and answered with ``BookingRejected(STORE_UNAVAILABLE)``, so the call goes on and
        the Dialogue can apologise; a store that fails to open at start is logged and
        retried on every request. Anything else (a bug) propagates to the call's error
        boundary. ``Cancelled`` is never caught.
    """
    with requests, replies:
        try:
            await trio.to_thread.run_sync(store.open)
        except StoreUnavailable as exc:
            log.warning("scheduler.store_unavailable", during="open", error=str(exc))
        task_status.started()
        async for request in requests:
            blocked = await blocked_for(busy, request, store.tz)
            await replies.send(await _answer(store, request, blocked))


async def _answer(
    store: AppointmentStore, request: SchedulerRequest, blocked: Sequence[Span]
) -> SchedulerReply:
    request_name = type(request).__name__
    try:
        reply = await trio.to_thread.run_sync(answer_request, store, request, blocked)
    except StoreUnavailable as exc:
        log.warning("scheduler.store_unavailable", during=request_name, error=str(exc))
        return BookingRejected(request.request_id, RejectReason.STORE_UNAVAILABLE, str(exc))
    # Why a request was refused (taken, too soon, closed...) is what an operator asks first.
    refused = reply.reason.value if isinstance(reply, BookingRejected) else None
    log.info("scheduler.answered", request=request_name, reply=type(reply).__name__,
             refused=refused)  # fmt: skip
    return reply


def answer_request(
    store: AppointmentStore, request: SchedulerRequest, blocked: Sequence[Span] = ()
) -> SchedulerReply:
    """Carry out one request against the store (blocking) and build its reply; times in
    ``blocked`` (the calendar's busy spans) are neither offered nor booked.

    Raises:
        StoreUnavailable: the database failed.
    """
    rid = request.request_id
    match request:
        case FindFreeSlots(service=service, day=day, earliest=earliest, limit=limit, near=near):
            found = store.free_slots(
                service, day, earliest=earliest, limit=limit, near=near, blocked=blocked,
                practitioner=request.practitioner,
            )  # fmt: skip
            if isinstance(found, Rejection):
                return _rejected(rid, found)
            return FreeSlots(rid, day, found, open_on_day=store.is_open_on(day))
        case BookSlot(service=service, start=start, name=name, phone=phone, reason=reason):
            booked = store.book(
                service, start, name, phone, reason, blocked=blocked,
                practitioner=request.practitioner,
            )  # fmt: skip
            return _reply(rid, booked, BookingConfirmed)
        case FindBookings(phone=phone):
            return BookingsFound(rid, store.find_bookings(phone))
        case CancelBooking(appointment_id=appointment_id, phone=phone):
            return _reply(rid, store.cancel(appointment_id, phone), BookingCancelled)
        case MoveBooking(appointment_id=appointment_id, phone=phone, new_start=new_start):
            moved = store.move(appointment_id, phone, new_start, blocked=blocked)
            return _reply(rid, moved, BookingMoved)
        case LeaveMessage():
            saved = store.save_message(request)
            if isinstance(saved, Rejection):
                return _rejected(rid, saved)
            return MessageSaved(rid, saved, request)
        case _:
            assert_never(request)


def _reply(
    request_id: int,
    outcome: Appointment | Rejection,
    success: Callable[[int, Appointment], SchedulerReply],
) -> SchedulerReply:
    if isinstance(outcome, Rejection):
        return _rejected(request_id, outcome)
    return success(request_id, outcome)


def _rejected(request_id: int, rejection: Rejection) -> BookingRejected:
    return BookingRejected(request_id, rejection.reason, rejection.detail)
