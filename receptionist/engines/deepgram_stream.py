"""Deepgram's live recogniser behind the Listener: the call's audio out, transcripts back.

::

    the Listener's VAD front end ─► hear(frame, change) ─► backlog ─► writer ─► Deepgram
          SpeechStopped: Finalize ─► backlog (a final without waiting for Deepgram's
                                     endpointing)
    Deepgram ─► reader ─► TranscriptAssembler ─► Transcript ─► the Listener's events

Twilio's mu-law goes out untouched. The wire protocol is in ``deepgram_protocol``; the
settings, the resend buffer and the transcript assembly (I/O-free) in ``deepgram``; one
connection's writer and reader in ``deepgram_traffic``.
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import asdict

import structlog
import trio
from trio_websocket import (
    ConnectionRejected,
    HandshakeError,
    WebSocketConnection,
    open_websocket_url,
)

from receptionist import frame_costs
from receptionist.engines.deepgram import (
    Backlog,
    DeepgramSettings,
    DeepgramStats,
    TranscriptAssembler,
)
from receptionist.engines.deepgram_chunks import Chunker, Outgoing
from receptionist.engines.deepgram_protocol import (
    CLOSE_STREAM,
    FINALIZE,
    describe_rejection,
    is_retryable_status,
)
from receptionist.engines.deepgram_traffic import DeepgramTraffic
from receptionist.engines.vad import SegmenterEvent
from receptionist.errors import SpeechRecognitionError
from receptionist.messages import (
    Expectation,
    InboundAudio,
    SpeechStarted,
    SpeechStopped,
    Transcript,
)

log = structlog.get_logger()


class DeepgramRecognizer(DeepgramTraffic):
    """One call's streaming recogniser: the Listener's ``Recognizer`` for ``engines.stt =
    "deepgram"``. Its connections to Deepgram: connect, reconnect, the reader and the writer.

    Args:
        settings: the process's (``build_deepgram_settings``).

    Resource handling:
        Owns its connections: one at a time, closed on leaving ``hearing``, on
        cancellation or error; per connection one reader task owns the receive side and
        one writer task does every send. The resend buffer is bounded
        (``deepgram.resend_buffer_s``, 40 KB for 5 s). At hang-up the close runs shielded
        from the call's cancellation, within ``close_timeout_s``.

    Error handling:
        A drop, a refused (5xx, 429) or failed handshake is retried with exponential
        backoff, the audio meanwhile buffered and resent; a malformed message is logged and
        skipped. SpeechRecognitionError is raised, for the call's error boundary, when a
        refusal is final (401, 400...), ``reconnect_attempts`` reconnects in a row failed,
        or ``stalls_to_give_up`` streams in a row stalled (nothing for ``stall_timeout_s``
        after a Finalize; the unanswered Finalize goes again on the next connection).
        A closed transcript channel propagates too, unless the caller has hung up.
    """

    def __init__(self, settings: DeepgramSettings) -> None:
        self._settings = settings
        self.stats = DeepgramStats()
        self.backlog = Backlog[Outgoing](settings.resend_buffer_frames)
        self._chunker = Chunker(self.backlog, settings.chunk_frames)
        self.assembler = TranscriptAssembler()
        self._headers = [(b"Authorization", f"Token {settings.api_key}".encode())]
        self._transcripts: trio.MemorySendChannel[Transcript] | None = None
        self._started = False
        self._hung_up = trio.Event()
        self._healthy = False
        """The current connection has delivered a message: it works, retries start over."""
        self._origin_pending = True
        self._answer_due = math.inf
        """When the stream has stalled unless a message comes (a Finalize is unanswered)."""
        self._reading: trio.CancelScope | None = None
        self._stalled = False
        self._done = trio.Event()
        self._costs = frame_costs.current()

    @asynccontextmanager
    async def hearing(self, transcripts: trio.MemorySendChannel[Transcript]) -> AsyncIterator[None]:
        """Connected inside (the first connection is open). Leaving it is the hang-up:
        CloseStream after the audio still queued, then Deepgram's last words, waited for
        until it closes the stream or ``close_timeout_s`` passed."""
        self._transcripts = transcripts
        try:
            with trio.CancelScope() as closing:
                async with trio.open_nursery() as nursery:
                    await nursery.start(self._serve)
                    yield
                    closing.shield = True  # also shields the reader and writer: the nursery
                    closing.deadline = trio.current_time() + self._settings.close_timeout_s
                    await self._finish()
                    nursery.cancel_scope.cancel()
            if closing.cancelled_caught:
                log.warning("deepgram.close_timeout", pending=self.assembler.pending)
        finally:
            log.info("deepgram.stats", **asdict(self.stats), frames_dropped=self.backlog.dropped)

    def hear(self, frame: InboundAudio, pcm16: bytes, change: SegmenterEvent | None) -> None:
        """Forward the frame; on the VAD's stop, ask for a final at once (Finalize); on its
        start or a pause, send what is held at once (``deepgram_chunks``)."""
        self.backlog.put(frame)
        if isinstance(change, SpeechStarted | SpeechStopped):
            self.assembler.handle(change, frame.at)
        if isinstance(change, SpeechStopped):
            self.stats.finalizes += 1
            self.backlog.put(FINALIZE)
        self._chunker.added(flush=change is not None)

    def listen_for(self, expectation: Expectation) -> None:
        # No narrowing per question: keywords would need a new connection.
        log.debug("deepgram.hint_ignored", expectation=expectation.value)

    async def _serve(
        self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
    ) -> None:
        """Connect (``started`` once the first connection is open), reconnect on drops.

        Raises:
            SpeechRecognitionError: refused for good (bad key...), or every reconnect failed.
        """
        failures = stalls = 0
        try:
            while not self._hung_up.is_set():
                self._healthy = self._stalled = False
                why = await self._connect_once(task_status)
                if self._hung_up.is_set():
                    return
                failures = 1 if self._healthy else failures + 1
                stalls = stalls + 1 if self._stalled else 0
                if stalls >= self._settings.stalls_to_give_up:
                    raise SpeechRecognitionError(f"{why} ({stalls} streams in a row)")
                if failures > self._settings.reconnect_attempts:
                    raise SpeechRecognitionError(f"{why} ({failures - 1} reconnects failed)")
                delay = self._settings.backoff(failures)
                log.warning("deepgram.reconnecting", attempt=failures, delay_s=delay, error=why)
                with trio.move_on_after(delay):
                    await self._hung_up.wait()  # no reconnecting only to say goodbye
        finally:
            self._done.set()

    async def _connect_once(self, task_status: trio.TaskStatus[None]) -> str:
        """One connection from handshake to close; returns why it ended."""
        try:
            async with open_websocket_url(
                self._settings.url,
                extra_headers=self._headers,
                connect_timeout=self._settings.connect_timeout_s,
                disconnect_timeout=self._settings.close_timeout_s,
            ) as ws:
                self.stats.connections += 1
                log.info("deepgram.connected", connection=self.stats.connections)
                self._origin_pending = True  # Deepgram's clock restarts on every connection
                self._answer_due = math.inf
                if not self._started:
                    self._started = True
                    task_status.started()
                return await self._exchange(ws)
        except ConnectionRejected as exc:
            why = describe_rejection(exc.status_code, exc.body)
            if not is_retryable_status(exc.status_code):
                raise SpeechRecognitionError(why) from exc
            return why
        except HandshakeError as exc:
            return f"cannot connect to Deepgram: {exc!r}"

    async def _exchange(self, ws: WebSocketConnection) -> str:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._write, ws)
            why = await self._read(ws)
            nursery.cancel_scope.cancel()
        return why

    async def _finish(self) -> None:
        """Hang-up: CloseStream after the audio still queued, then wait for the end."""
        self._hung_up.set()
        self._expect_answer_by(math.inf)  # from here the close timeout governs
        self.backlog.put(CLOSE_STREAM)
        self._chunker.added(flush=True)
        await self._done.wait()
