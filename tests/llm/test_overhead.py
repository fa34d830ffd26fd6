"""Our own overhead against the fake OpenAI server: what we add to the model's latency.

Measured on real sockets (127.0.0.1), everything timed with ``trio.current_time()`` on both
sides of the socket, in one process. The bounds asserted are loose (a slow CI machine must
pass); run ``pytest tests/llm/test_overhead.py -s`` to see the numbers.
"""

from __future__ import annotations

import statistics

import pytest
import trio

from receptionist.devtools.fakes.openai import FakeOpenAI, Scripted
from receptionist.scheduling.messages import FindFreeSlots, FreeSlots
from receptionist.turns.sentences import SentenceSplitter
from tests.helpers.llm import CHECK_TUESDAY, NINE, TUESDAY, Call, openai_server

SENTENCES = 40
TEXT = " ".join(f"This is sentence number {n} of the reply." for n in range(SENTENCES))


def completing_chunks(fake: FakeOpenAI) -> list[float]:
    """When the fake wrote the chunk that completes each sentence (but the last)."""
    splitter, times = SentenceSplitter(), list[float]()
    for sent_at, event in fake.sent:
        if isinstance(event, str) or not event["choices"]:
            continue
        content = event["choices"][0]["delta"].get("content") or ""
        times.extend(sent_at for _ in splitter.feed(content))
    return times


@pytest.mark.parametrize("token_delay_s", [0.0, 0.005])
async def test_time_from_token_to_sentence_handed_over(token_delay_s: float) -> None:
    async with openai_server(Scripted(text=TEXT), token_delay_s=token_delay_s) as (fake, client):
        call = Call()
        await call.agent(client).reply("go on", call.say)
    handed = [at for at, _, last in call.said if not last]
    delays_ms = [(h - s) * 1000 for h, s in zip(handed, completing_chunks(fake), strict=True)]
    print(
        f"\ntoken -> sentence handed over, inter-token delay {token_delay_s * 1000:.0f} ms, "
        f"{len(delays_ms)} sentences: median {statistics.median(delays_ms):.2f} ms, "
        f"max {max(delays_ms):.2f} ms"
    )
    assert len(delays_ms) == SENTENCES - 1
    assert statistics.median(delays_ms) < 20


async def test_tool_round_trip_overhead() -> None:
    rounds = [Scripted(tool_calls=(CHECK_TUESDAY,)), Scripted(text="Nine is free.")]
    async with openai_server(*rounds) as (fake, client):
        call = Call({FindFreeSlots: FreeSlots(0, TUESDAY, (NINE,), True)})
        started = trio.current_time()
        await call.agent(client).reply("tuesday?", call.say)
    first_request = fake.requests[0].at - started
    done_at = next(at for at, event in fake.sent if event == "[DONE]")
    overhead = fake.requests[1].at - done_at
    print(
        f"\nrequest sent (SDK + HTTP): {first_request * 1000:.2f} ms; "
        f"tool round trip ([DONE] -> next request arrived, scheduler instant): "
        f"{overhead * 1000:.2f} ms"
    )
    assert overhead < 0.1
