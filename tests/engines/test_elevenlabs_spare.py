"""After a barge-in cuts an ElevenLabs body, the next sentence does not wait for a new
connection: the engine opens a spare one right after the cut (issue 10). Against the fake
ElevenLabs, whose new connections answer ``new_connection_delay_s`` late, as TCP and TLS
handshakes would make them (autojump clock)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import aclosing, asynccontextmanager

import pytest
import trio

from receptionist.devtools.fakes.elevenlabs import MODELS_PATH, FakeElevenLabs
from receptionist.engines.elevenlabs import ElevenLabsEngine

DEADLINE_S = 30
KEY = "sk-test-0123456789abcdef"
HANDSHAKE_S = 0.15
CALLER_TALKS_S = 1.0
"""Between the cut and the next sentence: the caller's words, then the reply's first."""


@asynccontextmanager
async def engine_on(fake: FakeElevenLabs, *, warm: bool) -> AsyncIterator[ElevenLabsEngine]:
    async with trio.open_nursery() as nursery:
        url = await nursery.start(fake.serve)
        engine = ElevenLabsEngine(api_key=KEY, voice_id="v", model_id="m", base_url=url)
        async with engine:
            if warm:
                await nursery.start(engine.keep_connections_warm)
            yield engine
        nursery.cancel_scope.cancel()


async def cut_after_first_chunk(engine: ElevenLabsEngine) -> None:
    """A barge-in: the Synthesizer's turn is cancelled as the first audio arrives."""
    with trio.CancelScope() as turn:
        async with aclosing(engine.stream_ulaw("Your appointment is on Tuesday.")) as chunks:
            async for _chunk in chunks:
                turn.cancel()


async def time_to_first_byte(engine: ElevenLabsEngine, text: str) -> float:
    started = trio.current_time()
    async with aclosing(engine.stream_ulaw(text)) as chunks:
        await anext(chunks)
        took = trio.current_time() - started
        async for _rest in chunks:
            pass
    return took


async def barge_ins(fake: FakeElevenLabs, *, warm: bool, cuts: int) -> list[float]:
    """The first byte of each sentence that follows a cut."""
    async with engine_on(fake, warm=warm) as engine:
        await time_to_first_byte(engine, "Hello.")  # the first connection
        after_cuts = []
        for _ in range(cuts):
            await cut_after_first_chunk(engine)
            await trio.sleep(CALLER_TALKS_S)
            after_cuts.append(await time_to_first_byte(engine, "Of course."))
    return after_cuts


def fake() -> FakeElevenLabs:
    return FakeElevenLabs(api_key=KEY, chunk_delay_s=0.05, new_connection_delay_s=HANDSHAKE_S)


async def test_without_a_spare_the_next_sentence_pays_a_new_connection(
    autojump_clock: trio.abc.Clock,
) -> None:
    server = fake()
    with trio.fail_after(DEADLINE_S):
        after_cuts = await barge_ins(server, warm=False, cuts=2)
    assert after_cuts == [pytest.approx(HANDSHAKE_S)] * 2  # a new connection each time
    assert server.connections == 3


async def test_the_next_sentence_after_a_cut_does_not_wait_for_a_connection(
    autojump_clock: trio.abc.Clock,
) -> None:
    server = fake()
    with trio.fail_after(DEADLINE_S):
        after_cuts = await barge_ins(server, warm=True, cuts=3)
    assert after_cuts == [0.0, 0.0, 0.0]  # the fake answers at once on an open connection
    # One connection per cut (HTTP/1.1 cannot reuse a cut body's), none more.
    assert server.connections == 1 + 3
    spares = [r for r in server.requests if r.path == MODELS_PATH]
    assert len(spares) == 3
    assert all(r.headers["xi-api-key"] == KEY for r in spares)


async def test_a_finished_sentence_asks_for_no_spare(autojump_clock: trio.abc.Clock) -> None:
    server = fake()
    with trio.fail_after(DEADLINE_S):
        async with engine_on(server, warm=True) as engine:
            for text in ("Hello.", "How can I help?"):
                await time_to_first_byte(engine, text)
            await trio.sleep(CALLER_TALKS_S)
    assert server.connections == 1
    assert [r.path for r in server.requests if r.path == MODELS_PATH] == []
