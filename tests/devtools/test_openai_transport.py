"""The fake OpenAI served in process (``FakeOpenAITransport``) answers as its socket server
does, under ``autojump_clock``: the same events at exact times, and its faults (an HTTP
error, a connection dropped mid-body) reach the client as the socket's do."""

from __future__ import annotations

import trio

from receptionist.devtools.fakes.openai import Scripted
from receptionist.llm import FALLBACK
from tests.helpers.llm import TEST_TIMEOUT_S, Call, openai_in_process


async def test_a_streamed_reply_arrives_token_by_token_on_the_mock_clock(
    autojump_clock: trio.abc.Clock,
) -> None:
    reply = Scripted(text="We open at nine. Goodbye.", first_token_delay_s=0.3)
    async with openai_in_process(reply, token_delay_s=0.05) as (fake, client):
        with trio.fail_after(TEST_TIMEOUT_S):
            call = Call()
            started = trio.current_time()
            await call.agent(client).reply("when do you open", call.say)
    assert call.words == [("We open at nine.", False), ("Goodbye.", True)]
    (request,) = fake.requests
    assert request.body["messages"][-1] == {"role": "user", "content": "when do you open"}
    assert request.headers["authorization"] == "Bearer sk-test-0123456789"
    times = [round(at - started, 9) for at, _ in fake.sent]  # exact: trio's clock alone
    assert times == [round(0.3 + 0.05 * n, 9) for n in range(len(times))]


async def test_an_error_is_retried_and_a_drop_mid_reply_ends_in_the_fallback_line(
    autojump_clock: trio.abc.Clock,
) -> None:
    replies = (
        Scripted(status=500),
        Scripted(text="We open at nine. On Saturdays we", drop_after=8),
    )
    async with openai_in_process(*replies) as (fake, client):
        with trio.fail_after(TEST_TIMEOUT_S):
            call = Call()
            await call.agent(client).reply("when do you open", call.say)
    assert call.words == [("We open at nine.", False), (FALLBACK, True)]
    assert len(fake.requests) == 2
