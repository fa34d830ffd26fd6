"""The Synthesizer actor, driven over memory channels with a scripted engine."""

import contextlib
from collections.abc import AsyncGenerator
from functools import partial

import pytest
import trio
from structlog.testing import capture_logs

from receptionist.devtools.steps import TaskSteps
from receptionist.errors import SpeechSynthesisError
from receptionist.messages import (
    FRAME_BYTES,
    ULAW_SILENCE,
    OutboundAudio,
    OutboundMark,
    Sentence,
    TurnTimings,
)
from receptionist.turns.cancellation import TurnCancellation
from stages.synthesizer import SynthesizerOutput, run_synthesizer

DEADLINE_S = 30
CHUNK_GAP_S = 0.05
"""How long the scripted engine takes per chunk (on the mock clock)."""


class ScriptedEngine:
    """Speaks each text as a fixed list of chunks; ``FAIL`` in a text raises after one."""

    def __init__(self, chunks: list[bytes]) -> None:
        self.chunks = chunks
        self.started: list[str] = []
        self.closed: list[str] = []

    async def stream_ulaw(self, text: str) -> AsyncGenerator[bytes, None]:
        self.started.append(text)
        try:
            for number, chunk in enumerate(self.chunks):
                await trio.sleep(CHUNK_GAP_S)
                if "FAIL" in text and number == 1:
                    raise SpeechSynthesisError("scripted failure")
                yield chunk
        finally:
            self.closed.append(text)


# 450 bytes: two whole frames and 130 bytes left for the padded last frame.
CHUNKS = [b"\x01" * 100, b"\x02" * 300, b"\x03" * 50]


def sentence(turn_id: int, index: int, text: str, last: bool = False) -> Sentence:
    timings = TurnTimings(speech_ended=1.0, transcript_final=1.2)
    return Sentence(turn_id, index, text, last, timings, caller_text=f"caller {turn_id}")


class Synthesizer:
    """The actor under test with the channel ends the Dialogue and TwilioIO would hold."""

    def __init__(self, outbound_buffer: int = 100) -> None:
        self.engine = ScriptedEngine(CHUNKS)
        self.turns = TurnCancellation()
        self.sentences, sentences_recv = trio.open_memory_channel[Sentence](16)
        outbound_send, self.outbound = trio.open_memory_channel[SynthesizerOutput](outbound_buffer)
        self._actor = partial(
            run_synthesizer, sentences_recv, outbound_send, engine=self.engine, turns=self.turns
        )

    async def start(self, nursery: trio.Nursery) -> None:
        await nursery.start(self._actor)

    async def speak_all(self, *sentences: Sentence) -> list[SynthesizerOutput]:
        """Send the sentences, close the inbox, and return everything the actor sent."""
        async with self.sentences:
            for item in sentences:
                await self.sentences.send(item)
        return [message async for message in self.outbound]


def summary(messages: list[SynthesizerOutput]) -> list[str]:
    """One word per message: "audio<turn>" or the mark name."""
    names = []
    for message in messages:
        match message:
            case OutboundAudio(turn_id=turn_id):
                names.append(f"audio{turn_id}")
            case OutboundMark(name=name):
                names.append(name)
    return names


async def test_sentences_become_whole_frames_then_a_mark(autojump_clock):
    synthesizer = Synthesizer()
    with trio.fail_after(DEADLINE_S):
        async with trio.open_nursery() as nursery:
            await synthesizer.start(nursery)
            out = await synthesizer.speak_all(
                sentence(1, 0, "Hello."), sentence(1, 1, "How can I help?", last=True)
            )
    assert summary(out) == ["audio1"] * 3 + ["turn1-s0"] + ["audio1"] * 3 + ["turn1-s1"]
    frames = [m.ulaw for m in out if isinstance(m, OutboundAudio)]
    assert all(len(frame) == FRAME_BYTES for frame in frames)
    assert b"".join(frames[:3]) == b"".join(CHUNKS) + ULAW_SILENCE * (3 * FRAME_BYTES - 450)
    assert out[3] == OutboundMark(1, name="turn1-s0", text="Hello.")


async def test_every_frame_carries_the_time_the_turns_first_audio_arrived(autojump_clock):
    synthesizer = Synthesizer()
    with trio.fail_after(DEADLINE_S):
        async with trio.open_nursery() as nursery:
            await synthesizer.start(nursery)
            started = trio.current_time()
            out = await synthesizer.speak_all(
                sentence(1, 0, "One."), sentence(1, 1, "Two.", last=True), sentence(2, 0, "Three.")
            )
    timings = {(m.turn_id, m.timings) for m in out if isinstance(m, OutboundAudio)}
    # Turn 1's second sentence started later but carries the turn's first audio time;
    # turn 2 starts its own, after the six chunks of turn 1.
    turn_1_first = started + CHUNK_GAP_S
    turn_2_first = turn_1_first + 2 * len(CHUNKS) * CHUNK_GAP_S
    (turn_a, timings_a), (turn_b, timings_b) = sorted(timings, key=lambda pair: pair[0])
    assert (turn_a, turn_b) == (1, 2)
    assert timings_a == TurnTimings(1.0, 1.2, first_audio=timings_a.first_audio)
    assert timings_a.first_audio == pytest.approx(turn_1_first)
    assert timings_b.first_audio == pytest.approx(turn_2_first)


async def test_sentence_of_an_already_cancelled_turn_produces_nothing(autojump_clock):
    synthesizer = Synthesizer()
    synthesizer.turns.cancel_through(1)
    with trio.fail_after(DEADLINE_S):
        async with trio.open_nursery() as nursery:
            await synthesizer.start(nursery)
            out = await synthesizer.speak_all(
                sentence(1, 0, "Stale.", last=True), sentence(2, 0, "Fresh.", last=True)
            )
    assert summary(out) == ["audio2"] * 3 + ["turn2-s0"]
    assert synthesizer.engine.started == ["Fresh."]


async def test_barge_in_mid_sentence_stops_that_turn_at_once_and_the_next_is_spoken(
    autojump_clock,
):
    synthesizer = Synthesizer(outbound_buffer=0)  # unbuffered: we see each send as it happens
    with trio.fail_after(DEADLINE_S):
        async with trio.open_nursery() as nursery:
            await synthesizer.start(nursery)
            await synthesizer.sentences.send(sentence(1, 0, "A long answer.", last=True))
            await synthesizer.sentences.send(sentence(2, 0, "Yes?", last=True))
            first = await synthesizer.outbound.receive()
            synthesizer.turns.cancel_through(1)  # the caller spoke over the first frame
            synthesizer.sentences.close()
            rest = [message async for message in synthesizer.outbound]
    assert summary([first]) == ["audio1"]
    assert summary(rest) == ["audio2"] * 3 + ["turn2-s0"]
    assert synthesizer.engine.closed == ["A long answer.", "Yes?"]


async def test_a_failing_sentence_is_logged_and_the_call_goes_on(autojump_clock):
    synthesizer = Synthesizer()
    with trio.fail_after(DEADLINE_S):
        async with trio.open_nursery() as nursery:
            await synthesizer.start(nursery)
            with capture_logs() as logs:
                out = await synthesizer.speak_all(
                    sentence(1, 0, "FAIL here."), sentence(1, 1, "Fine.", last=True)
                )
    # The first chunk (100 bytes) was spoken, padded to a frame; then the mark all the same.
    assert summary(out) == ["audio1", "turn1-s0"] + ["audio1"] * 3 + ["turn1-s1"]
    assert logs == [
        {
            "event": "synthesis_failed",
            "log_level": "warning",
            "turn_id": 1,
            "index": 0,
            "error": "scripted failure",
        }
    ]


async def test_closing_the_inbox_ends_the_actor_and_closes_its_outbox(autojump_clock):
    synthesizer = Synthesizer()
    with trio.fail_after(DEADLINE_S):
        async with trio.open_nursery() as nursery:
            await synthesizer.start(nursery)
            assert await synthesizer.speak_all() == []


async def test_an_empty_closing_sentence_sends_its_mark_without_asking_the_engine():
    class NeverCalled:
        def stream_ulaw(self, text):  # type: ignore[no-untyped-def]
            raise AssertionError(f"engine asked to speak {text!r}")

    sentences_send, sentences = trio.open_memory_channel[Sentence](4)
    outbound, outbound_recv = trio.open_memory_channel[object](16)
    with trio.fail_after(5):
        async with trio.open_nursery() as nursery:
            await nursery.start(
                partial(
                    run_synthesizer,
                    sentences,
                    outbound,
                    engine=NeverCalled(),
                    turns=TurnCancellation(),
                )
            )
            with sentences_send:
                await sentences_send.send(
                    Sentence(turn_id=1, index=0, text=" ", last=True, timings=TurnTimings())
                )
    sent = [message async for message in outbound_recv]
    assert [type(m) for m in sent] == [OutboundMark]


async def _read_outbox(
    synthesizer: Synthesizer, frames: list[bytes], message_frames: int, every_s: float
) -> tuple[list[SynthesizerOutput], int]:
    """Speak ``frames`` as one sentence through a 20-frame outbox read ``message_frames``
    at a time (without waiting, as the writer fills a message) every ``every_s``; what was
    read, and how many times the actor woke."""
    synthesizer.engine.chunks = [b"".join(frames)]
    counter = TaskSteps()
    trio.lowlevel.add_instrument(counter)
    received: list[SynthesizerOutput] = []
    try:
        with trio.fail_after(DEADLINE_S):
            async with trio.open_nursery() as nursery:
                await synthesizer.start(nursery)
                await synthesizer.sentences.send(sentence(1, 0, "A long answer.", last=True))
                synthesizer.sentences.close()
                async for message in synthesizer.outbound:
                    received.append(message)
                    for _ in range(message_frames - 1):
                        with contextlib.suppress(trio.WouldBlock, trio.EndOfChannel):
                            received.append(synthesizer.outbound.receive_nowait())
                    await trio.sleep(every_s)
    finally:
        trio.lowlevel.remove_instrument(counter)
    return received, counter.of("run_synthesizer")


async def test_a_full_outbox_wakes_the_actor_once_per_message_taken_not_per_frame(
    autojump_clock,
):
    """Two seconds of speech (100 frames) read as the writer reads it, three frames to a
    60 ms message: every frame arrives, in order, and the actor wakes about once per
    message, not once per frame (each wake is a round of the event loop)."""
    frames = [bytes([n]) * 160 for n in range(100)]
    received, wakes = await _read_outbox(Synthesizer(outbound_buffer=20), frames, 3, 0.06)
    audio = [message.ulaw for message in received if isinstance(message, OutboundAudio)]
    assert audio == frames
    assert summary(received)[-1] == "turn1-s0"
    assert wakes <= 50  # read a frame at a time, it wakes over 80 times


async def test_an_unpaced_reader_gets_the_audio_as_fast_as_it_reads(autojump_clock):
    """A writer that does not pace (a fast replay) takes frames as soon as they are queued:
    the actor never idles on a guess of how fast audio plays (a full outbox once made it
    sleep half a buffer's playback, and a fast replay's caller heard a second of silence
    mid-sentence and thought the reply over)."""
    frames = [bytes([n]) * 160 for n in range(100)]
    began = trio.current_time()
    received, _ = await _read_outbox(Synthesizer(outbound_buffer=20), frames, 1, 0)
    audio = [message.ulaw for message in received if isinstance(message, OutboundAudio)]
    assert audio == frames
    assert trio.current_time() - began < 2 * CHUNK_GAP_S
