"""Scheduler round trips of the LLM's tool calls, in flight: each waits for its reply."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import structlog
import trio

from receptionist.scheduling.messages import (
    BookingRejected,
    RejectReason,
    SchedulerReply,
    SchedulerRequest,
)

log = structlog.get_logger()


class PendingReplies:
    """Scheduler round trips in flight, matched to replies by ``request_id``."""

    def __init__(self, send: Callable[[SchedulerRequest], Awaitable[None]]) -> None:
        self._send = send
        self._waiting: dict[int, _Waiter] = {}
        self._closed = False

    async def ask(self, request: SchedulerRequest) -> SchedulerReply:
        """Send ``request`` and wait for its reply (the caller owns the time box)."""
        waiter = self._waiting[request.request_id] = _Waiter()
        try:
            if not self._closed:
                await self._send(request)
                await waiter.arrived.wait()
        finally:
            del self._waiting[request.request_id]
        if waiter.reply is None:  # the call ended first
            return BookingRejected(request.request_id, RejectReason.STORE_UNAVAILABLE, "call over")
        return waiter.reply

    def deliver(self, reply: SchedulerReply) -> None:
        waiter = self._waiting.get(reply.request_id)
        if waiter is None:
            log.warning("dialogue.stale_reply", request_id=reply.request_id)
            return
        waiter.reply = reply
        waiter.arrived.set()

    def close(self) -> None:
        """The call is over: wake every waiter, so no shielded wait outlives it."""
        self._closed = True
        for waiter in self._waiting.values():
            waiter.arrived.set()


class _Waiter:
    __slots__ = ("arrived", "reply")

    def __init__(self) -> None:
        self.arrived = trio.Event()
        self.reply: SchedulerReply | None = None
