"""A whole call through the real supervisor with injected engines: a loudness VAD and a
scripted recogniser behind the real Listener, speech as the caller's audio."""

from __future__ import annotations

import base64
import contextlib
import json
import tempfile
from array import array
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import trio
import trio.testing

from receptionist.call import CallServices, run_call
from receptionist.engines.vad import SegmenterEvent, new_segmenter
from receptionist.messages import (
    FRAME_BYTES,
    FRAME_MS,
    ULAW_SILENCE,
    Expectation,
    InboundAudio,
    SpeechStopped,
    Transcript,
)
from receptionist.records.collector import CallRecording
from receptionist.scheduling.store import AppointmentStore
from receptionist.telephony.stream_tokens import StreamTokens
from stages.listener import ListenerEngines
from tests.helpers.dialogue import CONFIG, NOW
from tests.helpers.fake_connection import FakeConnection
from tests.helpers.twilio import STREAM

TEST_TIMEOUT_S = 30


CHUNKS_PER_SENTENCE = 3


CHUNK_FRAMES = 5
"""Each chunk is 100 ms of audio: a sentence is 300 ms."""


FRAME_S = FRAME_MS / 1000


VAD_MS = CONFIG.vad.min_speech_ms / 1000
"""SpeechStarted comes this long after the first voiced frame it is stamped with."""


END_SILENCE_S = CONFIG.vad.end_silence_ms / 1000
"""SpeechStopped comes this long after the last voiced frame."""


FALSE_BARGE_IN_S = CONFIG.turn_taking.false_barge_in_ms / 1000
"""A cut turn resumes this long after the speech that cut it stopped, if no words came."""


SPEECH_FRAME = b"\x00" * FRAME_BYTES
"""The loudest mu-law there is: the caller speaking."""


SILENCE_FRAME = ULAW_SILENCE * FRAME_BYTES


GREETING = ("Thank you for calling Riverside Family Clinic.", "How can I help?")


HOURS = "what are your opening hours"


Hook = Callable[[str, int], Awaitable[None]]


class FakeEngine:
    """Speaks every sentence as three 100 ms chunks of one byte value, new per sentence
    spoken, so each frame Twilio receives can be traced back to its sentence."""

    def __init__(self) -> None:
        self.spoken: list[tuple[str, int]] = []
        self.closed: list[str] = []
        self.before_chunk: Hook | None = None
        """Awaited before each chunk with the text and the chunk's number: a test's gate."""

    async def stream_ulaw(self, text: str) -> AsyncGenerator[bytes, None]:
        value = 0x10 + len(self.spoken)
        self.spoken.append((text, value))
        try:
            for number in range(CHUNKS_PER_SENTENCE):
                if self.before_chunk is not None:
                    await self.before_chunk(text, number)
                await trio.sleep(0.01)
                yield bytes([value]) * FRAME_BYTES * CHUNK_FRAMES
        finally:
            self.closed.append(text)

    def values(self, *texts: str) -> set[int]:
        return {value for text, value in self.spoken if text in texts}


@dataclass
class FakeTwilio:
    """Twilio's side of the socket: plays what it gets, echoes marks, obeys ``clear``."""

    connection: FakeConnection
    received: list[tuple[float, dict[str, Any]]] = field(default_factory=list)
    echoed: list[str] = field(default_factory=list)
    _pending: dict[str, float] = field(default_factory=dict)
    _played_until: float = 0.0
    _changed: trio.Event = field(default_factory=trio.Event)

    async def run(self, nursery: trio.Nursery) -> None:
        async for raw in self.connection.from_server:
            message, now = json.loads(raw), trio.current_time()
            self.received.append((now, message))
            match message["event"]:
                case "media":
                    self._played_until = max(now, self._played_until) + 0.02
                case "mark":
                    name = message["mark"]["name"]
                    self._pending[name] = max(now, self._played_until)
                    nursery.start_soon(self._echo_when_played, name)
                case "clear":  # Twilio echoes every pending mark at once
                    self._played_until = now
                    for name in list(self._pending):
                        await self._echo(name)

    async def _echo_when_played(self, name: str) -> None:
        await trio.sleep_until(self._pending[name])
        if name in self._pending:
            await self._echo(name)

    async def _echo(self, name: str) -> None:
        del self._pending[name]
        self.echoed.append(name)
        await self.connection.twilio_sends({"event": "mark", "mark": {"name": name}})
        self._changed.set()
        self._changed = trio.Event()

    async def wait_echoed(self, name: str) -> None:
        while name not in self.echoed:
            await self._changed.wait()

    def events(self) -> list[str]:
        return [m["event"] for _, m in self.received]

    def frames_after_clear(self) -> list[int]:
        """The byte value of every frame sent after the first clear."""
        clear_at = self.events().index("clear")
        return [base64.b64decode(m["media"]["payload"])[0]
                for _, m in self.received[clear_at:] if m["event"] == "media"]  # fmt: skip

    def cleared_at(self) -> float:
        return next(at for at, m in self.received if m["event"] == "clear")


class LoudVad:
    """Stands in for Silero: a loud frame is speech."""

    async def probability(self, pcm16: bytes) -> float:
        return 1.0 if max(map(abs, array("h", pcm16))) > 1000 else 0.0


class ScriptedRecognizer:
    """Stands in for the recogniser. When the VAD hears the caller stop, it makes out the
    words the test set in ``next_words`` (None: nothing); and, as a streaming recogniser
    can, words the VAD found too short to be speech, when the test says so (``hears``).
    Like a real one it sends from its own task, so a transcript follows its SpeechStopped."""

    def __init__(self) -> None:
        self.next_words: str | None = None
        self._heard, self._to_send = trio.open_memory_channel[Transcript](8)

    @contextlib.asynccontextmanager
    async def hearing(self, transcripts: trio.MemorySendChannel[Transcript]) -> AsyncIterator[None]:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._send_all, transcripts)
            yield
            nursery.cancel_scope.cancel()

    def hear(self, frame: InboundAudio, pcm16: bytes, change: SegmenterEvent | None) -> None:
        if isinstance(change, SpeechStopped) and self.next_words is not None:
            self._heard.send_nowait(
                Transcript(self.next_words, True, change.at, trio.current_time())
            )
            self.next_words = None

    def listen_for(self, expectation: Expectation) -> None:
        pass

    def hears(self, text: str) -> None:
        self._heard.send_nowait(Transcript(text, True, None, trio.current_time()))

    async def _send_all(self, transcripts: trio.MemorySendChannel[Transcript]) -> None:
        async for transcript in self._to_send:
            await transcripts.send(transcript)


@dataclass
class FakeCaller:
    """The caller's end of the line: a microphone sending a frame to Twilio's stream every
    20 ms, loud while they speak, and the recogniser that will make out their words."""

    connection: FakeConnection
    recognizer: ScriptedRecognizer = field(default_factory=ScriptedRecognizer)
    speaking: bool = False
    voiced_at: float | None = None
    """When the first loud frame of the current speech went out."""
    dialled: trio.Event = field(default_factory=trio.Event)
    """Set once the supervisor asks for the Listener's engines: the call is starting."""
    _microphone: trio.CancelScope = field(default_factory=trio.CancelScope)
    _frame_sent: trio.Event = field(default_factory=trio.Event)
    _chunk: int = 0

    async def listener_engines(self) -> ListenerEngines:
        self.dialled.set()
        return ListenerEngines(LoudVad(), new_segmenter(CONFIG.vad), self.recognizer)

    async def talk(self) -> None:
        with self._microphone:
            while True:
                if not self.speaking:
                    self.voiced_at = None
                elif self.voiced_at is None:
                    self.voiced_at = trio.current_time()
                await self.connection.twilio_sends(self._media())
                self._frame_sent.set()
                self._frame_sent = trio.Event()
                await trio.sleep(FRAME_S)

    async def start_speaking(self) -> float:
        """Speak from the next frame on; returns when its first loud frame went out."""
        self.speaking = True
        while self.voiced_at is None:
            await self._frame_sent.wait()
        return self.voiced_at

    def hang_up(self) -> None:
        self._microphone.cancel()
        self.connection.twilio_hangs_up()

    def _media(self) -> dict[str, Any]:
        self._chunk += 1
        payload = base64.b64encode(SPEECH_FRAME if self.speaking else SILENCE_FRAME).decode()
        return {
            "event": "media",
            "sequenceNumber": str(self._chunk + 1),
            "media": {"track": "inbound", "chunk": str(self._chunk),
                      "timestamp": str(self._chunk * FRAME_MS), "payload": payload},
            "streamSid": STREAM.stream_sid,
        }  # fmt: skip


@dataclass
class Call:
    twilio: FakeTwilio
    engine: FakeEngine
    caller: FakeCaller

    async def caller_starts(self) -> float:
        """The caller speaks; returns once the VAD's SpeechStarted is out (``min_speech_ms``
        after the first voiced frame), with that frame's time."""
        voiced_at = await self.caller.start_speaking()
        await trio.sleep_until(voiced_at + VAD_MS)
        return voiced_at

    async def caller_pauses(self, seconds: float) -> None:
        """A breath, shorter than the VAD's end silence: still the same speech."""
        self.caller.speaking = False
        await trio.sleep(seconds)

    async def caller_stops(self, text: str | None) -> None:
        """Silence: after the VAD's end silence SpeechStopped, then the final transcript
        (None: the recogniser heard nothing)."""
        self.caller.recognizer.next_words = text
        self.caller.speaking = False
        await trio.sleep(END_SILENCE_S + 2 * FRAME_S)


@contextlib.asynccontextmanager
async def pipeline(recording: CallRecording | None = None) -> AsyncIterator[Call]:
    """One call through ``run_call``, the supervisor the server runs, with the fakes above."""
    connection, engine = FakeConnection(), FakeEngine()
    twilio, caller = FakeTwilio(connection), FakeCaller(connection)
    with tempfile.TemporaryDirectory() as folder:
        services = CallServices(
            config=CONFIG,
            speech=engine,
            new_listener_engines=caller.listener_engines,
            store=AppointmentStore(CONFIG, Path(folder) / "appointments.db", now=lambda: NOW),
            now=lambda: NOW,
            stream_tokens=StreamTokens(b"unused: the stream has started"),
        )
        async with trio.open_nursery() as nursery:
            nursery.start_soon(twilio.run, nursery)
            call_over = trio.Event()

            async def place_call() -> None:
                await run_call(connection, STREAM, services, recording=recording)
                call_over.set()

            nursery.start_soon(place_call)
            # No deadline before this: the Scheduler opens its database in a worker thread
            # first, and meanwhile the mock clock would jump straight to any deadline.
            await caller.dialled.wait()
            with trio.fail_after(TEST_TIMEOUT_S):
                nursery.start_soon(caller.talk)
                yield Call(twilio, engine, caller)
                await trio.sleep(2)  # let whatever follows play out
                caller.hang_up()
                await call_over.wait()
            nursery.cancel_scope.cancel()  # FakeTwilio: Twilio's side never closes
