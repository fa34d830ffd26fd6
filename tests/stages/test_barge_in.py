"""Barge-in through the real supervisor (``run_call``): every actor of a call wired as the
server wires it, with its engines injected: a voice that speaks in traceable chunks and, for
the Listener, a VAD that hears the caller's loud frames and a recogniser that says what the
test scripts. Twilio is played by ``FakeTwilio`` on a ``FakeConnection`` (the caller's audio
every 20 ms, marks echoed as playback reaches them, pending ones at once on ``clear``, as
Twilio does), on the mock clock. The LLM cases use the fake OpenAI server (real sockets, so
no mock clock) and check the model's history."""

from __future__ import annotations

import json

import trio
import trio.testing
from structlog.testing import capture_logs

from receptionist.config import VadConfig
from receptionist.devtools.fakes.openai import Scripted, ToolCallScript
from receptionist.engines.vad import new_segmenter
from receptionist.messages import (
    CallStarted,
    ClearAudio,
    MarkPlayed,
    SpeechStarted,
    SpeechStopped,
)
from receptionist.scheduling.messages import BookingConfirmed, BookSlot
from tests.helpers.dialogue_llm import appointment_for, greeted, llm_dialogue
from tests.helpers.llm import BOOK_TUESDAY
from tests.helpers.pipeline import (
    FALSE_BARGE_IN_S,
    GREETING,
    HOURS,
    pipeline,
)


async def test_barge_in_between_two_sentences_of_the_greeting(
    autojump_clock: trio.abc.Clock,
) -> None:
    async with pipeline() as call:
        second_sentence = trio.Event()

        async def hold_the_second_sentence(text: str, number: int) -> None:
            if text == GREETING[1]:
                await second_sentence.wait()  # synthesis is between the two sentences

        call.engine.before_chunk = hold_the_second_sentence
        await call.twilio.wait_echoed("turn1-s0")  # the first sentence has played
        with capture_logs() as logs:
            voiced_at = await call.caller_starts()
            await call.caller_stops(HOURS)
            await trio.sleep(1)
        assert call.twilio.cleared_at() - voiced_at < 0.2  # first voiced frame to clear
        [cut] = [log for log in logs if log["event"] == "dialogue.barge_in"]
        assert (cut["heard"], cut["unheard"]) == (GREETING[0], GREETING[1])
    assert GREETING[1] in call.engine.closed  # its synthesis was stopped
    after = call.twilio.frames_after_clear()
    assert not set(after) & call.engine.values(*GREETING)  # not one frame of the greeting
    assert after  # the answer about opening hours plays
    assert [t for t, _ in call.engine.spoken][2].startswith("We're open")


async def test_barge_in_during_the_first_tts_chunk(autojump_clock: trio.abc.Clock) -> None:
    sequencer, caller_spoke = trio.testing.Sequencer(), trio.Event()
    async with pipeline() as call:

        async def barge_in_after_the_first_chunk(text: str, number: int) -> None:
            if (text, number) == (GREETING[0], 1):
                async with sequencer(0):
                    pass  # the first chunk's frames are queued
                # The next chunk is slow to come: the VAD hears the caller out meanwhile.
                await caller_spoke.wait()

        call.engine.before_chunk = barge_in_after_the_first_chunk
        with capture_logs() as logs:
            async with sequencer(1):
                voiced_at = await call.caller_starts()
            caller_spoke.set()
            await call.caller_stops(HOURS)
            await trio.sleep(1)
        assert call.twilio.cleared_at() - voiced_at < 0.2
        [cut] = [log for log in logs if log["event"] == "dialogue.barge_in"]
        assert (cut["heard"], cut["unheard"]) == ("", " ".join(GREETING))
    assert call.engine.closed[0] == GREETING[0]  # stopped mid-sentence
    assert GREETING[1] not in [t for t, _ in call.engine.spoken]  # never synthesised
    assert not set(call.twilio.frames_after_clear()) & call.engine.values(*GREETING)


async def test_a_cough_too_short_for_the_vad_does_not_interrupt(
    autojump_clock: trio.abc.Clock,
) -> None:
    segmenter = new_segmenter(VadConfig(min_speech_ms=120))
    cough = [segmenter.handle(0.9, 1.0 + k * 0.02) for k in range(5)]  # 100 ms voiced
    cough += [segmenter.handle(0.0, 1.1 + k * 0.02) for k in range(50)]
    assert cough == [None] * len(cough)  # so the Dialogue hears nothing of it
    async with pipeline() as call:
        await call.twilio.wait_echoed("turn1-s1")
    assert "clear" not in call.twilio.events()


async def test_a_backchannel_while_the_agent_speaks_does_not_interrupt(
    autojump_clock: trio.abc.Clock,
) -> None:
    async with pipeline() as call:
        await call.twilio.wait_echoed("turn1-s0")
        # Too short for the VAD, but the recogniser made out "mm-hm".
        call.caller.recognizer.hears("Mm-hm.")
        await call.twilio.wait_echoed("turn1-s1")
    assert "clear" not in call.twilio.events()
    assert [t for t, _ in call.engine.spoken] == list(GREETING)  # no answer to "mm-hm"


async def test_a_cough_that_passes_the_vad_cuts_in_then_the_agent_resumes(
    autojump_clock: trio.abc.Clock,
) -> None:
    async with pipeline() as call:
        await call.twilio.wait_echoed("turn1-s0")
        await call.caller_starts()
        await call.caller_stops(None)  # no words: it was noise
        await call.twilio.wait_echoed("turn2-s0")
    spoken = [t for t, _ in call.engine.spoken]
    assert spoken == [*GREETING, GREETING[1]]  # what was cut is said again, once
    assert call.twilio.events().count("clear") == 1


async def test_a_backchannel_that_cut_in_resumes_the_turn(autojump_clock: trio.abc.Clock) -> None:
    async with pipeline() as call:
        await call.twilio.wait_echoed("turn1-s0")
        await call.caller_starts()
        await call.caller_stops("uh-huh")
        await call.twilio.wait_echoed("turn2-s0")
    assert [t for t, _ in call.engine.spoken] == [*GREETING, GREETING[1]]


async def test_two_barge_ins_in_one_turn(autojump_clock: trio.abc.Clock) -> None:
    with capture_logs() as logs:
        async with pipeline() as call:
            await call.twilio.wait_echoed("turn1-s0")
            await call.caller_starts()
            await call.caller_pauses(0.3)
            await call.caller_starts()  # the same speech to the VAD, after a breath: one clear
            await call.caller_stops(None)
            await trio.sleep(FALSE_BARGE_IN_S + 0.1)  # no words: "How can I help?" plays again ...
            assert "turn2-s0" not in call.twilio.echoed
            await call.caller_starts()  # ... and is cut again, by words this time
            await call.caller_stops(HOURS)
            await trio.sleep(1)
    events = call.twilio.events()
    assert events.count("clear") == 2
    spoken = [t for t, _ in call.engine.spoken]
    assert spoken[:3] == [*GREETING, GREETING[1]]
    assert spoken[3].startswith("We're open")
    cut_turns = [log["turn_id"] for log in logs if log["event"] == "dialogue.barge_in"]
    assert max(cut_turns) >= 2  # turn 2 is cancelled: every cut cancels through its turn
    second_clear = len(events) - 1 - events[::-1].index("clear")
    late = [value for _, value in call.twilio.frames(since=second_clear)]
    assert not set(late) & call.engine.values(*GREETING)


# --- The LLM brain: what the model is told after a barge-in --------------------------------


async def test_llm_history_after_a_barge_in_during_the_greeting() -> None:
    async with llm_dialogue(Scripted(text="We open at nine.")) as (call, fake):
        await call.events.send(CallStarted("CA1", "MZ1", "+15551234567", at=trio.current_time()))
        greeting = await call.turn()
        await call.events.send(MarkPlayed("turn1-s0", trio.current_time()))
        await call.events.send(SpeechStarted(trio.current_time()))
        assert isinstance(await call.to_twilio.receive(), ClearAudio)
        await call.events.send(MarkPlayed("turn1-s1", trio.current_time()))  # echoed by clear
        await call.caller_says("when do you open")
        await call.turn()
    assert [s.text for s in greeting] == list(GREETING)
    messages = fake.requests[0].body["messages"]
    assert [(m["role"], m["content"]) for m in messages[1:]] == [
        ("assistant", f"{GREETING[0]} [interrupted]"),
        ("user", "when do you open"),
    ]


async def test_llm_booking_sent_before_a_barge_in_is_recorded_made_once_and_the_words_cut() -> None:
    replies = (
        Scripted(text="Booking that now.", tool_calls=(BOOK_TUESDAY,)),
        Scripted(text="You're all set."),
    )
    async with llm_dialogue(*replies) as (call, fake):
        await greeted(call)
        await call.caller_says("yes please book it")
        request = await call.scheduler.receive()
        assert isinstance(request, BookSlot)
        call.turns.audible(2)  # "Booking that now." has begun to play
        await call.events.send(SpeechStarted(trio.current_time()))  # during the tool call
        assert isinstance(await call.to_twilio.receive(), ClearAudio)
        await call.events.send(BookingConfirmed(request.request_id, appointment_for(request)))
        await call.caller_says("did that work?")
        answer = [s for s in await call.turn() if s.turn_id == 3]
        assert [s.text for s in answer] == ["You're all set."]
        assert call.scheduler.statistics().current_buffer_used == 0  # no second BookSlot
    history = fake.requests[1].body["messages"]
    user_at = next(i for i, m in enumerate(history) if m.get("content") == "yes please book it")
    turn = history[user_at + 1 :]
    assert turn[0]["content"] is None  # "Booking that now." was never heard
    assert turn[0]["tool_calls"][0]["function"]["name"] == "book_appointment"
    assert json.loads(turn[1]["content"])["booked"]["name"] == "Ada Lovelace"
    assert turn[2:] == [
        {"role": "assistant", "content": "[interrupted]"},
        {"role": "user", "content": "did that work?"},
    ]


async def test_llm_end_call_from_a_cut_turn_does_not_fire() -> None:
    goodbye = Scripted(
        text="Alright. Thanks for calling, goodbye!", tool_calls=(ToolCallScript("end_call", {}),)
    )
    async with llm_dialogue(goodbye, Scripted(text="Sure, go ahead."), token_delay_s=0.02) as (
        call,
        fake,
    ):
        await greeted(call)
        await call.caller_says("that's all")
        first = await call.sentences.receive()
        assert first.text == "Alright."
        call.turns.audible(2)  # it has begun to play
        await call.events.send(SpeechStarted(trio.current_time()))
        assert isinstance(await call.to_twilio.receive(), ClearAudio)
        await call.caller_says("oh wait, one more thing")
        answer = [s.text for s in await call.turn() if s.turn_id == 3]
        assert answer == ["Sure, go ahead."]
        await trio.sleep(0.3)  # the cut stream would have ended by now
        assert call.to_twilio.statistics().current_buffer_used == 0  # no EndCall
    history = fake.requests[1].body["messages"]
    assert [(m["role"], m["content"]) for m in history[-2:]] == [
        ("assistant", "[interrupted]"),
        ("user", "oh wait, one more thing"),
    ]


async def test_llm_resumes_after_a_false_barge_in() -> None:
    replies = (Scripted(text="Sure. We have Tuesday at ten."), Scripted(text="Tuesday at ten."))
    async with llm_dialogue(*replies, token_delay_s=0.01) as (call, fake):
        await greeted(call)
        await call.caller_says("any slots?")
        first = await call.sentences.receive()
        await call.events.send(MarkPlayed(f"turn2-s{first.index}", trio.current_time()))
        await call.events.send(SpeechStarted(trio.current_time()))
        assert isinstance(await call.to_twilio.receive(), ClearAudio)
        await call.events.send(SpeechStopped(trio.current_time()))  # and no words follow
        resumed = [s.text for s in await call.turn() if s.turn_id == 3]
        assert resumed == ["Tuesday at ten."]
    history = fake.requests[1].body["messages"]
    assert [(m["role"], m["content"]) for m in history[-2:]] == [
        ("user", "any slots?"),
        ("assistant", "Sure. [interrupted]"),  # the model goes on from there
    ]
