"""The holding line: when the model answers with tool calls alone, the caller hears "One
moment, please." (or "Let me check.") at once, before the tool waits for the turn to settle,
runs, and the model writes the answer; one turn, held, cut and withdrawn as any.

The Dialogue actor on the LLM brain against the fake OpenAI served in process
(``FakeOpenAITransport``), under ``autojump_clock``. The settle time is long (``SETTLE_S``)
so that "before the settle wait" is plain in the timeline.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime
from typing import Any

import pytest
import trio
import trio.testing
from structlog.testing import capture_logs

from receptionist.config import load_config
from receptionist.devtools.fakes.openai import FakeOpenAI, Scripted, ToolCallScript
from receptionist.messages import ClearAudio, Sentence, SpeechStarted
from receptionist.scheduling.messages import (
    Appointment,
    BookingCancelled,
    BookingConfirmed,
    BookSlot,
    CancelBooking,
    FindFreeSlots,
    FreeSlots,
)
from tests.helpers.clinic import TUESDAY
from tests.helpers.config import CONFIG_TOML, changed, problems
from tests.helpers.dialogue import TZ
from tests.helpers.dialogue_llm import CONFIG as LLM_CONFIG
from tests.helpers.dialogue_llm import appointment_for, greeted, llm_dialogue
from tests.helpers.llm import BOOK_TUESDAY, CHECK_TUESDAY, CONFIG, NINE, Call, openai_in_process
from tests.helpers.llm import appointment_for as ninth_appointment

SETTLE_S = 2.0
SETTLING = replace(
    LLM_CONFIG, turn_taking=replace(LLM_CONFIG.turn_taking, settle_ms=int(SETTLE_S * 1000))
)  # fmt: skip
CANCEL = ToolCallScript("cancel_appointment", {"appointment_id": 9})
DONE = "Done, it's cancelled."
ONE_MOMENT = LLM_CONFIG.llm.holding_line_changing
LET_ME_CHECK = LLM_CONFIG.llm.holding_line_checking


def _cancelled(request: CancelBooking) -> BookingCancelled:
    start = datetime(2026, 12, 1, 9, tzinfo=TZ)
    booked: Appointment = appointment_for(BookSlot(0, "check-up", start, "Ada", "+1555", ""))
    return BookingCancelled(request.request_id, booked)


def _assistant_rounds(fake: FakeOpenAI, request: int) -> list[dict[str, Any]]:
    return [m for m in fake.requests[request].body["messages"][1:] if m["role"] == "assistant"]


async def test_a_tool_only_answer_gets_one_holding_line_at_once_then_the_answer(
    autojump_clock: trio.abc.Clock,
) -> None:
    replies = (Scripted(tool_calls=(CANCEL,)), Scripted(text=DONE))
    async with llm_dialogue(*replies, config=SETTLING, in_process=True) as (call, fake):
        await greeted(call)
        await call.caller_says("Please cancel my appointment.")
        final_at = trio.current_time()
        line = await call.sentences.receive()
        assert (line.text, line.index, line.last) == (ONE_MOMENT, 0, False)
        assert trio.current_time() - final_at < SETTLE_S  # not after the tool's settle wait
        assert call.scheduler.statistics().current_buffer_used == 0  # the tool has not run
        request = await call.scheduler.receive()
        assert isinstance(request, CancelBooking)
        assert trio.current_time() - final_at >= SETTLE_S
        await call.events.send(_cancelled(request))
        rest = await call.turn()
    assert [(s.turn_id, s.text) for s in rest if s.text] == [(line.turn_id, DONE)]  # one turn
    # The model is told what was said in the round of its tool call, so it does not repeat it.
    holding = _assistant_rounds(fake, 1)[-1]
    assert holding["content"] == ONE_MOMENT
    assert holding["tool_calls"][0]["function"]["name"] == "cancel_appointment"
    result = fake.requests[1].body["messages"][-1]
    assert json.loads(result["content"])["cancelled"]["appointment_id"] == 9


async def test_a_lookup_gets_let_me_check_and_a_second_round_no_second_line(
    autojump_clock: trio.abc.Clock,
) -> None:
    rounds = (Scripted(tool_calls=(CHECK_TUESDAY,)), Scripted(tool_calls=(BOOK_TUESDAY,)))
    async with openai_in_process(*rounds, Scripted(text="Booked.")) as (fake, client):
        call = Call({FindFreeSlots: FreeSlots(0, TUESDAY, (NINE,), True)})
        call.replies[BookSlot] = BookingConfirmed(0, ninth_appointment())
        await call.agent(client).reply("book me the first slot tuesday", call.say)
    assert call.words == [(LET_ME_CHECK, False), ("Booked.", True)]
    first, second = _assistant_rounds(fake, 2)
    assert (first["content"], second["content"]) == (LET_ME_CHECK, None)


@pytest.mark.parametrize(
    ("first", "then"),
    [
        # The model wrote words before its tool call: they are the turn's first words.
        (Scripted(text="Sure, I'll cancel that.", tool_calls=(CANCEL,)), Scripted(text=DONE)),
        # Hanging up carries its own line: the goodbye, written in the next round.
        (Scripted(tool_calls=(ToolCallScript("end_call", {}),)), Scripted(text="Goodbye!")),
        # Nothing runs for escalate: the model answers at once.
        (Scripted(tool_calls=(ToolCallScript("escalate", {"reason": "upset"}),)),
         Scripted(text="I'm sorry about that.")),
    ],
)  # fmt: skip
async def test_no_holding_line_when_the_model_wrote_words_or_the_tool_has_its_own(
    autojump_clock: trio.abc.Clock, first: Scripted, then: Scripted
) -> None:
    async with openai_in_process(first, then) as (_fake, client):
        call = Call({CancelBooking: BookingCancelled(0, ninth_appointment())})
        with capture_logs() as logs:
            await call.agent(client).reply("cancel it please", call.say)
    assert {text for text, _ in call.words} & {ONE_MOMENT, LET_ME_CHECK} == set()
    assert "llm.holding_line" not in [log["event"] for log in logs]


async def test_an_empty_line_in_the_config_turns_it_off(autojump_clock: trio.abc.Clock) -> None:
    off = replace(CONFIG, llm=replace(CONFIG.llm, holding_line_checking=""))
    replies = (Scripted(tool_calls=(CHECK_TUESDAY,)), Scripted(text="Nine is free."))
    async with openai_in_process(*replies, config=off) as (_fake, client):
        call = Call({FindFreeSlots: FreeSlots(0, TUESDAY, (NINE,), True)})
        await call.agent(client, off).reply("anything tuesday?", call.say)
    assert call.words == [("Nine is free.", True)]


async def test_a_barge_in_during_the_holding_line_stops_the_tool_and_the_answer(
    autojump_clock: trio.abc.Clock,
) -> None:
    replies = (Scripted(tool_calls=(CANCEL,)), Scripted(text="What can I do?"))
    async with llm_dialogue(*replies, config=SETTLING, in_process=True) as (call, fake):
        await greeted(call)
        await call.caller_says("Please cancel my appointment.")
        line = await call.sentences.receive()
        assert line.text == ONE_MOMENT
        call.turns.audible(line.turn_id)  # it has begun to play
        await call.events.send(SpeechStarted(trio.current_time()))  # "wait, no..."
        assert isinstance(await call.to_twilio.receive(), ClearAudio)
        await trio.sleep(SETTLE_S + 0.5)  # past when the cancel would have run
        assert call.scheduler.statistics().current_buffer_used == 0  # it never ran
        assert _sentences_of(call, line.turn_id) == []  # nothing more of the turn
        await call.caller_says("Actually, keep it.")
        answer = await call.turn()
        assert [s.text for s in answer if s.text] == ["What can I do?"]
    assert len(fake.requests) == 2  # no answer was written to the cancelled tool call
    history = fake.requests[1].body["messages"]
    cut = next(m for m in history if m.get("tool_calls"))
    result = history[history.index(cut) + 1]
    assert json.loads(result["content"])["error"] == "interrupted"


def _sentences_of(call: Any, turn_id: int) -> list[Sentence]:
    waiting: list[Sentence] = []
    while True:
        try:
            sentence = call.sentences.receive_nowait()
        except trio.WouldBlock:
            return [s for s in waiting if s.turn_id == turn_id and s.text]
        waiting.append(sentence)


async def test_the_holding_line_is_held_while_the_caller_goes_on_then_withdrawn(
    autojump_clock: trio.abc.Clock,
) -> None:
    replies = (
        Scripted(tool_calls=(CANCEL,), first_token_delay_s=0.05),  # to "Yes," alone
        Scripted(tool_calls=(CANCEL,)),  # to "Yes, please cancel it."
        Scripted(text=DONE),
    )
    async with llm_dialogue(*replies, config=SETTLING, in_process=True) as (call, fake):
        await greeted(call)
        await call.caller_says("Yes,")
        line = await call.sentences.receive()  # written while the caller breathes
        assert line.text == ONE_MOMENT
        await call.events.send(SpeechStarted(trio.current_time()))  # they go on
        await trio.testing.wait_all_tasks_blocked(cushion=0.05)  # the Dialogue has seen it
        assert call.turns.is_held(line.turn_id)  # none of it reaches them
        assert call.scheduler.statistics().current_buffer_used == 0
        await call.caller_says("please cancel it.")
        cut = await call.to_twilio.receive()
        assert isinstance(cut, ClearAudio)
        assert cut.turn_id == line.turn_id  # withdrawn with its turn, never heard
        request = await call.scheduler.receive()
        assert isinstance(request, CancelBooking)
        await call.events.send(_cancelled(request))
        answer: list[Sentence] = []
        while DONE not in [s.text for s in answer]:
            answer = [s for s in await call.turn() if s.turn_id != line.turn_id]
        assert [s.text for s in answer if s.text] == [ONE_MOMENT, DONE]
        assert call.scheduler.statistics().current_buffer_used == 0  # cancelled once
    users = [m["content"] for m in fake.requests[-1].body["messages"] if m["role"] == "user"]
    assert users == ["Yes, please cancel it."]  # the fragment and its line are forgotten


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("I've booked that for you.", "must promise nothing (it is said before the tool"),
        ("All done!", "must promise nothing"),
        ("...", 'must be words, or "" for none'),
        ("One moment please, " * 4, "must be at most 60 characters"),
        (5, "must be a string, got 5"),
    ],
)
def test_a_bad_holding_line_names_its_key(line: object, expected: str) -> None:
    for key in ("holding_line_checking", "holding_line_changing"):
        (problem,) = problems(changed(llm={key: line}))
        assert problem.startswith(f"llm.{key}: {expected}"), problem


def test_config_toml_says_what_a_receptionist_would() -> None:
    settings = load_config(CONFIG_TOML, environ={}).llm
    assert (settings.holding_line_checking, settings.holding_line_changing) == (
        "Let me check.",
        "One moment, please.",
    )
