"""Barge-in as a cancel-scope broadcast.

Each agent turn has an id (increasing within a call). The work of a turn in every actor
(dialogue generation, synthesis) runs under a cancel scope registered here under that id.
``cancel_through(turn_id)`` cancels every registered scope of that turn and all earlier ones
in one synchronous step (``CancelScope.cancel()`` does not yield), and raises the watermark
that TwilioIO checks before every frame, so nothing of a cancelled turn reaches the caller,
whatever was still buffered in a channel.

This is a synchronisation primitive shared by one call's actors, like a ``trio.Event``:
it holds no conversation state, only which turns are dead, which are held back from the
caller for now (``hold``: TwilioIO sends none of their audio until ``release``), and
(``audible_through``, raised by TwilioIO as a turn's first frame goes out) which have begun to
reach the caller.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import trio


class TurnCancellation:
    def __init__(self) -> None:
        self._cancelled_through = 0
        self.audible_through = 0
        """The latest turn whose audio has begun to go out to the caller."""
        self._scopes: dict[int, set[trio.CancelScope]] = {}
        self._held: dict[int, trio.Event] = {}
        """Turns whose audio waits; each event is set when the turn is released or cancelled."""

    @property
    def cancelled_through(self) -> int:
        return self._cancelled_through

    def is_cancelled(self, turn_id: int) -> bool:
        return turn_id <= self._cancelled_through

    @contextmanager
    def scope(self, turn_id: int) -> Iterator[trio.CancelScope]:
        """Run a block as part of turn ``turn_id``; it is cancelled with that turn.

        A block entered for a turn that is already cancelled is cancelled at once.
        """
        cancel_scope = trio.CancelScope()
        if self.is_cancelled(turn_id):
            cancel_scope.cancel()
        registered = self._scopes.setdefault(turn_id, set())
        registered.add(cancel_scope)
        try:
            with cancel_scope:
                yield cancel_scope
        finally:
            registered.discard(cancel_scope)
            if not registered:
                self._scopes.pop(turn_id, None)

    def cancel_through(self, turn_id: int) -> None:
        """Cancel turn ``turn_id`` and every earlier turn, everywhere, now."""
        self._cancelled_through = max(self._cancelled_through, turn_id)
        for held_id in [t for t in self._held if t <= turn_id]:
            self.release(held_id)  # what waits on it wakes, to drop it
        for registered_id in [t for t in self._scopes if t <= turn_id]:
            for cancel_scope in self._scopes[registered_id]:
                cancel_scope.cancel()

    def audible(self, turn_id: int) -> None:
        """Turn ``turn_id``'s first frame has gone out: the caller hears it from now on."""
        self.audible_through = max(self.audible_through, turn_id)

    def hold(self, turn_id: int) -> None:
        """Keep turn ``turn_id``'s audio from the caller until ``release`` (or its cancel)."""
        if not self.is_cancelled(turn_id):
            self._held.setdefault(turn_id, trio.Event())

    def release(self, turn_id: int) -> None:
        """Turn ``turn_id`` may play (if it was held)."""
        held = self._held.pop(turn_id, None)
        if held is not None:
            held.set()

    def is_held(self, turn_id: int) -> bool:
        return turn_id in self._held

    async def wait_released(self, turn_id: int) -> None:
        """Return once turn ``turn_id`` is no longer held (released or cancelled)."""
        held = self._held.get(turn_id)
        if held is not None:
            await held.wait()
        else:
            await trio.lowlevel.checkpoint()
