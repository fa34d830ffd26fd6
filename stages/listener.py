"""Listener: the actor that hears the caller. VAD on every inbound frame, turn events out to
the Dialogue at once, and the audio to a recogniser, whose transcripts follow.

::

    audio ─► mu-law to PCM ─► VAD ─► segmenter ─► SpeechStarted / Paused / Resumed / Stopped
      │                                 │           ─► events (at once)
      └─────────────────────────────────┴─► recognizer.hear(frame, pcm16, change)
                                                ··► Transcript ─► events
    hints ─► recognizer.listen_for(expectation)

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

import trio

from receptionist import frame_costs
from receptionist.engines.audio import ulaw_to_pcm16
from receptionist.engines.vad import FrameVad, SegmenterEvent, SpeechSegmenter
from receptionist.messages import Expectation, InboundAudio, ListenerEvent, ListenFor, Transcript


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
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Hear the caller until the audio channel closes (the call ended).

    Sends each turn event as the VAD decides it, and the recogniser's transcripts as they
    come. ``started`` once the recogniser is ready (with Deepgram: connected).

    Args:
        engines: this call's VAD stream, segmenter and recogniser.

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
        recognizer = engines.recognizer
        async with recognizer.hearing(events), trio.open_nursery() as nursery:
            nursery.start_soon(_follow_hints, hints, recognizer)
            task_status.started()
            await _hear(audio, engines, events)
            nursery.cancel_scope.cancel()


async def _hear(
    audio: trio.MemoryReceiveChannel[InboundAudio],
    engines: ListenerEngines,
    events: trio.MemorySendChannel[ListenerEvent],
) -> None:
    costs = frame_costs.current()
    async for frame in audio:
        began = perf_counter_ns()
        pcm16 = ulaw_to_pcm16(frame.ulaw)
        costs.inbound_parse_ns += perf_counter_ns() - began  # the VAD stream counts its own
        probability = await engines.vad.probability(pcm16)
        change = engines.segmenter.handle(probability, frame.at)
        engines.recognizer.hear(frame, pcm16, change)
        if change is not None:
            await events.send(change)


async def _follow_hints(
    hints: trio.MemoryReceiveChannel[ListenFor], recognizer: Recognizer
) -> None:
    async for hint in hints:
        recognizer.listen_for(hint.expectation)
