"""Listener: the actor that hears the caller. VAD on every inbound frame, turn events out to
the Dialogue at once, and the audio to a recogniser, whose transcripts follow.

::

    audio ─► mu-law to PCM ─► VAD ─► segmenter ─► SpeechStarted / Paused / Resumed / Stopped
      │                                 │   │       ─► events (at once)
      │                                 │   └─► settling ─► CallerSettled ─► events
      └─────────────────────────────────┴─► recognizer.hear(frame, pcm16, change)
                                                ··► Transcript ─► (relay) ─► events
    hints ─► recognizer.listen_for(expectation)

Transcripts pass through the Listener (a relay with no buffer) so that it knows which frames
it heard after each final: ``turns.settling`` counts the caller's quiet from there.

The recogniser is one of two (``Recognizer``): ``UtteranceRecognizer`` (offline: each
utterance the VAD cut, decoded whole in worker processes) or ``DeepgramRecognizer``
(Deepgram's live stream, asked for a final as soon as the VAD hears the caller stop),
behind ``FallbackRecognizer``, which hands the rest of the call to the offline one if
Deepgram gives up.
"""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from time import perf_counter_ns
from typing import Protocol

import structlog
import trio

from receptionist import frame_costs
from receptionist.engines.audio import ulaw_to_pcm16
from receptionist.engines.vad import FrameVad, SegmenterEvent, SpeechSegmenter
from receptionist.messages import Expectation, InboundAudio, ListenerEvent, ListenFor, Transcript
from receptionist.turns.settling import Settling

log = structlog.get_logger()


class Recognizer(Protocol):
    """One call's speech recogniser, fed by the Listener's VAD front end."""

    def hearing(
        self, transcripts: trio.MemorySendChannel[Transcript]
    ) -> AbstractAsyncContextManager[None]:
        """Ready to hear inside, sending what it recognises to ``transcripts``. Leaving it
        ends the call's recognition: the last words are sent, or dropped, before it exits."""
        ...

    def hear(self, frame: InboundAudio, pcm16: bytes, change: SegmenterEvent | None) -> None:
        """One frame, as Twilio sent it and as PCM, and the turn event the VAD made of it.
        Never waits: the turn events, which barge-in depends on, must keep flowing."""
        ...

    def listen_for(self, expectation: Expectation) -> None:
        """What the Dialogue expects the caller to say next (a recogniser may narrow on it)."""
        ...


@dataclass(frozen=True, slots=True)
class ListenerEngines:
    """One call's own, made fresh for each call (``CallServices.new_listener_engines``)."""

    vad: FrameVad
    segmenter: SpeechSegmenter
    recognizer: Recognizer


async def run_listener(
    audio: trio.MemoryReceiveChannel[InboundAudio],
    hints: trio.MemoryReceiveChannel[ListenFor],
    events: trio.MemorySendChannel[ListenerEvent],
    *,
    engines: ListenerEngines,
    settle_ms: int,
    settle_max_ms: int,
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Hear the caller until the audio channel closes (the call ended).

    Sends each turn event as the VAD decides it, the recogniser's transcripts as they come,
    and ``CallerSettled`` after ``settle_ms`` of quiet audio following a final or speech.
    ``started`` once the recogniser is ready (with Deepgram: connected).

    Args:
        engines: this call's VAD stream, segmenter and recogniser.
        settle_ms: ``turn_taking.settle_ms``.
        settle_max_ms: ``turn_taking.settle_max_ms`` (see ``turns.settling``).

    Resource handling:
        Closes all three channel ends on exit, after the recogniser has had its last word
        (see ``Recognizer.hearing``; the recognisers bound how long that takes). Hints are
        always read, whatever the recogniser makes of them: a full channel would block the
        Dialogue.

    Error handling:
        Whatever the recogniser cannot absorb (see each), VAD errors and a closed
        ``events`` channel propagate to the call's error boundary.
    """
    with audio, hints, events:
        recognizer, settling = engines.recognizer, Settling(settle_ms, settle_max_ms)
        # No buffer: a transcript is with the Dialogue before the next frame is heard.
        heard_send, heard_recv = trio.open_memory_channel[Transcript](0)
        async with trio.open_nursery() as relaying:
            relaying.start_soon(_relay, heard_recv, events, settling)
            with heard_send:
                async with recognizer.hearing(heard_send), trio.open_nursery() as nursery:
                    nursery.start_soon(_follow_hints, hints, recognizer)
                    task_status.started()
                    await _hear(audio, engines, events, settling)
                    nursery.cancel_scope.cancel()


async def _hear(
    audio: trio.MemoryReceiveChannel[InboundAudio],
    engines: ListenerEngines,
    events: trio.MemorySendChannel[ListenerEvent],
    settling: Settling,
) -> None:
    costs = frame_costs.current()
    segmenter = engines.segmenter
    async for frame in audio:
        began = perf_counter_ns()
        pcm16 = ulaw_to_pcm16(frame.ulaw)
        costs.inbound_parse_ns += perf_counter_ns() - began  # the VAD stream counts its own
        probability = await engines.vad.probability(pcm16)
        change = segmenter.handle(probability, frame.at)
        engines.recognizer.hear(frame, pcm16, change)
        if change is not None:
            await events.send(change)
        if (settled := settling.frame(len(frame.ulaw), segmenter.voiced, frame.at)) is not None:
            await events.send(settled)


async def _relay(
    heard: trio.MemoryReceiveChannel[Transcript],
    events: trio.MemorySendChannel[ListenerEvent],
    settling: Settling,
) -> None:
    """The recogniser's transcripts on to the Dialogue, each final with words starting the
    count of the caller's quiet after it. Ends once the recogniser has had its last word, or
    the Dialogue has gone."""
    with heard:
        async for transcript in heard:
            if transcript.is_final and transcript.text.strip():
                settling.final_heard()
            try:
                await events.send(transcript)
            except trio.BrokenResourceError:
                # The Dialogue has ended (it returns on CallStopped; words flushed as the
                # stream closes can land after that): the recogniser's next send finds this
                # end closed, and its own rule says whether that is the call's end or an error.
                log.debug("listener.dialogue_gone", dropped=type(transcript).__name__)
                return


async def _follow_hints(
    hints: trio.MemoryReceiveChannel[ListenFor], recognizer: Recognizer
) -> None:
    async for hint in hints:
        recognizer.listen_for(hint.expectation)
