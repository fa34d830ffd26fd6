"""One connection to the fake Deepgram (``deepgram.FakeDeepgram``): audio and control
messages in, the script's results out through one ordered, delayed queue."""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import trio
from trio_websocket import ConnectionClosed, WebSocketConnection

from receptionist.devtools.fakes.deepgram_script import Progress, ScriptedWord, results_message

if TYPE_CHECKING:
    from receptionist.devtools.fakes.deepgram import FakeDeepgram

BYTES_PER_SECOND = 8000
"""8 kHz mu-law: one byte per sample."""


@dataclass
class FakeConnection:
    """One accepted connection, for the test to inspect."""

    headers: dict[str, str]
    query: dict[str, str]
    offset: float
    """Seconds of audio over all connections at this connection's start."""
    audio: bytearray = field(default_factory=bytearray)
    received: list[tuple[float, str]] = field(default_factory=list)
    """(when, "audio" or the control message's type), in order."""
    sent: list[tuple[float, dict[str, Any]]] = field(default_factory=list)
    closed: tuple[int, str] | None = None

    def count(self, kind: str) -> int:
        return sum(1 for _, what in self.received if what == kind)


class ConnectionExchange:
    """One connection's conversation; results go out through one ordered, delayed queue."""

    def __init__(self, fake: FakeDeepgram, ws: WebSocketConnection, conn: FakeConnection) -> None:
        self.fake, self.ws, self.conn = fake, ws, conn
        self.endpointing = float(conn.query.get("endpointing", "10").replace("false", "0")) / 1000
        self.utterance_end = float(conn.query.get("utterance_end_ms", "0")) / 1000
        # Unbounded in effect: a script has a few messages per utterance, and the fake must
        # never block its reader on its own writer.
        self.out_send, self.out_recv = trio.open_memory_channel[tuple[float, Any]](1000)
        self.drained = trio.Event()

    async def run(self) -> None:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._send_queued)
            with contextlib.suppress(ConnectionClosed):  # the client went away
                await self._receive()
            nursery.cancel_scope.cancel()
        if self.fake.every_call and self.conn.closed in (None, (1000, "")):
            self.fake.rewind()  # the call is over: hung up, by CloseStream or not

    async def _receive(self) -> None:
        while True:
            message = None
            with trio.move_on_after(self.fake.idle_timeout_s):
                message = await self.ws.get_message()
            if message is None:
                return await self._close(1011, "NET-0001")
            if isinstance(message, bytes) and message:
                if await self._on_audio(message):
                    return await self._close(1011, "NET-0000")  # a drop, as the test asked
                continue
            kind = "CloseStream" if message == b"" else json.loads(message)["type"]
            self.conn.received.append((trio.current_time(), kind))
            if kind == "Finalize":
                self._finalize(from_finalize=True)
            elif kind == "CloseStream":
                return await self._close_stream()

    async def _on_audio(self, data: bytes) -> bool:
        """Take audio in; True when this connection is to be dropped now."""
        self.conn.received.append((trio.current_time(), "audio"))
        self.conn.audio += data
        self.fake.tick(data)
        self._advance(self.fake.script_s)
        fake = self.fake
        own = len(self.conn.audio) / BYTES_PER_SECOND
        dropping = fake.drop_after_s is not None and own >= fake.drop_after_s
        return fake.down or (dropping and len(fake.connections) <= fake.drop_connections)

    def _advance(self, now: float) -> None:
        for utt, progress in zip(self.fake.script, self.fake._progress, strict=True):
            if now >= utt.start and not progress.started:
                progress.started = True
                progress.shift = self.fake.script_s - self.fake.audio_s
                at = utt.start - progress.shift - self.conn.offset
                self._queue({"type": "SpeechStarted", "channel": [0, 1],
                             "timestamp": round(at, 3)}, 0.0)  # fmt: skip
            heard = [w for w in utt.words[progress.finalised :] if w.end <= now]
            if (
                len(heard) + progress.finalised > progress.interim_words
                and now >= progress.interim_at + self.fake.interim_every_s
            ):
                progress.interim_words, progress.interim_at = len(heard) + progress.finalised, now
                self._queue(self._results(heard, False, False, shift=progress.shift))
            if now >= utt.end + self.endpointing and progress.finalised < len(utt.words):
                self._final(utt.words[progress.finalised :], progress)
            last_end = utt.words[-1].end if utt.words else utt.end
            if self.utterance_end and now >= last_end + self.utterance_end and not progress.ended:
                progress.ended = True
                last_end -= progress.shift + self.conn.offset
                self._queue({"type": "UtteranceEnd", "channel": [0, 1],
                             "last_word_end": round(last_end, 3)})  # fmt: skip

    def _final(self, words: tuple[ScriptedWord, ...], progress: Progress) -> None:
        progress.finalised += len(words)
        if self.fake.split_finals and len(words) > 1:
            half = len(words) // 2
            self._queue(self._results(list(words[:half]), True, False, shift=progress.shift))
            words = words[half:]
        self._queue(self._results(list(words), True, True, shift=progress.shift))

    def _finalize(self, *, from_finalize: bool) -> None:
        """Finalise every word heard so far (Finalize, CloseStream)."""
        now, sent = self.fake.script_s, False
        for utt, progress in zip(self.fake.script, self.fake._progress, strict=True):
            words = [w for w in utt.words[progress.finalised :] if w.start < now]
            if words:
                progress.finalised += len(words)
                sent = True
                results = self._results(words, True, not from_finalize, from_finalize,
                                        shift=progress.shift)  # fmt: skip
                self._queue(results, None if from_finalize else 0.0)
        if not sent and from_finalize:
            self._queue(self._results([], True, False, True))

    def _results(self, words: list[ScriptedWord], is_final: bool, speech_final: bool,
                 from_finalize: bool = False, *, shift: float = 0.0) -> dict[str, Any]:  # fmt: skip
        return results_message(words, is_final, speech_final, from_finalize,
                               offset=self.conn.offset + shift,
                               empty_at=self.fake.audio_s - self.conn.offset)  # fmt: skip

    def _queue(self, message: dict[str, Any], delay: float | None = None) -> None:
        if self.fake.stalled:
            return
        due = trio.current_time() + (self.fake.latency_s if delay is None else delay)
        self.out_send.send_nowait((due, message))

    async def _send_queued(self) -> None:
        # Closed under it (a drop the test asked for, while a result was due): nothing more
        # goes out on this connection.
        with contextlib.suppress(ConnectionClosed):
            async for due, message in self.out_recv:
                await trio.sleep_until(due)
                data = json.dumps(message)
                self.conn.sent.append((trio.current_time(), message))  # as it goes on the wire
                await self.ws.send_message(data)
        self.drained.set()

    async def _close_stream(self) -> None:
        if self.fake.stalled:
            await trio.sleep_forever()  # until the client gives up and closes
        self._finalize(from_finalize=False)
        duration = round(len(self.conn.audio) / BYTES_PER_SECOND, 3)
        metadata = {"type": "Metadata", "transaction_key": "deprecated", "request_id": "fake",
                    "sha256": "", "created": "", "duration": duration, "channels": 1}  # fmt: skip
        self._queue(metadata, 0.0)
        self.out_send.close()
        await self.drained.wait()
        await self._close(1000, "")

    async def _close(self, code: int, reason: str) -> None:
        self.conn.closed = (code, reason)
        await self.ws.aclose(code, reason)
