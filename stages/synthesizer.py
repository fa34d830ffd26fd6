"""Synthesizer: the actor that turns the Dialogue's sentences into 20 ms frames of speech.

Each sentence is spoken by the engine as it streams, cut into exact 160-byte frames, and
followed by a mark named after it, so the Dialogue learns when the caller has heard it.
The work of a sentence runs under its turn's cancel scope: a barge-in stops it mid-chunk.
"""

from __future__ import annotations

from collections.abc import Iterable
from contextlib import aclosing
from dataclasses import dataclass

import structlog
import trio

from receptionist.engines.audio import FrameSplitter
from receptionist.engines.tts import SpeechEngine
from receptionist.errors import SpeechSynthesisError
from receptionist.messages import OutboundAudio, OutboundMark, Sentence, TurnTimings
from receptionist.turns.cancellation import TurnCancellation

log = structlog.get_logger()

SynthesizerOutput = OutboundAudio | OutboundMark


async def run_synthesizer(
    sentences: trio.MemoryReceiveChannel[Sentence],
    outbound: trio.MemorySendChannel[SynthesizerOutput],
    *,
    engine: SpeechEngine,
    turns: TurnCancellation,
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Speak every sentence received, in order, until the sentence channel closes.

    Per sentence it sends OutboundAudio frames, then ``OutboundMark("turn{t}-s{i}")``.
    Sentences of a cancelled turn produce nothing, and a turn cancelled mid-sentence sends
    nothing more.

    Resource handling:
        Closes both channel ends on exit. Each sentence's engine stream is closed with
        ``aclosing`` before the next begins, so no synthesis outlives its sentence or a
        barge-in. Waits on ``outbound`` when it is full (see ``_send_frames``): that
        backpressure is what keeps synthesis only a buffer's length ahead of playback.

    Error handling:
        SpeechSynthesisError for one sentence is logged and that sentence skipped; its
        mark is still sent so the Dialogue's bookkeeping moves on.
        Cancellation of a turn ends only that turn's work; everything else propagates.
    """
    with sentences, outbound:
        task_status.started()
        turn = _TurnAudio(turn_id=None)
        async for sentence in sentences:
            if turns.is_cancelled(sentence.turn_id):
                continue
            if sentence.turn_id != turn.turn_id:
                turn = _TurnAudio(sentence.turn_id)
            with turns.scope(sentence.turn_id):
                await _speak(sentence, engine, outbound, turn)


@dataclass(slots=True)
class _TurnAudio:
    """What the actor remembers of the turn being spoken: when its audio began."""

    turn_id: int | None
    first_audio: float | None = None
    _timings: tuple[Sentence, TurnTimings] | None = None
    """The last sentence's timings, shared by its frames: one object per frame, queued
    seconds ahead, is work for each of the garbage collector's passes."""

    def audio_arrived(self) -> None:
        if self.first_audio is None:
            self.first_audio = trio.current_time()

    def timings_for(self, sentence: Sentence) -> TurnTimings:
        assert self.first_audio is not None, "no frame exists before the turn's first audio"
        if self._timings is None or self._timings[0] is not sentence:
            self._timings = (sentence, sentence.timings.with_first_audio(self.first_audio))
        return self._timings[1]


async def _speak(
    sentence: Sentence,
    engine: SpeechEngine,
    outbound: trio.MemorySendChannel[SynthesizerOutput],
    turn: _TurnAudio,
) -> None:
    splitter = FrameSplitter()
    try:
        # An LLM turn may close on an empty sentence: it still needs its mark, not audio.
        if sentence.text.strip():
            await _synthesize(sentence, engine, outbound, turn, splitter)
    except SpeechSynthesisError as exc:
        log.warning(
            "synthesis_failed", turn_id=sentence.turn_id, index=sentence.index, error=str(exc)
        )
    await _send_frames(splitter.flush(), sentence, turn, outbound)
    mark_name = f"turn{sentence.turn_id}-s{sentence.index}"
    await outbound.send(OutboundMark(sentence.turn_id, name=mark_name, text=sentence.text))


async def _synthesize(
    sentence: Sentence,
    engine: SpeechEngine,
    outbound: trio.MemorySendChannel[SynthesizerOutput],
    turn: _TurnAudio,
    splitter: FrameSplitter,
) -> None:
    async with aclosing(engine.stream_ulaw(sentence.text)) as chunks:
        async for chunk in chunks:
            if chunk:
                turn.audio_arrived()
                await _send_frames(splitter.push(chunk), sentence, turn, outbound)


async def _send_frames(
    frames: Iterable[bytes],
    sentence: Sentence,
    turn: _TurnAudio,
    outbound: trio.MemorySendChannel[SynthesizerOutput],
) -> None:
    """Queue the frames without a round of the event loop each while there is room.

    An awaited send is a round of the event loop each. So frames go in without waiting
    while the channel has room; a full one is waited on, and the writer, which takes a
    message's frames at once, wakes this task once per message, not once per frame. (Not
    a sleep for a guessed playback time: an unpaced writer, as in a fast replay, would
    go silent for that long.) A turn cancelled meanwhile is cancelled in that send.
    """
    for frame in frames:
        audio = OutboundAudio(sentence.turn_id, frame, turn.timings_for(sentence))
        try:
            outbound.send_nowait(audio)
        except trio.WouldBlock:
            await outbound.send(audio)
