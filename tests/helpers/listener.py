"""The Listener actor over memory channels, with the offline recogniser behind it: the test
audio, a stand-in VAD and decoder, and the test's ends of the channels."""

from __future__ import annotations

import threading
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from functools import partial

import numpy as np
import trio
import trio.testing

from receptionist.config import TurnTakingConfig, VadConfig
from receptionist.engines.audio import pcm16_to_ulaw
from receptionist.engines.sphinx import Recognition
from receptionist.engines.utterance_recognizer import (
    Decoder,
    UtteranceRecognizer,
)
from receptionist.engines.utterances import UtteranceAssembler
from receptionist.engines.vad import (
    FrameVad,
    SpeechSegmenter,
)
from receptionist.messages import (
    FRAME_BYTES,
    FRAME_MS,
    ULAW_SILENCE,
    CallerSettled,
    Expectation,
    InboundAudio,
    ListenerEvent,
    ListenFor,
    Transcript,
)
from stages.listener import ListenerEngines, run_listener

TEST_LIMIT_S = 10
SETTLE_MS = TurnTakingConfig().settle_ms
SETTLE_MAX_MS = TurnTakingConfig().settle_max_ms
AUDIO_BUFFER = 4
"""Small on purpose: a reader that stops reading blocks the test's sends at once."""
SPEECH = pcm16_to_ulaw(
    (8000 * np.sin(np.arange(FRAME_BYTES) * 2 * np.pi * 440 / 8000)).astype(np.int16).tobytes()
)
SILENCE = ULAW_SILENCE * FRAME_BYTES
DEFAULTS = VadConfig()


class EnergyVad:
    """Stands in for the VAD: a loud frame is speech."""

    async def probability(self, pcm16: bytes) -> float:
        samples = np.frombuffer(pcm16, dtype=np.int16).astype(np.float64)
        return 1.0 if np.sqrt(np.mean(samples**2)) > 1000 else 0.0


@dataclass
class FakeDecoder:
    """Answers from a script; ``gate`` (when given) holds each decode until it is set."""

    answers: list[str | Exception] = field(default_factory=lambda: ["hello"] * 10)
    gate: threading.Event | None = None
    heard: list[tuple[int, Expectation]] = field(default_factory=list)

    async def recognize(self, pcm16: bytes, expectation: Expectation) -> Recognition:
        return await trio.to_thread.run_sync(self._decode, pcm16, expectation)

    def _decode(self, pcm16: bytes, expectation: Expectation) -> Recognition:
        if self.gate is not None:
            self.gate.wait(TEST_LIMIT_S)
        self.heard.append((len(pcm16), expectation))
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return Recognition(answer, 0.5)


def fast_segmenter() -> SpeechSegmenter:
    """Starts after 2 voiced frames, stops after 5 silent ones: short test scripts."""
    return SpeechSegmenter(threshold=0.5, min_speech_ms=40, end_silence_ms=100)


@dataclass
class Call:
    audio: trio.MemorySendChannel[InboundAudio]
    hints: trio.MemorySendChannel[ListenFor]
    events: trio.MemoryReceiveChannel[ListenerEvent]
    sent: int = 0
    settled: list[CallerSettled] = field(default_factory=list)

    async def play(self, frames: Iterable[bytes], *, speedup: float | None = None) -> None:
        """Send ``frames``, at once or ``speedup`` times faster than real time."""
        for ulaw in frames:
            await self.audio.send(InboundAudio(ulaw, at=self.sent * FRAME_MS / 1000))
            self.sent += 1
            if speedup is not None:
                await trio.sleep(FRAME_MS / 1000 / speedup)

    async def say(self, speech_frames: int = 10) -> None:
        await self.play([SILENCE] * 3 + [SPEECH] * speech_frames + [SILENCE] * 6)

    async def next_event(self) -> ListenerEvent:
        """The next turn event or transcript (``CallerSettled`` kept apart, in ``settled``)."""
        while isinstance(event := await self.events.receive(), CallerSettled):
            self.settled.append(event)
        return event

    async def next_kinds(self, count: int) -> list[type]:
        return [type(await self.next_event()) for _ in range(count)]

    async def next_transcript(self) -> Transcript:
        event = await self.next_event()
        assert isinstance(event, Transcript), event
        return event

    async def rest(self) -> list[ListenerEvent]:
        """Every event left until the Listener closes, ``CallerSettled`` apart."""
        return [event async for event in self.events if not isinstance(event, CallerSettled)]


StartListener = Callable[..., Awaitable[Call]]


def listener_starter(nursery: trio.Nursery) -> StartListener:
    """A ``start_listener`` fixture's value: starts a Listener with the offline recogniser
    (``decoder``) in ``nursery`` and hands back the test's ends of its channels."""

    async def start(
        decoder: Decoder, vad: FrameVad | None = None, segmenter: SpeechSegmenter | None = None
    ) -> Call:
        audio_send, audio_recv = trio.open_memory_channel[InboundAudio](AUDIO_BUFFER)
        hints_send, hints_recv = trio.open_memory_channel[ListenFor](4)
        events_send, events_recv = trio.open_memory_channel[ListenerEvent](16)
        segmenter = segmenter or fast_segmenter()
        assembler = UtteranceAssembler(
            segmenter, preroll_ms=DEFAULTS.preroll_ms, max_utterance_s=DEFAULTS.max_utterance_s
        )
        engines = ListenerEngines(
            vad or EnergyVad(), segmenter, UtteranceRecognizer(decoder, assembler)
        )
        listener = partial(
            run_listener,
            audio_recv,
            hints_recv,
            events_send,
            engines=engines,
            settle_ms=SETTLE_MS,
            settle_max_ms=SETTLE_MAX_MS,
        )
        await nursery.start(listener)
        return Call(audio_send, hints_send, events_recv)

    return start
