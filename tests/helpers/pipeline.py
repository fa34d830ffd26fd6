"""A whole call through the real supervisor with injected engines: a loudness VAD and a
scripted recogniser behind the real Listener (fake_caller.py), speech as the caller's audio,
Twilio's side of the socket, and a speech engine whose every frame names its sentence."""

from __future__ import annotations

import base64
import contextlib
import json
import tempfile
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import trio
import trio.testing

from receptionist.call import CallServices, run_call
from receptionist.config import Config
from receptionist.messages import FRAME_BYTES
from receptionist.records.collector import CallRecording
from receptionist.scheduling.store import AppointmentStore
from receptionist.telephony.stream_tokens import StreamTokens
from tests.helpers.dialogue import CONFIG, NOW
from tests.helpers.fake_caller import FRAME_S, FakeCaller
from tests.helpers.fake_connection import FakeConnection
from tests.helpers.twilio import STREAM

TEST_TIMEOUT_S = 30


CHUNKS_PER_SENTENCE = 3


CHUNK_FRAMES = 5
"""Each chunk is 100 ms of audio: a sentence is 300 ms."""


VAD_MS = CONFIG.vad.min_speech_ms / 1000
"""SpeechStarted comes this long after the first voiced frame it is stamped with."""


END_SILENCE_S = CONFIG.vad.end_silence_ms / 1000
"""SpeechStopped comes this long after the last voiced frame."""


FALSE_BARGE_IN_S = CONFIG.turn_taking.false_barge_in_ms / 1000
"""A cut turn resumes this long after the speech that cut it stopped, if no words came."""


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
async def pipeline(
    recording: CallRecording | None = None, config: Config = CONFIG
) -> AsyncIterator[Call]:
    """One call through ``run_call``, the supervisor the server runs, with the fakes above."""
    connection, engine = FakeConnection(), FakeEngine()
    twilio, caller = FakeTwilio(connection), FakeCaller(connection)
    with tempfile.TemporaryDirectory() as folder:
        services = CallServices(
            config=config,
            speech=engine,
            new_listener_engines=caller.listener_engines,
            store=AppointmentStore(config, Path(folder) / "appointments.db", now=lambda: NOW),
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
