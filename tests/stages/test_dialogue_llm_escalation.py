"""The LLM brain back after an unanswered transfer, and escalating on the caller's words:
the Dialogue actor against the fake OpenAI server (as in test_dialogue_llm)."""

from __future__ import annotations

from dataclasses import replace
from types import MappingProxyType

import trio
from structlog.testing import capture_logs

from receptionist.devtools.fakes.openai import Scripted
from receptionist.messages import CallStarted
from tests.helpers.dialogue import Harness
from tests.helpers.dialogue_llm import CONFIG, greeted, llm_dialogue

RESUMED = MappingProxyType({"caller": "+15551234567", "resume": "transfer-unanswered"})


async def test_back_after_an_unanswered_transfer_the_caller_hears_an_apology() -> None:
    async with llm_dialogue(Scripted(text="Thank you, Jane. What is it about?")) as (call, fake):
        started = CallStarted("CA1", "MZ2", "+15551234567", RESUMED, trio.current_time())
        await call.events.send(started)
        opening = " ".join(s.text for s in await call.turn()).strip()
        assert opening.startswith("Sorry, nobody could take your call just now.")
        assert opening.endswith("What's your name?")
        await call.caller_says("jane doe")
        await call.turn()
    system = fake.requests[0].body["messages"][0]["content"]
    assert "nobody answered" in system
    assert "take_message" in system


async def said_to_the_model(call: Harness, text: str, confidence: float | None = None) -> None:
    await call.caller_says(text, confidence)
    await call.played(await call.turn())


async def test_angry_words_are_logged_once_and_the_model_told_to_offer_help() -> None:
    replies = [Scripted(text="I'm sorry. Can I take a message?"), Scripted(text="Of course.")]
    with capture_logs() as logs:
        async with llm_dialogue(*replies) as (call, fake):
            await greeted(call)
            await said_to_the_model(call, "this is ridiculous")
            await said_to_the_model(call, "yes please")
    assert [e["reason"] for e in logs if e["event"] == "call.escalated"] == ["angry_words"]
    angry = fake.requests[0].body["messages"][-1]["content"]
    assert angry.startswith("this is ridiculous [note: the caller seems frustrated (angry_words)")
    assert "take a message" in angry  # no transfer number in this clinic
    assert fake.requests[1].body["messages"][-1]["content"] == "yes please"


async def test_three_faint_recognitions_in_a_row_escalate() -> None:
    config = replace(CONFIG, dialogue=replace(CONFIG.dialogue, min_confidence=0.5))
    replies = [Scripted(text="Sorry?"), Scripted(text="Pardon?"), Scripted(text="I'm sorry.")]
    with capture_logs() as logs:
        async with llm_dialogue(*replies, config=config) as (call, fake):
            await greeted(call)
            await said_to_the_model(call, "mumble", confidence=0.2)
            await said_to_the_model(call, "grumble", confidence=0.1)
            await said_to_the_model(call, "fumble", confidence=0.3)
    assert [e["reason"] for e in logs if e["event"] == "call.escalated"] == ["not_understood"]
    assert "(not_understood)" in fake.requests[2].body["messages"][-1]["content"]
