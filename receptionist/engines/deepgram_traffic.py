"""One Deepgram connection's traffic: the writer (the backlog out in order, audio in chunks,
KeepAlives; what a dropped connection did not send goes back for the next one) and the reader
(transcripts assembled and passed on, a stall noticed when a Finalize goes unanswered).
``DeepgramTraffic`` is the part of ``DeepgramRecognizer`` (deepgram_stream.py) that does it;
the recogniser opens, reopens and closes the connections."""

from __future__ import annotations

import math

import structlog
import trio
from trio_websocket import ConnectionClosed, WebSocketConnection

from receptionist.engines.deepgram import (
    Backlog,
    DeepgramSettings,
    DeepgramStats,
    StreamOrigin,
    TranscriptAssembler,
)
from receptionist.engines.deepgram_chunks import Chunker, Outgoing, payload
from receptionist.engines.deepgram_protocol import (
    CLOSE_STREAM,
    FINALIZE,
    KEEPALIVE,
    ErrorMessage,
    MetadataMessage,
    ResultsMessage,
    UtteranceEndMessage,
    describe_close,
    parse_server_message,
)
from receptionist.errors import SpeechRecognitionError
from receptionist.frame_costs import FrameCosts
from receptionist.messages import InboundAudio, Transcript

log = structlog.get_logger()


class DeepgramTraffic:
    """The sends and receives of the current connection, one writer task and one reader."""

    _settings: DeepgramSettings
    stats: DeepgramStats
    backlog: Backlog[Outgoing]
    _chunker: Chunker
    assembler: TranscriptAssembler
    _transcripts: trio.MemorySendChannel[Transcript] | None
    _hung_up: trio.Event
    _healthy: bool
    _origin_pending: bool
    _answer_due: float
    _reading: trio.CancelScope | None
    _stalled: bool
    _costs: FrameCosts

    async def _write(self, ws: WebSocketConnection) -> None:
        """The one task that sends: the backlog in order (audio in chunks), a KeepAlive
        when it stays empty."""
        while True:
            with trio.move_on_after(self._settings.keepalive_s):
                await self.backlog.wait()
            batch = await self._chunker.next_message()
            try:
                await ws.send_message(payload(batch, KEEPALIVE))
            except ConnectionClosed:
                self._unsent(batch)
                return  # the reader sees the close too, and ends this connection
            except trio.Cancelled:
                self._unsent(batch)  # the connection is going away; resend on the next one
                raise
            self._sent(batch)
            if batch == [CLOSE_STREAM]:
                return  # nothing may follow it; the reader waits for the Metadata

    def _unsent(self, batch: list[Outgoing]) -> None:
        # Audio and Finalize carry over to the next connection. A KeepAlive is per
        # connection, and a CloseStream that failed has nothing left to close.
        for item in reversed(batch):
            if isinstance(item, InboundAudio) or item == FINALIZE:
                self.backlog.put_back(item)

    def _expect_answer_by(self, due: float) -> None:
        self._answer_due = due
        if self._reading is not None:
            self._reading.deadline = due

    def _sent(self, batch: list[Outgoing]) -> None:
        if not batch:
            self.stats.keepalives += 1
            return
        if batch == [FINALIZE] and not self._hung_up.is_set():
            due = trio.current_time() + self._settings.stall_timeout_s
            self._expect_answer_by(min(self._answer_due, due))
        first = batch[0]
        if isinstance(first, InboundAudio):
            self.stats.frames_sent += len(batch)
            self._costs.deepgram_frames += len(batch)
            self._costs.deepgram_messages += 1
            if self._origin_pending:
                self._origin_pending = False
                self.assembler.handle(StreamOrigin(first.at), trio.current_time())

    async def _read(self, ws: WebSocketConnection) -> str:
        """The one task that receives, until the connection ends; returns why it did."""
        while True:
            with trio.CancelScope(deadline=self._answer_due) as reading:
                self._reading = reading  # a Finalize sent meanwhile sets its deadline
                try:
                    data = await ws.get_message()
                except ConnectionClosed as exc:
                    if exc.reason is None:
                        return describe_close(None, None)
                    return describe_close(exc.reason.code, exc.reason.reason)
                finally:
                    self._reading = None
            if reading.cancelled_caught:
                self._stalled = True
                self.backlog.put_back(FINALIZE)  # ask the next connection
                return f"Deepgram stalled: nothing for {self._settings.stall_timeout_s} s"
            self._healthy = True
            self._answer_due = math.inf
            if await self._on_message(data):
                return "closed after CloseStream"

    async def _on_message(self, data: str | bytes) -> bool:
        """Handle one server message; True once the stream has ended as we asked."""
        try:
            message = parse_server_message(data)
        except SpeechRecognitionError as exc:
            self.stats.malformed += 1  # one lost message costs less than a reconnect
            log.warning("deepgram.malformed", error=str(exc))
            return False
        match message:
            case ResultsMessage() | UtteranceEndMessage():
                transcript = self.assembler.handle(message, trio.current_time())
                if transcript is not None:
                    self.stats.transcripts += 1
                    await self._emit(transcript)
            case MetadataMessage(request_id=request_id, duration=duration):
                log.info("deepgram.metadata", request_id=request_id, audio_s=duration)
                return self._hung_up.is_set()
            case ErrorMessage(description=description, message=text, variant=variant):
                log.warning("deepgram.error", description=description, message=text,
                            variant=variant)  # fmt: skip
        return False

    async def _emit(self, transcript: Transcript) -> None:
        """Send to the Dialogue, which may already have ended once the caller hung up."""
        assert self._transcripts is not None, "transcripts arrive only while hearing"
        try:
            await self._transcripts.send(transcript)
        except trio.BrokenResourceError:
            if not self._hung_up.is_set():
                raise  # mid-call, a Dialogue gone is the call's error boundary's business
            # It returns on CallStopped, and the words flushed by CloseStream can land
            # after that: the caller has gone, there is no one left to tell.
            log.debug("deepgram.dialogue_gone", dropped=type(transcript).__name__)
