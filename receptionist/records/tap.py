"""The supervisor's tap on the Dialogue's inbox: every transcript, speech event, mark and
scheduler reply is shown to the call's record on its way through."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import trio

T = TypeVar("T")


async def run_tap(
    inbox: trio.MemoryReceiveChannel[T],
    onward: trio.MemorySendChannel[T],
    observe: Callable[[object], None],
    *,
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Pass everything from ``inbox`` to ``onward``, showing it to ``observe`` first.

    Owns both ends: when the senders close, ``onward`` closes after the last message; when
    the receiver closes, ``inbox`` closes too, so senders see what they would without it.
    """
    with inbox, onward:
        task_status.started()
        async for message in inbox:
            observe(message)
            try:
                await onward.send(message)
            except trio.BrokenResourceError:
                return
