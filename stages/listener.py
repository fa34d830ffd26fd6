"""Listener: the actor that hears the caller. VAD on every inbound frame, speech recognition
of each utterance, turn events and transcripts out to the Dialogue.

Two tasks, so recognition never stops the audio: the reader runs the VAD on each frame as
it arrives and sends SpeechStarted / SpeechStopped at once; each finished utterance goes
over a small channel to the decoder task, which recognises it in a worker thread and sends
the final Transcript.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import Protocol

import structlog
import trio

from receptionist.config import VadConfig
from receptionist.engines.audio import ulaw_to_pcm16
from receptionist.engines.utterances import Utterance, UtteranceAssembler
from receptionist.engines.vad import FrameVad, SegmenterEvent, SpeechSegmenter
from receptionist.errors import SpeechRecognitionError
from receptionist.messages import (
    SAMPLE_RATE,
    Expectation,
    InboundAudio,
    ListenFor,
    Transcript,
)

log = structlog.get_logger()

ListenerEvent = SegmenterEvent | Transcript
UTTERANCES_IN_FLIGHT = 2
"""Finished utterances waiting for the decoder. Decoding takes 5-15% of an utterance's
length, so normally none waits; two cover a quick "yes... yes please" during a slow decode.
If it is ever full the reader drops the utterance (and logs it) rather than stop reading
audio: the turn events, which barge-in depends on, must keep flowing."""
_DEFAULTS = VadConfig()


class Recognition(Protocol):
    @property
    def text(self) -> str: ...
    @property
    def confidence(self) -> float | None: ...


class Recognizer(Protocol):
    """One call's recogniser (``receptionist.engines.decoding``); one decode at a time."""

    async def recognize(self, pcm16: bytes, expectation: Expectation) -> Recognition: ...


@dataclass(slots=True)
class _Listening:
    """What the reader shares with the hints task: the Dialogue's latest expectation."""

    expectation: Expectation = Expectation.OPEN


async def run_listener(
    audio: trio.MemoryReceiveChannel[InboundAudio],
    hints: trio.MemoryReceiveChannel[ListenFor],
    events: trio.MemorySendChannel[ListenerEvent],
    *,
    vad: FrameVad,
    segmenter: SpeechSegmenter,
    recognizer: Recognizer,
    preroll_ms: int = _DEFAULTS.preroll_ms,
    max_utterance_s: float = _DEFAULTS.max_utterance_s,
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Hear the caller until the audio channel closes.

    Sends SpeechStarted and SpeechStopped as the VAD decides them, then for each utterance
    a final ``Transcript`` decoded with the expectation last received on ``hints`` (OPEN
    until one arrives). An utterance recognised as nothing sends no Transcript.

    Args:
        vad: this call's VAD stream (``VadModel.new_stream()``).
        segmenter: this call's smoothing state machine (``new_segmenter(config.vad)``).
        recognizer: this call's recogniser, already loaded (``SphinxModel.new_recognizer``).

    Resource handling:
        Closes all three channel ends on exit. Holds at most ``preroll_ms`` of audio while
        the caller is silent, ``max_utterance_s`` per utterance, and
        ``UTTERANCES_IN_FLIGHT`` utterances queued. When the audio channel closes (the call
        ended) utterances not yet decoded are dropped: nobody is left to hear the answer.
        A decode in progress is not abandoned: cancellation waits for it (a fraction of a
        second, bounded by the utterance cap), so the decoder is never left in use.

    Error handling:
        SpeechRecognitionError for one utterance is logged and the utterance skipped (the
        Dialogue reprompts after silence). VAD errors, a closed ``events`` channel and
        everything else propagate to the call's error boundary.
    """
    with audio, hints, events:
        assembler = UtteranceAssembler(
            segmenter, preroll_ms=preroll_ms, max_utterance_s=max_utterance_s
        )
        listening = _Listening()
        send, receive = trio.open_memory_channel[Utterance](UTTERANCES_IN_FLIGHT)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(_follow_hints, hints, listening)
            nursery.start_soon(_decode_utterances, receive, recognizer, events)
            task_status.started()
            with send:
                await _read_audio(audio, vad, assembler, listening, send, events)
            nursery.cancel_scope.cancel()  # the call is over: pending decodes are moot


async def _read_audio(
    audio: trio.MemoryReceiveChannel[InboundAudio],
    vad: FrameVad,
    assembler: UtteranceAssembler,
    listening: _Listening,
    utterances: trio.MemorySendChannel[Utterance],
    events: trio.MemorySendChannel[ListenerEvent],
) -> None:
    async for frame in audio:
        pcm16 = ulaw_to_pcm16(frame.ulaw)
        event, utterance = assembler.handle(pcm16, vad.probability(pcm16), frame.at)
        if event is not None:
            await events.send(event)
        if utterance is not None:
            _queue(replace(utterance, expectation=listening.expectation), utterances)


def _queue(utterance: Utterance, utterances: trio.MemorySendChannel[Utterance]) -> None:
    if utterance.truncated:
        log.warning("listener.utterance_truncated", started_at=utterance.started_at)
    try:
        utterances.send_nowait(utterance)
    except trio.WouldBlock:
        log.warning("listener.utterance_dropped", queued=UTTERANCES_IN_FLIGHT)


async def _follow_hints(hints: trio.MemoryReceiveChannel[ListenFor], listening: _Listening) -> None:
    async for hint in hints:
        listening.expectation = hint.expectation


async def _decode_utterances(
    utterances: trio.MemoryReceiveChannel[Utterance],
    recognizer: Recognizer,
    events: trio.MemorySendChannel[ListenerEvent],
) -> None:
    with utterances:
        async for utterance in utterances:
            transcript = await _recognize(utterance, recognizer)
            if transcript is not None:
                await events.send(transcript)


async def _recognize(utterance: Utterance, recognizer: Recognizer) -> Transcript | None:
    started = time.perf_counter()  # CPU-side wall time, for the log only
    try:
        result = await recognizer.recognize(utterance.pcm16, utterance.expectation)
    except SpeechRecognitionError as exc:
        log.error("listener.recognition_failed", error=str(exc))
        return None
    audio_s = len(utterance.pcm16) / (2 * SAMPLE_RATE)
    decode_s = time.perf_counter() - started
    expectation = utterance.expectation.value
    if not result.text:
        log.debug("listener.heard_nothing", audio_s=audio_s, expectation=expectation)
        return None
    log.info("listener.transcript", audio_s=round(audio_s, 2), decode_s=round(decode_s, 3),
             expectation=expectation)  # fmt: skip
    log.debug("listener.transcript_text", text=result.text)
    return Transcript(
        text=result.text,
        is_final=True,
        speech_ended_at=utterance.speech_ended_at,
        at=trio.current_time(),
        confidence=result.confidence,
    )
