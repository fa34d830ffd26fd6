"""Preemptive generation: the model's reply, started before the caller's turn is over.

When the caller pauses, turn-taking offers the words so far (``Anticipate``); the brain
starts a completion on them at once, while Deepgram finalises. The completion only streams:
its events wait in a bounded buffer (the stream is held back once it is full), nothing is
said, no tool runs and the history is untouched. When the final transcript says the same
words, the reply takes the buffered events as its first round's stream and carries on
(``LlmAgent.reply(..., head_start=)``), saving the model's time to first token; when it says
something else, or the caller goes on speaking, the completion is cancelled and forgotten.

Resource handling:
    ``run`` is a task of the brain's nursery under the speculation's own cancel scope. The
    reply that adopts it cancels it when it stops reading (a barge-in, an error, the end),
    in the same step, so the stream never outlives its turn.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from contextlib import aclosing

import trio

from receptionist.errors import LlmError
from receptionist.llm.stream import LlmEvent


class Speculation:
    """One completion on a guess at the caller's words."""

    def __init__(
        self, text: str, revision: int, stream: AsyncGenerator[LlmEvent, None], buffer: int
    ) -> None:
        self.text = text
        self.revision = revision
        """The history's revision it was started on: it is only valid while unchanged."""
        self.first_token_at: float | None = None
        self.failed = False
        """The completion failed before it was adopted: the reply starts afresh instead."""
        self.started_at = trio.current_time()
        self._stream = stream
        self._send, self._receive = trio.open_memory_channel[LlmEvent | LlmError](buffer)
        self._scope = trio.CancelScope()

    async def run(self) -> None:
        """Stream into the buffer until the end, or until cancelled."""
        with self._scope, self._send:
            try:
                async with aclosing(self._stream) as events:
                    async for event in events:
                        if self.first_token_at is None:
                            self.first_token_at = trio.current_time()
                        await self._send.send(event)
            except LlmError as exc:
                self.failed = True
                await self._send.send(exc)  # for the reply to handle, if it is adopted
            except trio.BrokenResourceError:
                pass  # the reply stopped reading: it has cancelled this too

    def cancel(self) -> None:
        self._scope.cancel()

    async def events(self) -> AsyncGenerator[LlmEvent, None]:
        """The stream, from its first event: for the reply that adopts this guess.

        Raises:
            LlmError: the completion failed.
        """
        try:
            async for item in self._receive:
                if isinstance(item, LlmError):
                    raise item
                yield item
        finally:
            self.cancel()  # first: the stream stops, rather than find its reader gone
            self._receive.close()
