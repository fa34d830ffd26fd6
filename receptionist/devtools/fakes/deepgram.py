"""A fake Deepgram live transcription server: trio-websocket on 127.0.0.1, port 0.

It speaks ``/v1/listen`` as the docs and recorded samples show it
(``tests/protocol_samples/deepgram/``): ``Authorization: Token <key>``, the audio
format in the query, binary audio in, ``KeepAlive`` / ``Finalize`` / ``CloseStream`` text
messages, JSON results out. What it "hears" comes from a script of utterances timed on the
caller's audio (``tests/fixtures/*.json``), driven by how much audio it has received, so a run
is deterministic whatever the clock:

- the audio passes an utterance's start: ``SpeechStarted``; each word's end: an interim
  result with the words so far (at most one per ``interim_every_s`` of audio; the docs'
  example shows one a second, ``0`` sends one a word); its end + ``endpointing``: the final
  result with ``speech_final`` (in two ``is_final`` segments with ``split_finals``);
  + ``utterance_end_ms``: ``UtteranceEnd``. Results go out ``latency_s`` after the audio
  that produced them.
- ``Finalize``: ``from_finalize`` finals of whatever was heard and not finalised,
  ``latency_s`` later.
- ``CloseStream``: the remaining finals, ``Metadata``, then a normal close.
- No message for ``idle_timeout_s`` (10 s, as Deepgram): close 1011 ``NET-0001``.
- Faults: refuse ``reject_connections`` handshakes with ``reject_status``; close the first
  ``drop_connections`` connections (1011) once each got ``drop_after_s`` of audio. An
  outage: once the script's clock passes ``down_after_s``, the open connection is closed
  (1011) and every handshake refused (503). A stall: past ``stall_after_s``, every
  connection stays open, reads on and sends nothing, not even an answer to CloseStream.
- ``follow_speech``: for a caller who waits for the agent's replies (end-to-end tests,
  replays), whose silences are not the recording's. Once every utterance so far is
  finalised, silence stops the script's clock just before the next one, and the first
  voiced audio moves the clock to its start.
- ``every_call``: a connection the client ends (a hang-up, not a drop) rewinds the script,
  so one fake serves any number of calls (``python -m receptionist.devtools.fakes``).

Times in results count from each connection's first audio, as Deepgram's do; the script
counts on the audio received over all connections (``script_s``), which is the caller's
when the client resends what it buffered while reconnecting.

Usage::

    fake = FakeDeepgram(script=load_script(Path("tests/fixtures/booking_call.json")))
    url = await nursery.start(fake.serve)
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import trio
from trio_websocket import ConnectionClosed, WebSocketConnection, WebSocketRequest, serve_websocket

from receptionist.devtools.fakes.deepgram_script import (
    Progress,
    ScriptedUtterance,
    ScriptedWord,
    results_message,
)
from receptionist.engines.audio import audioop, ulaw_to_pcm16

BYTES_PER_SECOND = 8000
"""8 kHz mu-law: one byte per sample."""
REQUIRED_QUERY = {"encoding": "mulaw", "sample_rate": "8000", "channels": "1"}
VOICED_RMS = 100
"""A frame louder than this is speech, for ``follow_speech`` (the fixtures' silences are 0)."""
BEFORE_START_S = 0.001


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


@dataclass
class FakeDeepgram:
    """The server, its script and faults; inspect ``connections`` and ``refused`` after."""

    api_key: str = "test-key"
    script: list[ScriptedUtterance] = field(default_factory=list)
    latency_s: float = 0.0
    interim_every_s: float = 1.0
    split_finals: bool = False
    idle_timeout_s: float = 10.0
    reject_status: int | None = None
    reject_connections: int = 0
    drop_after_s: float | None = None
    drop_connections: int = 0
    down_after_s: float | None = None
    stall_after_s: float | None = None
    follow_speech: bool = False
    every_call: bool = False
    script_s: float = 0.0
    """The script's clock: seconds of audio received over all connections, unless
    ``follow_speech`` has paused or moved it."""
    connections: list[FakeConnection] = field(default_factory=list)
    refused: list[int] = field(default_factory=list)
    _progress: list[Progress] = field(default_factory=list)

    async def serve(
        self, *, port: int = 0, task_status: trio.TaskStatus[str] = trio.TASK_STATUS_IGNORED
    ) -> None:
        """Listen on 127.0.0.1, ``port`` (0: an ephemeral one); ``started`` with the base URL."""
        self._progress = [Progress() for _ in self.script]
        async with trio.open_nursery() as nursery:
            server = await nursery.start(serve_websocket, self._handle, "127.0.0.1", port, None)
            task_status.started(f"ws://127.0.0.1:{server.port}")

    @property
    def audio_s(self) -> float:
        return sum(len(c.audio) for c in self.connections) / BYTES_PER_SECOND

    @property
    def down(self) -> bool:
        """Past ``down_after_s``: every connection is closed and refused."""
        return self.down_after_s is not None and self.script_s >= self.down_after_s

    @property
    def stalled(self) -> bool:
        """Past ``stall_after_s``: nothing more is sent on any connection."""
        return self.stall_after_s is not None and self.script_s >= self.stall_after_s

    def rewind(self) -> None:
        """Start the script again, for the next call."""
        self._progress = [Progress() for _ in self.script]
        self.script_s = 0.0

    def tick(self, data: bytes) -> None:
        """Move the script's clock on by ``data``'s duration (see ``follow_speech``)."""
        duration = len(data) / BYTES_PER_SECOND
        upcoming = self._upcoming() if self.follow_speech else None
        if upcoming is None:
            self.script_s += duration
        elif audioop.rms(ulaw_to_pcm16(data), 2) > VOICED_RMS:
            self.script_s = max(self.script_s, upcoming.start) + duration
        else:
            self.script_s = min(self.script_s + duration, upcoming.start - BEFORE_START_S)

    def _upcoming(self) -> ScriptedUtterance | None:
        """The next utterance to start, once every one before it is wholly finalised."""
        for utt, progress in zip(self.script, self._progress, strict=True):
            if not progress.started:
                return utt
            if progress.finalised < len(utt.words):
                return None
        return None

    async def _handle(self, request: WebSocketRequest) -> None:
        target = urlsplit(request.path)
        headers = {k.decode().lower(): v.decode() for k, v in request.headers}
        query = dict(parse_qsl(target.query))
        status, code, text = self._check(target.path, headers, query)
        if status != 101:
            self.refused.append(status)
            body = json.dumps({"err_code": code, "err_msg": text, "request_id": "fake"})
            await request.reject(status, extra_headers=[(b"dg-error", text.encode())],
                                 body=body.encode())  # fmt: skip
            return
        ws = await request.accept()
        connection = FakeConnection(headers, query, offset=self.audio_s)
        self.connections.append(connection)
        await _Stream(self, ws, connection).run()

    def _check(
        self, path: str, headers: dict[str, str], query: dict[str, str]
    ) -> tuple[int, str, str]:
        if self.reject_status is not None and len(self.refused) < self.reject_connections:
            return self.reject_status, "FAKE_REFUSAL", "Refused, as the test asked."
        if self.down:
            return 503, "FAKE_OUTAGE", "Service unavailable, as the test asked."
        if headers.get("authorization") != f"Token {self.api_key}":
            return 401, "INVALID_AUTH", "Invalid credentials."
        wrong = [k for k, v in REQUIRED_QUERY.items() if query.get(k) != v]
        if path != "/v1/listen" or wrong:
            return 400, "Bad Request", f"Bad path or query parameters: {path} {wrong}"
        return 101, "", ""


class _Stream:
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
