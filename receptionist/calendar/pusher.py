"""The calendar pusher: writes the store's outbox of bookings, moves and cancellations.

The store writes an outbox item in the same transaction as the booking itself, so a booking
the caller heard confirmed always has its calendar write waiting, whatever happens to the
calendar or to this process. Here each item is claimed (leased, so another process sharing
the store leaves it alone), written, and marked done; a failure is retried after a capped
exponential backoff that the store keeps, so it survives a restart. Writes are by UID and
idempotent: a retry, or a second process taking over an expired lease, never doubles an event.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from functools import partial
from typing import TYPE_CHECKING, Any, Protocol
from zoneinfo import ZoneInfo

import structlog
import trio

from receptionist.calendar.caldav import CalDavClient
from receptionist.calendar.events import appointment_event, event_uid
from receptionist.config.calendar import CalendarConfig
from receptionist.errors import (
    CalendarAuthError,
    CalendarError,
    CalendarUnavailable,
    StoreUnavailable,
)

if TYPE_CHECKING:
    from receptionist.scheduling.outbox import OutboxItem

log = structlog.get_logger(__name__)

TOPIC = "calendar"
"""The store's outbox topic for calendar writes (``outbox_topics=("calendar",)``)."""


class CalendarOutbox(Protocol):
    """What the pusher needs of the appointments store (blocking; run in a worker thread)."""

    def outbox_claim(self, topic: str, *, limit: int, lease_s: float) -> tuple[OutboxItem, ...]: ...

    def outbox_done(self, item_id: int) -> None: ...

    def outbox_retry(self, item_id: int, *, delay_s: float, error: str) -> None: ...


def retry_delay(settings: CalendarConfig, attempts: int) -> float:
    """Seconds before another try, after ``attempts`` failed ones: doubling, capped."""
    return min(settings.retry_max_s, settings.retry_initial_s * 2.0 ** min(attempts, 32))


async def serve_calendar_sync(
    outbox: CalendarOutbox,
    client: CalDavClient,
    settings: CalendarConfig,
    tz: ZoneInfo,
    *,
    now: Callable[[], datetime],
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Write outbox items to the calendar until cancelled.

    Resource handling:
        Store calls run in worker threads (SQLite blocks); HTTP runs in trio. On
        cancellation an item being written stays claimed and is taken again once its lease
        (``push_lease_s``) runs out, by this process after a restart or by another one.

    Error handling:
        A calendar that is down or refuses the credentials stops the batch: its items are
        retried later, all with the same backoff, rather than each failing in turn. A write
        the calendar rejects (or a payload we cannot read) is retried on its own backoff,
        never dropped, and logged each time at error level with the booking id. A store
        that fails is logged and tried again after ``push_poll_s``.
        ``Cancelled`` is never caught.
    """
    claim = partial(
        outbox.outbox_claim, TOPIC, limit=settings.push_batch, lease_s=settings.push_lease_s
    )
    task_status.started()
    while True:
        try:
            items = await trio.to_thread.run_sync(claim)
            if items:
                await _push(outbox, client, settings, tz, now, items)
                continue
        except StoreUnavailable as exc:  # what was claimed is taken again after its lease
            log.warning("calendar.store_unavailable", error=str(exc))
        await trio.sleep(settings.push_poll_s)


async def _push(
    outbox: CalendarOutbox,
    client: CalDavClient,
    settings: CalendarConfig,
    tz: ZoneInfo,
    now: Callable[[], datetime],
    items: tuple[OutboxItem, ...],
) -> None:
    """Write the newest item of each appointment: it carries the whole appointment, so older
    ones of the same appointment are done at once (written later, they would undo it)."""
    newest: dict[str, OutboxItem] = {}
    for item in sorted(items, key=lambda item: item.id):
        if (older := newest.get(item.key)) is not None:
            await trio.to_thread.run_sync(outbox.outbox_done, older.id)
        newest[item.key] = item
    waiting = list(newest.values())
    for index, item in enumerate(waiting):
        try:
            await _write(client, settings, tz, now, item)
        except (CalendarUnavailable, CalendarAuthError) as exc:
            for later in waiting[index:]:
                await _retry(outbox, settings, later, exc)
            return
        except (CalendarError, KeyError, TypeError, ValueError) as exc:  # this item: refused, bad
            await _retry(outbox, settings, item, exc)
            continue
        await trio.to_thread.run_sync(outbox.outbox_done, item.id)


async def _write(
    client: CalDavClient,
    settings: CalendarConfig,
    tz: ZoneInfo,
    now: Callable[[], datetime],
    item: OutboxItem,
) -> None:
    """Raises CalendarError, or KeyError, TypeError or ValueError for a payload we cannot use."""
    payload: Mapping[str, Any] = item.payload
    appointment = payload["appointment"]
    uid = event_uid(settings.event_uid_prefix, int(appointment["id"]))
    action = payload["action"]
    if action == "upsert":
        await client.put_event(uid, appointment_event(appointment, tz, uid, now()))
        existed = True
    elif action == "delete":
        existed = await client.delete_event(uid)
    else:
        raise ValueError(f"unknown calendar action {action!r}")
    log.info(
        "calendar.written",
        booking_id=appointment["id"],
        action=action,
        uid=uid,
        attempts=item.attempts,
        **({} if existed else {"note": "already gone"}),
    )


async def _retry(
    outbox: CalendarOutbox, settings: CalendarConfig, item: OutboxItem, exc: Exception
) -> None:
    delay = retry_delay(settings, item.attempts)
    appointment = item.payload.get("appointment", {})
    log.error(
        "calendar.write_failed",
        booking_id=appointment.get("id"),
        action=item.payload.get("action"),
        error=str(exc),
        error_kind=type(exc).__name__,
        attempts=item.attempts + 1,
        retry_in_s=delay,
    )
    retry = partial(outbox.outbox_retry, item.id, delay_s=delay, error=str(exc))
    await trio.to_thread.run_sync(retry)
