"""The LLM agent against the fake OpenAI server, over real sockets on 127.0.0.1.

No autojump_clock: the SDK talks to a real socket, so timings here are real (and short).
"""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
import trio
from structlog.testing import capture_logs

from receptionist.devtools.fakes.openai import Scripted, ToolCallScript
from receptionist.errors import ConfigError
from receptionist.llm import FALLBACK, LlmAgent, build_llm
from receptionist.llm.tool_schemas import tool_schemas
from receptionist.messages import EndCall, EndReason
from receptionist.scheduling.messages import (
    BookingConfirmed,
    BookSlot,
    FindFreeSlots,
    FreeSlots,
    SchedulerReply,
    SchedulerRequest,
)
from tests.helpers.clinic import PHONE, TUESDAY, WEDNESDAY, at
from tests.helpers.llm import (
    BOOK_TUESDAY,
    CHECK_TUESDAY,
    CONFIG,
    KEY,
    NINE,
    NOW,
    Call,
    appointment_for,
    cancel_when,
    messages,
    openai_config,
    openai_server,
)


async def test_sentences_are_handed_over_while_the_model_still_streams() -> None:
    text = "Hello there. We're open until five today. Anything else?"
    async with openai_server(Scripted(text=text), token_delay_s=0.02) as (fake, client):
        call = Call()
        agent = call.agent(client)
        reply = await agent.reply("when do you close", call.say)
    assert call.words == [
        ("Hello there.", False),
        ("We're open until five today.", False),
        ("Anything else?", True),
    ]
    done_at = fake.sent[-1][0]
    assert call.said[0][0] < done_at - 0.1  # about six tokens before the end
    assert not reply.fell_back
    assert reply.end is None
    request = fake.requests[0]
    assert request.headers["authorization"] == f"Bearer {KEY}"
    assert (request.body["model"], request.body["stream"]) == ("gpt-4o-mini", True)
    assert next(t["function"]["name"] for t in request.body["tools"]) == "check_availability"
    assert [m["role"] for m in request.body["messages"]] == ["system", "user"]
    assert agent.history.messages[-1] == {"role": "assistant", "content": text}


async def test_a_tool_call_in_fragments_runs_once_then_the_model_speaks() -> None:
    first = Scripted(text="Let me check.", tool_calls=(CHECK_TUESDAY,))
    then = Scripted(text="I have nine or nine thirty. Which suits you?")
    async with openai_server(first, then) as (fake, client):
        call = Call({FindFreeSlots: FreeSlots(0, TUESDAY, (NINE, at(TUESDAY, "09:30")), True)})
        await call.agent(client).reply("a check-up on tuesday please", call.say)
    assert call.asked == [FindFreeSlots(1, "check-up", TUESDAY)]
    assert call.words == [
        ("Let me check.", False),
        ("I have nine or nine thirty.", False),
        ("Which suits you?", True),
    ]
    assistant, result = messages(fake, 1)[-2:]
    assert assistant["content"] == "Let me check."
    assert assistant["tool_calls"] == [
        {
            "id": "call_fake0",
            "type": "function",
            "function": {
                "name": "check_availability",
                "arguments": json.dumps(CHECK_TUESDAY.arguments),
            },
        }
    ]
    assert result["tool_call_id"] == "call_fake0"
    assert json.loads(result["content"])["free_times"] == ["09:00", "09:30"]


async def test_parallel_tool_calls_all_run_and_all_results_go_back() -> None:
    wednesday = ToolCallScript(
        "check_availability", {"service": "check-up", "date": "2026-12-02"}, id="call_wed"
    )
    parallel = Scripted(tool_calls=(CHECK_TUESDAY, wednesday))
    async with openai_server(parallel, Scripted(text="Both days are free.")) as (fake, client):
        call = Call({FindFreeSlots: FreeSlots(0, TUESDAY, (NINE,), True)})
        await call.agent(client).reply("tuesday or wednesday?", call.say)
    assert [request.day for request in call.asked] == [TUESDAY, WEDNESDAY]  # type: ignore[union-attr]
    assert [m.get("tool_call_id") for m in messages(fake, 1)[-2:]] == ["call_fake0", "call_wed"]
    assert call.words == [("Let me check.", False), ("Both days are free.", True)]


@pytest.mark.parametrize("status", [500, 429])
async def test_one_transient_failure_is_retried(status: int) -> None:
    replies = (Scripted(status=status), Scripted(text="We open at nine."))
    async with openai_server(*replies) as (fake, client):
        call = Call()
        reply = await call.agent(client).reply("when do you open", call.say)
    assert call.words == [("We open at nine.", True)]
    assert not reply.fell_back
    assert len(fake.requests) == 2


async def test_fallback_line_after_a_failed_retry() -> None:
    async with openai_server(Scripted(status=500), Scripted(status=503 - 3)) as (fake, client):
        call = Call()
        agent = call.agent(client)
        reply = await agent.reply("hello?", call.say)
    assert call.words == [(FALLBACK, True)]
    assert reply.fell_back
    assert len(fake.requests) == 2
    assert agent.history.messages[-2:] == [
        {"role": "user", "content": "hello?"},
        {"role": "assistant", "content": FALLBACK},
    ]


async def test_fallback_line_when_the_first_token_is_late() -> None:
    config = replace(CONFIG, llm=replace(CONFIG.llm, first_token_timeout_s=0.3))
    late = Scripted(text="Too late.", first_token_delay_s=5.0)
    async with openai_server(late, config=config) as (_, client):
        call = Call()
        started = trio.current_time()
        reply = await call.agent(client, config).reply("hello?", call.say)
    assert call.words == [(FALLBACK, True)]
    assert reply.fell_back
    assert 0.3 <= call.said[0][0] - started < 1.0


async def test_a_stream_dropped_before_any_word_is_retried() -> None:
    replies = (Scripted(text="Lost.", drop_after=1), Scripted(text="We open at nine."))
    async with openai_server(*replies) as (fake, client):
        call = Call()
        await call.agent(client).reply("when do you open", call.say)
    assert call.words == [("We open at nine.", True)]
    assert len(fake.requests) == 2


async def test_a_stream_dropped_mid_reply_is_not_retried() -> None:
    broken = Scripted(text="We open at nine. On Saturdays we", drop_after=8)
    async with openai_server(broken) as (fake, client):
        call = Call()
        agent = call.agent(client)
        await agent.reply("when do you open", call.say)
    assert call.words == [("We open at nine.", False), (FALLBACK, True)]
    assert len(fake.requests) == 1  # never a word twice
    assert [m["content"] for m in agent.history.messages[-2:]] == ["We open at nine.", FALLBACK]


async def test_barge_in_cancels_the_stream_at_once() -> None:
    text = "One moment please. " + "This is a long answer. " * 40
    async with openai_server(Scripted(text=text), token_delay_s=0.01) as (fake, client):
        call = Call()
        agent = call.agent(client)
        with trio.CancelScope() as turn:

            async def say(text: str, last: bool) -> None:
                await call.say(text, last)
                turn.cancel()  # the caller speaks over the first sentence

            await agent.reply("hi", say)
        cancelled_at, sent_then = trio.current_time(), len(fake.sent)
        await trio.sleep(0.1)
    assert turn.cancelled_caught
    assert call.words == [("One moment please.", False)]
    assert len(fake.sent) - sent_then <= 2  # the server saw the stream closed right away
    assert cancelled_at - call.said[0][0] < 0.05
    assert agent.history.messages[-1] == {"role": "assistant", "content": "One moment please."}


async def test_a_booking_under_way_completes_and_is_recorded_despite_barge_in() -> None:
    async with openai_server(Scripted(tool_calls=(BOOK_TUESDAY,))) as (fake, client):
        call, sent, release = Call(), trio.Event(), trio.Event()

        async def slow_scheduler(request: SchedulerRequest) -> SchedulerReply:
            call.asked.append(request)
            sent.set()
            await release.wait()
            return BookingConfirmed(request.request_id, appointment_for())

        agent = LlmAgent(client, CONFIG, call_tool=slow_scheduler, now=lambda: NOW, caller=PHONE)
        async with trio.open_nursery() as nursery:
            with trio.CancelScope() as turn, capture_logs() as logs:
                nursery.start_soon(cancel_when, sent, turn, release)
                await agent.reply("yes, book it", call.say)
    assert turn.cancelled_caught
    # What the model asked and what the Scheduler answered, for the call's record.
    (logged,) = [e["record_only"] for e in logs if e["event"] == "llm.tool_call"]
    assert logged["arguments"]["date"] == "2026-12-01"
    assert logged["result"]["booked"]["appointment_id"] == 9
    assert [type(request) for request in call.asked] == [BookSlot]
    assert len(fake.requests) == 1  # cancelled: no follow-up round
    tool_result = json.loads(agent.history.messages[-1]["content"])
    assert tool_result["booked"]["appointment_id"] == 9
    assert agent.history.messages[-2]["tool_calls"][0]["function"]["name"] == "book_appointment"


async def test_goodbye_and_end_call_end_the_turn_without_another_round() -> None:
    goodbye = Scripted(
        text="Thanks for calling. Goodbye!", tool_calls=(ToolCallScript("end_call", {}),)
    )
    async with openai_server(goodbye) as (fake, client):
        call = Call()
        reply = await call.agent(client).reply("that's all, bye", call.say)
    assert reply.end == EndCall(EndReason.COMPLETED)
    assert call.words == [("Thanks for calling.", False), ("Goodbye!", False), ("", True)]
    assert len(fake.requests) == 1


async def test_invalid_arguments_go_back_to_the_model_not_to_the_scheduler() -> None:
    bad = ToolCallScript("check_availability", {"service": "check-up", "date": "next tuesday"})
    replies = (Scripted(tool_calls=(bad,)), Scripted(text="Which date is that?"))
    async with openai_server(*replies) as (fake, client):
        call = Call()
        await call.agent(client).reply("next tuesday", call.say)
    assert call.asked == []
    assert json.loads(messages(fake, 1)[-1]["content"]) == {
        "error": "invalid_arguments",
        "detail": "date must be YYYY-MM-DD, got 'next tuesday'",
    }
    assert call.words == [("Which date is that?", True)]


async def test_tool_rounds_are_bounded_then_the_model_must_speak() -> None:
    config = replace(CONFIG, llm=replace(CONFIG.llm, max_tool_rounds=2))
    looping = [Scripted(tool_calls=(CHECK_TUESDAY,)) for _ in range(2)]
    async with openai_server(*looping, Scripted(text="Nine is free."), config=config) as (
        fake,
        client,
    ):
        call = Call({FindFreeSlots: FreeSlots(0, TUESDAY, (NINE,), True)})
        await call.agent(client, config).reply("tuesday", call.say)
    assert [r.body["tool_choice"] for r in fake.requests] == ["auto", "auto", "none"]
    assert call.words == [("Let me check.", False), ("Nine is free.", True)]  # one holding line


async def test_a_server_without_keys_gets_no_authorization_header() -> None:
    async with openai_server(Scripted(text="Hi."), api_key=None) as (fake, client):
        call = Call()
        await call.agent(client).reply("hello", call.say)
    assert "authorization" not in fake.requests[0].headers


async def test_the_request_carries_the_whole_body_and_the_key() -> None:
    """The body is sent as built (``LlmClient._request``), not through the SDK's typed
    arguments: the model, the history, the tools and every setting still reach the wire."""
    async with openai_server(Scripted(text="Hi."), Scripted(text="Nine.")) as (fake, client):
        call = Call()
        agent = call.agent(client)
        await agent.reply("hello", call.say)
        await agent.reply("is nine free", call.say)
    body, headers = fake.requests[1].body, fake.requests[1].headers
    assert headers["authorization"] == f"Bearer {KEY}"
    assert body["model"] == CONFIG.llm.model
    assert body["stream"] is True
    assert body["stream_options"] == {"include_usage": True}
    assert (body["temperature"], body["max_tokens"]) == (CONFIG.llm.temperature,
                                                         CONFIG.llm.max_tokens)  # fmt: skip
    assert [m["content"] for m in body["messages"] if m["role"] != "system"] == [
        "hello", "Hi.", "is nine free"
    ]  # fmt: skip
    assert body["messages"][0]["role"] == "system"
    assert body["tool_choice"] == "auto"
    assert body["tools"] == tool_schemas(CONFIG)


def test_build_llm_takes_the_key_from_the_environment_only() -> None:
    engine = build_llm(openai_config({"OPENAI_API_KEY": KEY}))
    assert engine.api_key == KEY
    assert KEY not in repr(engine)
    with pytest.raises(ConfigError, match="OPENAI_API_KEY"):
        openai_config({})
    assert build_llm(openai_config({}, api_key_env="")).api_key is None
    with pytest.raises(ConfigError, match="GROQ_API_KEY"):
        openai_config({"OPENAI_API_KEY": KEY}, api_key_env="GROQ_API_KEY")
    groq = openai_config({"GROQ_API_KEY": "gsk-test"}, api_key_env="GROQ_API_KEY")
    assert build_llm(groq).api_key == "gsk-test"
    with pytest.raises(ConfigError, match=r"llm\.first_token_timeout_s"):
        openai_config({"OPENAI_API_KEY": KEY}, first_token_timeout_s=0)
