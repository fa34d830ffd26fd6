"""What goes to Deepgram in each WebSocket message: audio frames joined into chunks.

A message costs both ends about the same whatever its size (a WebSocket frame, its mask,
a socket send, a wake of the writer), so fewer, larger messages cost less CPU. A chunk holds
up to ``chunk_frames`` (``deepgram.chunk_ms``), and goes out early when holding it would
delay what matters:

- a control message queued behind it (Finalize at the VAD's stop, CloseStream): the audio
  before it goes first, at once;
- a flush (the VAD heard speech start or pause): the caller's first words, and the words
  before a pause that preemptive generation answers, reach Deepgram without waiting.

The writer is woken only when a chunk is ready (or by the first frame, to time the hold),
not by every frame.
"""

from __future__ import annotations

import trio

from receptionist.engines.deepgram import Backlog
from receptionist.messages import FRAME_MS, InboundAudio

FRAME_SECONDS = FRAME_MS / 1000
Outgoing = InboundAudio | str
"""A frame of audio (sent as a binary message) or a control message (text)."""


class Chunker:
    """Cuts ``backlog`` into messages for the one writer task (``next_message``); told of
    each put by ``added``."""

    def __init__(self, backlog: Backlog[Outgoing], chunk_frames: int) -> None:
        self._backlog = backlog
        self._size = chunk_frames
        self._flush = False
        self._ready = trio.Event()

    def added(self, *, flush: bool = False) -> None:
        """Something was put in the backlog; ``flush``: send what is held at once."""
        self._flush = self._flush or flush
        if self._flush or len(self._backlog) >= self._size:
            self._ready.set()  # a full chunk, or a control message within one

    async def next_message(self) -> list[Outgoing]:
        """Nothing (for a KeepAlive), one control message, or up to ``chunk_frames`` of
        audio: a chunk waits for its frames at most a chunk's duration from now (its first
        frame has just come, or waited for a send), a frame of slack for jitter. Nothing
        leaves the backlog before the chunk goes, so a cancellation meanwhile loses no
        audio."""
        first = self._backlog.peek()
        if not isinstance(first, InboundAudio):
            return [] if first is None else [self._backlog.pop()]
        with trio.move_on_after(self._size * FRAME_SECONDS):
            while not (self._flush or _chunk_complete(self._backlog.head(self._size + 1),
                                                      self._size)):  # fmt: skip
                self._ready = trio.Event()
                await self._ready.wait()
        run = _audio_run(self._backlog.head(self._size))
        message = [self._backlog.pop() for _ in range(run)]
        if not isinstance(self._backlog.peek(), InboundAudio):
            self._flush = False  # all held audio is out
        return message


def payload(batch: list[Outgoing], keepalive: str) -> str | bytes:
    """``keepalive`` for nothing, a control message alone, or a chunk's audio joined."""
    if not batch:
        return keepalive
    if len(batch) == 1:
        item = batch[0]
        return item.ulaw if isinstance(item, InboundAudio) else item
    return b"".join(item.ulaw for item in batch if isinstance(item, InboundAudio))


def _audio_run(items: list[Outgoing]) -> int:
    """How many of ``items`` are audio before the first control message."""
    return next((i for i, item in enumerate(items) if not isinstance(item, InboundAudio)),
                len(items))  # fmt: skip


def _chunk_complete(head: list[Outgoing], size: int) -> bool:
    run = _audio_run(head)
    return run >= size or run < len(head)
