"""The model's take_message and escalate tools against the fake OpenAI server: a message is
written before the model may say it was passed on, and a failed write is told as it is."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

from structlog.testing import capture_logs

from receptionist.devtools.fakes.openai import Scripted, ToolCallScript
from receptionist.llm import LlmAgent
from receptionist.llm.results import MESSAGE_NOT_SAVED, OFFER_MESSAGE
from receptionist.scheduling.messages import (
    BookingRejected,
    LeaveMessage,
    MessageReason,
    MessageSaved,
    RejectReason,
    SchedulerReply,
)
from tests.helpers.clinic import PHONE
from tests.helpers.llm import CONFIG, NOW, Call, messages, openai_server

TAKE_MESSAGE = ToolCallScript(
    "take_message",
    {
        "name": "Jane Doe",
        "about": "her test results",
        "reason": "asked",
        "number_confirmed": True,
    },
    fragments=3,
)


def agent_for(call: Call, client: Any) -> LlmAgent:
    return LlmAgent(
        client, CONFIG, call_tool=call.call_tool, now=lambda: NOW, caller=PHONE, call_sid="CA1"
    )


def tool_result(fake: Any, request: int) -> dict[str, Any]:
    result = messages(fake, request)[-1]
    assert result["role"] == "tool"
    parsed: dict[str, Any] = json.loads(result["content"])
    return parsed


async def test_take_message_writes_the_message_before_it_is_promised() -> None:
    first = Scripted(text="Thank you.", tool_calls=(TAKE_MESSAGE,))
    then = Scripted(text="I've passed your message on. Goodbye!")
    async with openai_server(first, then) as (fake, client):
        written = LeaveMessage(1, "CA1", "Jane Doe", PHONE, "her test results", MessageReason.ASKED)
        call = Call({LeaveMessage: MessageSaved(0, 7, written)})
        await agent_for(call, client).reply("yes, that's my number", call.say)
    assert call.asked == [
        LeaveMessage(1, "CA1", "Jane Doe", PHONE, "her test results", MessageReason.ASKED)
    ]
    assert tool_result(fake, 1)["saved"] is True
    assert call.words[-1] == ("Goodbye!", True)


async def test_a_number_not_read_back_is_refused_and_nothing_is_written() -> None:
    unconfirmed = ToolCallScript(
        "take_message", {"name": "Jane", "about": "results", "reason": "asked",
                         "number_confirmed": False},
    )  # fmt: skip
    first = Scripted(tool_calls=(unconfirmed,))
    then = Scripted(text="Shall we call you back on the number you're calling from?")
    async with openai_server(first, then) as (fake, client):
        call = Call()
        await agent_for(call, client).reply("call me back", call.say)
    assert call.asked == []
    assert tool_result(fake, 1) == {
        "error": "invalid_arguments",
        "detail": "read the number back to the caller and get a yes first",
    }


async def test_a_failed_write_is_told_to_the_model_as_not_saved() -> None:
    first = Scripted(tool_calls=(TAKE_MESSAGE,))
    then = Scripted(text="I'm sorry, I couldn't save your message. Please call back later.")
    failed: dict[type, SchedulerReply] = {
        LeaveMessage: BookingRejected(0, RejectReason.STORE_UNAVAILABLE)
    }
    async with openai_server(first, then) as (fake, client):
        call = Call(failed)
        await agent_for(call, client).reply("yes", call.say)
    assert tool_result(fake, 1) == {"error": "store_unavailable", "detail": MESSAGE_NOT_SAVED}
    assert "passed" not in " ".join(text for text, _ in call.words)


async def test_escalate_is_logged_and_offers_a_message_when_nobody_can_answer() -> None:
    escalate = ToolCallScript("escalate", {"reason": "caller is upset about a bill"})
    first = Scripted(tool_calls=(escalate,))
    then = Scripted(text="I'm sorry. Would you like to leave a message?")
    async with openai_server(first, then) as (fake, client):
        call = Call()
        with capture_logs() as logs:
            await agent_for(call, client).reply("this bill is wrong again", call.say)
    assert tool_result(fake, 1) == OFFER_MESSAGE  # no transfer number: nobody to answer
    (escalated,) = [e for e in logs if e["event"] == "call.escalated"]
    assert (escalated["reason"], escalated["why"]) == ("model", "caller is upset about a bill")
    tools = [t["function"]["name"] for t in fake.requests[0].body["tools"]]
    assert "take_message" in tools
    assert "transfer_to_human" not in tools


async def test_after_hours_the_model_gets_no_transfer_tool_and_is_told_to_take_a_message() -> None:
    staffed = replace(CONFIG, clinic=replace(CONFIG.clinic, transfer_number="+15550001111"))
    async with openai_server(Scripted(text="We're closed. Shall I take a message?")) as (
        fake,
        client,
    ):
        call = Call()
        agent = LlmAgent(client, staffed, call_tool=call.call_tool, now=lambda: NOW, caller=PHONE)
        await agent.reply("can i speak to someone", call.say)  # 8 AM: the clinic opens at 9
    body = fake.requests[0].body
    assert "transfer_to_human" not in [t["function"]["name"] for t in body["tools"]]
    system = body["messages"][0]["content"]
    assert "The clinic is closed now, so nobody can take a transferred call" in system
    assert "call transfer_to_human" not in system
