"""The caller's end of a call through the real supervisor: a microphone sending a frame every
20 ms (loud while they speak), a loudness VAD and a scripted recogniser behind the real
Listener."""

from __future__ import annotations

import base64
import contextlib
from array import array
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import trio
import trio.lowlevel
import trio.testing

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
from stages.listener import ListenerEngines
from tests.helpers.dialogue import CONFIG
from tests.helpers.fake_connection import FakeConnection
from tests.helpers.twilio import STREAM

FRAME_S = FRAME_MS / 1000


SPEECH_FRAME = b"\x00" * FRAME_BYTES
"""The loudest mu-law there is: the caller speaking."""


SILENCE_FRAME = ULAW_SILENCE * FRAME_BYTES


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
                await _worker_threads_returned()
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


async def _worker_threads_returned() -> None:
    """Hold the mock clock while the server waits on a worker thread (the store's writes,
    such as the call's outcome as it ends): with ``autojump_clock``, a waiting event loop
    jumps to the next deadline, and this microphone's 20 ms frames would otherwise let
    whole seconds of call pass during one slow disk write. Runnable (``sleep(0)``), so the
    clock cannot jump; the thread itself runs in real time meanwhile."""
    limiter = trio.to_thread.current_default_thread_limiter()
    while limiter.borrowed_tokens:  # not an Event: waiting would let the clock jump
        await trio.lowlevel.checkpoint()
