"""The Listener actor over memory channels, with the offline recogniser.

These run on the real clock: recognition runs off the event loop (a worker thread, or worker
processes as in the server), which a mock clock would jump past (autojump advances time
while the decode works and fires the test's deadline).
Nothing here waits on the clock: frames carry made-up timestamps, and ``fail_after`` is
only a safety net.
"""

from __future__ import annotations

import threading

import pytest
import trio
import trio.testing

from receptionist.engines.utterance_recognizer import (
    UTTERANCES_IN_FLIGHT,
)
from receptionist.errors import SpeechRecognitionError
from receptionist.messages import (
    FRAME_MS,
    CallerSettled,
    Expectation,
    ListenFor,
    SpeechStarted,
    SpeechStopped,
    Transcript,
)
from tests.helpers.listener import (
    SETTLE_MS,
    SILENCE,
    SPEECH,
    TEST_LIMIT_S,
    Call,
    FakeDecoder,
    StartListener,
    listener_starter,
)

FRAMES_TO_SETTLE = SETTLE_MS // FRAME_MS


@pytest.fixture
def start_listener(nursery: trio.Nursery) -> StartListener:
    return listener_starter(nursery)


async def test_speech_then_silence_gives_started_stopped_and_a_transcript(
    start_listener: StartListener,
) -> None:
    with trio.fail_after(TEST_LIMIT_S):
        decoder = FakeDecoder(["next tuesday"])
        call = await start_listener(decoder)
        await call.say(speech_frames=10)  # speech in frames 3-12
        assert await call.next_event() == SpeechStarted(at=0.06)
        assert await call.next_event() == SpeechStopped(at=0.24)
        transcript = await call.next_event()
        assert isinstance(transcript, Transcript)
        assert (transcript.text, transcript.is_final) == ("next tuesday", True)
        assert transcript.speech_ended_at == 0.24
        assert transcript.confidence == 0.5
        assert decoder.heard[0][1] is Expectation.OPEN


async def test_the_reader_keeps_reading_while_a_decode_runs(start_listener: StartListener) -> None:
    with trio.fail_after(TEST_LIMIT_S):
        gate = threading.Event()
        decoder = FakeDecoder(["first", "second"], gate=gate)
        call = await start_listener(decoder)
        await call.say()
        assert await call.next_kinds(2) == [SpeechStarted, SpeechStopped]
        # The first decode is stuck in its thread; a second utterance still flows through.
        await call.say()
        assert await call.next_kinds(2) == [SpeechStarted, SpeechStopped]
        await call.play([SILENCE] * 50)  # many more frames than the audio buffer holds
        await trio.testing.wait_all_tasks_blocked()
        assert call.audio.statistics().current_buffer_used == 0
        assert decoder.heard == []
        gate.set()
        assert [(await call.next_transcript()).text for _ in range(2)] == ["first", "second"]


async def test_hints_switch_the_expectation(start_listener: StartListener) -> None:
    with trio.fail_after(TEST_LIMIT_S):
        decoder = FakeDecoder()
        call = await start_listener(decoder)
        for expectation in (Expectation.YES_NO, Expectation.DIGITS, Expectation.OPEN):
            await call.hints.send(ListenFor(expectation))
            await trio.testing.wait_all_tasks_blocked()
            await call.say()
            assert await call.next_kinds(3) == [SpeechStarted, SpeechStopped, Transcript]
        assert [e for _, e in decoder.heard] == [
            Expectation.YES_NO, Expectation.DIGITS, Expectation.OPEN,
        ]  # fmt: skip


async def test_nothing_heard_and_failed_decodes_send_no_transcript(
    start_listener: StartListener,
) -> None:
    with trio.fail_after(TEST_LIMIT_S):
        decoder = FakeDecoder(["", SpeechRecognitionError("boom"), "yes"])
        call = await start_listener(decoder)
        for _ in range(3):
            await call.say()
        assert await call.next_kinds(7) == [SpeechStarted, SpeechStopped] * 3 + [Transcript]


async def test_utterances_beyond_the_queue_are_dropped_not_waited_for(
    start_listener: StartListener,
) -> None:
    with trio.fail_after(TEST_LIMIT_S):
        gate = threading.Event()
        decoder = FakeDecoder(gate=gate)
        call = await start_listener(decoder)
        for _ in range(UTTERANCES_IN_FLIGHT + 2):  # one decoding, the queue full, one over
            await call.say()
            assert await call.next_kinds(2) == [SpeechStarted, SpeechStopped]
            await trio.testing.wait_all_tasks_blocked()
        gate.set()
        for _ in range(UTTERANCES_IN_FLIGHT + 1):
            await call.next_transcript()
        await call.audio.aclose()
        assert await call.rest() == []
        assert len(decoder.heard) == UTTERANCES_IN_FLIGHT + 1


async def test_closing_the_audio_ends_the_listener_and_closes_its_channels(
    start_listener: StartListener,
) -> None:
    with trio.fail_after(TEST_LIMIT_S):
        call = await start_listener(FakeDecoder())
        await call.play([SILENCE] * 5 + [SPEECH] * 5)  # ends mid-speech: nothing to decode
        await call.audio.aclose()
        assert [type(event) for event in await call.rest()] == [SpeechStarted]
        with pytest.raises(trio.BrokenResourceError):
            await call.hints.send(ListenFor(Expectation.OPEN))


async def settled_so_far(call: Call) -> list[CallerSettled]:
    """``CallerSettled`` events the Listener has sent for the frames played so far (other
    events are passed over)."""
    await trio.testing.wait_all_tasks_blocked()
    while True:
        try:
            event = call.events.receive_nowait()
        except trio.WouldBlock:
            return call.settled
        if isinstance(event, CallerSettled):
            call.settled.append(event)


async def test_the_caller_settles_after_the_settle_time_of_quiet_audio_after_a_final(
    start_listener: StartListener,
) -> None:
    with trio.fail_after(TEST_LIMIT_S):
        call = await start_listener(FakeDecoder(["no"]))
        await call.say()
        assert await call.next_kinds(3) == [SpeechStarted, SpeechStopped, Transcript]
        call.settled.clear()  # any count before the final is not the one under test
        # The frames arrive in a burst, as on a loaded server: the count is in audio.
        await call.play([SILENCE] * (FRAMES_TO_SETTLE - 1))
        assert await settled_so_far(call) == []
        await call.play([SILENCE])
        assert await settled_so_far(call) == [CallerSettled(at=(call.sent - 1) * FRAME_MS / 1000)]
        await call.play([SILENCE] * 50)
        assert len(await settled_so_far(call)) == 1


async def test_a_caller_going_on_within_the_settle_time_does_not_settle(
    start_listener: StartListener,
) -> None:
    with trio.fail_after(TEST_LIMIT_S):
        call = await start_listener(FakeDecoder(["no", "that's everything"]))
        await call.say()
        assert await call.next_kinds(3) == [SpeechStarted, SpeechStopped, Transcript]
        call.settled.clear()
        await call.play([SILENCE] * (FRAMES_TO_SETTLE - 2) + [SPEECH] * 3)  # "No, [pause] that's"
        await call.play([SILENCE] * (FRAMES_TO_SETTLE - 1))
        assert await call.next_kinds(3) == [SpeechStarted, SpeechStopped, Transcript]
        assert await settled_so_far(call) == []
        await call.play([SILENCE] * FRAMES_TO_SETTLE)  # after "...that's everything": settled
        assert len(await settled_so_far(call)) == 1
