"""The Dialogue actor with its LLM brain: the fake OpenAI server over real sockets, the
rest of the call played by the test over memory channels (as in test_dialogue_actor)."""

from __future__ import annotations

from dataclasses import replace

import trio
import trio.testing

from receptionist.devtools.fakes.openai import Scripted, ToolCallScript
from receptionist.llm import FALLBACK, LlmEngine
from receptionist.llm.brain import GIVE_UP, KEYED_PREFIX
from receptionist.messages import (
    ClearAudio,
    DtmfPressed,
    EndCall,
    EndReason,
    MarkPlayed,
    SpeechStarted,
    SpeechStopped,
    Transcript,
)
from tests.helpers.dialogue import dialogue
from tests.helpers.dialogue_llm import (
    CONFIG,
    GRACE_S,
    greeted,
    llm_dialogue,
)


async def test_a_streamed_reply_becomes_one_turn_then_the_call_ends_after_it() -> None:
    goodbye = Scripted(
        text="You're welcome. Goodbye!", tool_calls=(ToolCallScript("end_call", {}),)
    )
    async with llm_dialogue(goodbye) as (call, fake):
        await greeted(call)
        heard = await call.caller_says("that's all, thanks")
        reply = await call.turn()
        assert [(s.turn_id, s.index, s.text, s.last) for s in reply] == [
            (2, 0, "You're welcome.", False),
            (2, 1, "Goodbye!", False),
            (2, 2, "", True),
        ]
        timings = reply[0].timings
        assert timings.transcript_final == heard.at
        assert timings.first_output is not None
        assert timings.first_sentence is not None
        assert timings.first_output <= timings.first_sentence
        # The caller speaking over the goodbye does not cut it short, and the line is not
        # closed on them: only once they have been silent for the grace period.
        await call.events.send(SpeechStarted(trio.current_time()))
        await trio.testing.wait_all_tasks_blocked()
        await call.played(reply)
        await trio.sleep(GRACE_S * 2)
        assert call.to_twilio.statistics().current_buffer_used == 0
        stopped_at = trio.current_time()
        await call.events.send(SpeechStopped(stopped_at))
        await call.events.send(Transcript("bye", True, None, stopped_at))
        assert await call.to_twilio.receive() == EndCall(EndReason.COMPLETED)
        assert trio.current_time() - stopped_at >= GRACE_S
    roles = [m["role"] for m in fake.requests[0].body["messages"]]
    assert roles == ["system", "assistant", "user"]  # the greeting is in the history


async def test_barge_in_stops_the_model_mid_reply() -> None:
    long = Scripted(text="Sure. " + "Here is a very long explanation. " * 30)
    replies = (long, Scripted(text="Of course, Tuesday."))
    async with llm_dialogue(*replies, token_delay_s=0.01) as (call, fake):
        await greeted(call)
        await call.caller_says("tell me everything")
        first = await call.sentences.receive()
        assert (first.turn_id, first.text) == (2, "Sure.")
        await call.events.send(MarkPlayed("turn2-s0", trio.current_time()))  # "Sure." played
        await call.events.send(SpeechStarted(trio.current_time()))
        cleared = await call.to_twilio.receive()
        assert isinstance(cleared, ClearAudio)
        assert cleared.turn_id == 2
        sent_then = len(fake.sent)
        await trio.sleep(0.1)  # ten tokens' time
        assert len(fake.sent) - sent_then <= 2  # the stream stopped at once
        await call.caller_says("actually, just tuesday")
        answer = await call.turn()
        # The first clause goes to the voice first.
        assert [s.text for s in answer if s.turn_id == 3] == ["Of course,", "Tuesday."]
    history = fake.requests[1].body["messages"]
    assert [m["content"] for m in history[-3:]] == [
        "tell me everything",
        "Sure. [interrupted]",  # only what the caller heard
        "actually, just tuesday",
    ]


async def test_a_failing_model_gets_the_fallback_line_and_the_call_goes_on() -> None:
    replies = (Scripted(status=500), Scripted(status=500), Scripted(text="We open at nine."))
    async with llm_dialogue(*replies) as (call, _):
        await greeted(call)
        await call.caller_says("when do you open")
        sorry = await call.turn()
        assert [(s.text, s.last) for s in sorry] == [(FALLBACK, True)]
        await call.played(sorry)
        await call.caller_says("when do you open")
        assert [s.text for s in await call.turn()] == ["We open at nine."]


async def test_silence_gets_reprompts_then_a_goodbye(autojump_clock: trio.abc.Clock) -> None:
    """No socket here (the model is never asked), so the mock clock can jump."""
    unreachable = LlmEngine(replace(CONFIG.llm, base_url="http://127.0.0.1:9/v1"), "sk-x")
    async with unreachable.open_client() as client, dialogue(CONFIG, llm=client, hints=16) as call:
        await greeted(call)
        for expected in ["Are you still there?", "Are you still there?", GIVE_UP]:
            turn = await call.turn()
            assert " ".join(s.text for s in turn) == expected
            await call.played(turn)
        assert await call.to_twilio.receive() == EndCall(EndReason.COMPLETED)


async def test_keypad_digits_reach_the_model_as_the_callers_turn() -> None:
    replies = (Scripted(text="Thanks, I have 555 987 6543."), Scripted(text="Yes, booked."))
    quick = replace(CONFIG, dialogue=replace(CONFIG.dialogue, reprompt_after_s=0.2))
    async with llm_dialogue(*replies, config=quick) as (call, fake):
        await greeted(call)
        for digit in "5559876543#":
            await call.events.send(DtmfPressed(digit, trio.current_time()))
        await call.played(await call.turn())
        assert fake.requests[0].body["messages"][-1] == {
            "role": "user",
            "content": f"{KEYED_PREFIX} 5559876543",
        }
        # One key and no "#": it goes when the caller falls silent, not a reprompt.
        await call.events.send(DtmfPressed("1", trio.current_time()))
        await call.played(await call.turn())
        assert fake.requests[1].body["messages"][-1]["content"] == f"{KEYED_PREFIX} 1"
