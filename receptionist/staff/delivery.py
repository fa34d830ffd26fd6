"""The outbox worker the webhook and the SMS confirmations deliver through.

Modeled on the calendar pusher (calendar/pusher.py): items are claimed with a lease (another
process sharing the store leaves them alone; a process that dies mid-delivery lets them come
back when the lease runs out), delivered, and marked done; a failure is retried after a capped
exponential backoff that the store keeps, so it survives a restart. Unlike calendar writes, a
report or a text is not worth retrying for ever: after ``max_attempts`` (or at once when the
receiver refused it for good, an invalid number) it is given up, logged at error level, and
left in the outbox with its last error (done, so no longer tried).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import partial
from typing import TYPE_CHECKING, Protocol

import structlog
import trio

from receptionist.config.notify import NotifyConfig
from receptionist.errors import DeliveryFailed, StoreUnavailable

if TYPE_CHECKING:
    from receptionist.scheduling.outbox import OutboxItem

log = structlog.get_logger(__name__)

Deliver = Callable[["OutboxItem"], Awaitable[None]]
"""Delivers one item; raises DeliveryFailed (or KeyError, TypeError, ValueError for a
payload it cannot use), never anything else for a failed delivery."""


class Outbox(Protocol):
    """What a worker needs of the appointments store (blocking; run in a worker thread)."""

    def outbox_claim(self, topic: str, *, limit: int, lease_s: float) -> tuple[OutboxItem, ...]: ...

    def outbox_done(self, item_id: int) -> None: ...

    def outbox_retry(self, item_id: int, *, delay_s: float, error: str) -> None: ...


def retry_delay(settings: NotifyConfig, attempts: int) -> float:
    """Seconds before another try, after ``attempts`` failed ones: doubling, capped."""
    return min(settings.retry_max_s, settings.retry_initial_s * 2.0 ** min(attempts, 32))


async def serve_outbox(
    outbox: Outbox,
    topics: tuple[str, ...],
    deliver: Deliver,
    settings: NotifyConfig,
    *,
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Deliver ``topics``' outbox items until cancelled.

    Error handling:
        A failed delivery is retried on its own backoff, up to ``max_attempts`` tries in all.
        A store that fails is logged and tried again after ``poll_s``; what was claimed is
        taken again after its lease. ``Cancelled`` is never caught: an item being delivered
        stays claimed and comes back after its lease (delivery is at least once).
    """
    task_status.started()
    while True:
        delivered = 0
        try:
            for topic in topics:
                claim = partial(
                    outbox.outbox_claim, topic, limit=settings.batch, lease_s=settings.lease_s
                )
                items = await trio.to_thread.run_sync(claim)
                for item in items:
                    await _deliver_one(outbox, deliver, settings, item)
                delivered += len(items)
        except StoreUnavailable as exc:
            log.warning("notify.store_unavailable", error=str(exc))
        if not delivered:
            await trio.sleep(settings.poll_s)


async def _deliver_one(
    outbox: Outbox, deliver: Deliver, settings: NotifyConfig, item: OutboxItem
) -> None:
    try:
        await deliver(item)
    except (DeliveryFailed, KeyError, TypeError, ValueError) as exc:
        await _failed(outbox, settings, item, exc)
        return
    await trio.to_thread.run_sync(outbox.outbox_done, item.id)
    log.info("notify.delivered", topic=item.topic, key=item.key, attempts=item.attempts + 1)


async def _failed(outbox: Outbox, settings: NotifyConfig, item: OutboxItem, exc: Exception) -> None:
    attempts = item.attempts + 1
    error = str(exc) or type(exc).__name__
    retryable = not isinstance(exc, DeliveryFailed) or exc.retryable
    given_up = attempts >= settings.max_attempts or not retryable
    delay = 0.0 if given_up else retry_delay(settings, item.attempts)
    await trio.to_thread.run_sync(partial(outbox.outbox_retry, item.id, delay_s=delay, error=error))
    if given_up:  # kept with its last error for a person to look at, no longer tried
        await trio.to_thread.run_sync(outbox.outbox_done, item.id)
        log.error("notify.gave_up", topic=item.topic, key=item.key, attempts=attempts, error=error)
        return
    log.warning(
        "notify.delivery_failed", topic=item.topic, key=item.key, attempts=attempts,
        error=error, retry_in_s=delay,
    )  # fmt: skip
