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

One connection's exchange is in ``deepgram_exchange``; the script's format in
``deepgram_script``. Times in results count from each connection's first audio, as
Deepgram's do; the script counts on the audio received over all connections
(``script_s``), which is the caller's when the client resends what it buffered while
reconnecting.

Usage::

    fake = FakeDeepgram(script=load_script(Path("tests/fixtures/booking_call.json")))
    url = await nursery.start(fake.serve)
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urlsplit

import trio
from trio_websocket import WebSocketRequest, serve_websocket

from receptionist.devtools.fakes.deepgram_exchange import (
    BYTES_PER_SECOND,
    ConnectionExchange,
    FakeConnection,
)
from receptionist.devtools.fakes.deepgram_script import Progress, ScriptedUtterance
from receptionist.engines.audio import audioop, ulaw_to_pcm16

REQUIRED_QUERY = {"encoding": "mulaw", "sample_rate": "8000", "channels": "1"}
VOICED_RMS = 100
"""A frame louder than this is speech, for ``follow_speech`` (the fixtures' silences are 0)."""
BEFORE_START_S = 0.001


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
        await ConnectionExchange(self, ws, connection).run()

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
