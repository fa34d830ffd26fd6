"""Preemptive generation through the Dialogue and its LLM brain, against the fake OpenAI
server: the model starts on the words heard when the caller pauses; the reply is kept when
the final transcript says the same, restarted when not, and nothing of a guess is said or
done (no tool runs, no history) unless it is kept."""

from __future__ import annotations

from collections.abc import Callable

import trio

from receptionist.devtools.fakes.openai import FakeOpenAI, Scripted
from receptionist.llm import FALLBACK
from receptionist.messages import SpeechStarted, SpeechStopped, Transcript
from receptionist.turns.lexicon import same_words
from tests.helpers.dialogue import Harness
from tests.helpers.dialogue_llm import greeted, llm_dialogue
from tests.helpers.llm import BOOK_TUESDAY


def answered(fake: FakeOpenAI) -> bool:
    return any(chunk == "[DONE]" for _, chunk in fake.sent)


def asked(times: int) -> Callable[[FakeOpenAI], bool]:
    return lambda fake: len(fake.requests) == times


async def pauses_after(call: Harness, words: str) -> None:
    """The caller speaks, the recogniser's interim has ``words``, the VAD hears a pause."""
    now = trio.current_time()
    await call.events.send(SpeechStarted(now))
    await call.events.send(Transcript(words, False, None, now + 0.3))
    await call.events.send(SpeechStopped(now + 0.4))


async def finalised(call: Harness, text: str) -> Transcript:
    now = trio.current_time()
    transcript = Transcript(text, True, speech_ended_at=now - 0.2, at=now)
    await call.events.send(transcript)
    return transcript


def last_user_words(fake: FakeOpenAI, request: int) -> str:
    return str(fake.requests[request].body["messages"][-1]["content"])


def test_same_words_ignores_case_and_punctuation() -> None:
    assert same_words("What are your opening hours?", "what are your opening hours")
    assert same_words("I'd like 10:30, please.", "i'd like 10 30 please")
    assert not same_words("what are your opening hours", "what are your opening")


async def test_a_guess_the_final_confirms_is_kept() -> None:
    replies = (Scripted(text="We open at nine."), Scripted(text="Anything else?"))
    async with llm_dialogue(*replies) as (call, fake):
        await greeted(call)
        await pauses_after(call, "what are your opening hours")
        await fake.until(answered)
        await trio.sleep(0.05)  # the model answered before the final came
        heard = await finalised(call, "What are your opening hours?")
        reply = await call.turn()
        assert [s.text for s in reply if s.text] == ["We open at nine."]
        assert reply[0].timings.first_output is not None
        assert reply[0].timings.first_output < heard.at
        assert len(fake.requests) == 1  # kept: not asked again
        await call.played(reply)
        await call.caller_says("no thanks")
        await call.turn()
    history = fake.requests[1].body["messages"]
    assert [(m["role"], m["content"]) for m in history[-3:]] == [
        ("user", "What are your opening hours?"),  # the final's words, once
        ("assistant", "We open at nine."),
        ("user", "no thanks"),
    ]


async def test_a_guess_the_final_contradicts_is_restarted_and_never_heard() -> None:
    replies = (Scripted(text="We open at nine."), Scripted(text="We are closed on Saturdays."))
    async with llm_dialogue(*replies) as (call, fake):
        await greeted(call)
        await pauses_after(call, "what are your opening hours")
        await fake.until(asked(1))
        await finalised(call, "What are your opening hours on Saturday?")
        reply = await call.turn()
        assert [s.text for s in reply if s.text] == ["We are closed on Saturdays."]
    assert last_user_words(fake, 0) == "what are your opening hours"
    assert last_user_words(fake, 1) == "What are your opening hours on Saturday?"
    assert len(fake.requests[1].body["messages"]) == len(fake.requests[0].body["messages"])


async def test_speaking_on_withdraws_the_guess_and_its_tool_call_never_runs() -> None:
    replies = (
        Scripted(text="Booking that now.", tool_calls=(BOOK_TUESDAY,)),
        Scripted(text="Which time on Tuesday?"),
    )
    async with llm_dialogue(*replies) as (call, fake):
        await greeted(call)
        await pauses_after(call, "book me in on tuesday")
        await fake.until(answered)
        await call.events.send(SpeechStarted(trio.current_time()))  # the caller goes on
        await pauses_after(call, "book me in on tuesday afternoon")
        await fake.until(asked(2))
        await finalised(call, "Book me in on Tuesday afternoon.")
        reply = await call.turn()
        assert [s.text for s in reply if s.text] == ["Which time on Tuesday?"]
        assert len(fake.requests) == 2
        assert call.scheduler.statistics().current_buffer_used == 0  # the guess booked nothing
    assert last_user_words(fake, 1) == "book me in on tuesday afternoon"


async def test_a_guess_whose_model_call_failed_is_asked_again_on_the_final() -> None:
    replies = (Scripted(status=500), Scripted(status=500), Scripted(text="We open at nine."))
    async with llm_dialogue(*replies) as (call, fake):
        await greeted(call)
        await pauses_after(call, "what are your opening hours")
        await fake.until(asked(2))  # the client's one retry
        await trio.sleep(0.05)  # ... fails too, before the final comes
        await finalised(call, "What are your opening hours?")
        reply = await call.turn()
        assert [s.text for s in reply if s.text] == ["We open at nine."]
        assert FALLBACK not in {s.text for s in reply}
        assert len(fake.requests) == 3
