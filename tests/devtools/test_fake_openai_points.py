"""The fake model's ``same_point_same_reply``: asked again at a point of the conversation it
has answered, it answers the same, whatever the words (a guess restarted on the final, or
restarted with the same words after it was withdrawn); only a retry after a failed reply
takes the next one. The whole-call tests' script depends on it: a guess withdrawn and
restarted with the same words ("ten", withdrawn while the caller went on, "ten" again) once
took the next turn's reply, and the booking call ran a turn short (6 turns of 7)."""

from __future__ import annotations

from contextlib import aclosing

import trio

from receptionist.devtools.fakes.openai import Scripted
from receptionist.llm.client import LlmClient
from receptionist.llm.stream import TextDelta
from tests.helpers.llm import TEST_TIMEOUT_S, openai_in_process

POINT = [{"role": "assistant", "content": "Which time would you like?"}]


async def _answer(client: LlmClient, words: str) -> str:
    messages = [*POINT, {"role": "user", "content": words}]
    async with aclosing(client.stream(messages, [])) as events:
        return "".join([e.text async for e in events if isinstance(e, TextDelta)])


async def test_the_same_words_asked_again_get_the_same_reply(
    autojump_clock: trio.abc.Clock,
) -> None:
    replies = (Scripted(text="Ten o'clock it is."), Scripted(text="Shall I book it?"))
    async with openai_in_process(*replies) as (fake, client):
        with trio.fail_after(TEST_TIMEOUT_S):
            fake.same_point_same_reply = True
            said = [await _answer(client, words) for words in ("ten", "ten", "ten o'clock")]
    assert said == ["Ten o'clock it is."] * 3
    assert len(fake.script) == 1  # the next turn's reply is still there for it


async def test_a_retry_after_a_failed_reply_takes_the_next(
    autojump_clock: trio.abc.Clock,
) -> None:
    replies = (Scripted(status=429), Scripted(text="Ten o'clock it is."))
    async with openai_in_process(*replies, token_delay_s=0.01) as (fake, client):
        with trio.fail_after(TEST_TIMEOUT_S):
            fake.same_point_same_reply = True
            assert await _answer(client, "ten") == "Ten o'clock it is."  # the client's retry
    assert len(fake.requests) == 2
