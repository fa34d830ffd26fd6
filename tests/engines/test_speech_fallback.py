"""The speech fallback: ElevenLabs failing, slow, unreachable or cut mid-sentence, against the
fake server on 127.0.0.1, and the per-call breaker that stops asking a failing primary."""

from __future__ import annotations

import socket
from contextlib import aclosing
from typing import Any

import pytest
import trio
from structlog.testing import capture_logs

from receptionist.devtools.fakes.elevenlabs import FakeElevenLabs, Fault
from receptionist.engines.elevenlabs import ElevenLabsEngine
from receptionist.engines.fallback import TRIP_AFTER_FAILURES
from receptionist.errors import SpeechSynthesisError
from tests.helpers.elevenlabs import (
    FALLBACK_CHUNK,
    KEY,
    MODEL,
    TEXT,
    VOICE,
    ScriptedFallback,
    fallbacks,
    serving,
    speak,
    with_fallback,
)

DEADLINE_S = 10


async def test_no_fallback_when_the_primary_is_healthy(autojump_clock: trio.abc.Clock) -> None:
    fake, offline = FakeElevenLabs(api_key=KEY, chunk_delay_s=0.05), ScriptedFallback()
    with trio.fail_after(DEADLINE_S), capture_logs() as logs:
        async with serving(fake) as engine:
            audio = b"".join(await speak(with_fallback(engine, offline)))
    assert audio == fake.audio_for(TEXT)
    assert offline.spoken == []
    assert fallbacks(logs) == []


@pytest.mark.parametrize(
    ("script", "reason"),
    [
        ({"fault": Fault.SERVER_ERROR}, "error"),
        ({"fault": Fault.HANG}, "timeout"),
        ({"time_to_first_byte_s": 1.5}, "timeout"),
    ],
)
async def test_fallback_speaks_the_sentence(
    autojump_clock: trio.abc.Clock, script: dict[str, Any], reason: str
) -> None:
    fake, offline = FakeElevenLabs(api_key=KEY, **script), ScriptedFallback()
    with trio.fail_after(DEADLINE_S), capture_logs() as logs:
        async with serving(fake) as engine:
            audio = await speak(with_fallback(engine, offline))
            if reason == "timeout":
                await fake.abandoned.wait()  # the slow response was closed, not left open
    assert audio == [FALLBACK_CHUNK] * 3
    assert offline.spoken == [TEXT]
    assert fallbacks(logs) == [reason]
    assert KEY not in repr(logs)


async def test_fallback_when_elevenlabs_is_unreachable(autojump_clock: trio.abc.Clock) -> None:
    with socket.socket() as unused:  # a port that was free a moment ago: connection refused
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    offline = ScriptedFallback()
    primary = ElevenLabsEngine(
        api_key=KEY, voice_id=VOICE, model_id=MODEL, base_url=f"http://127.0.0.1:{port}"
    )
    with trio.fail_after(DEADLINE_S), capture_logs() as logs:
        async with primary:
            audio = await speak(with_fallback(primary, offline))
    assert audio == [FALLBACK_CHUNK] * 3
    assert fallbacks(logs) == ["error"]


@pytest.mark.parametrize("fault", [Fault.DROP_MID_STREAM, Fault.STALL_MID_STREAM])
async def test_failure_mid_sentence_stops_it(autojump_clock: trio.abc.Clock, fault: Fault) -> None:
    fake = FakeElevenLabs(api_key=KEY, fault=fault, drop_after_chunks=2)
    offline, received = ScriptedFallback(), list[bytes]()
    with trio.fail_after(DEADLINE_S):
        async with serving(fake) as engine:
            with pytest.raises(SpeechSynthesisError):
                await speak(with_fallback(engine, offline), into=received)
    assert b"".join(received) == fake.audio_for(TEXT)[: 2 * fake.chunk_bytes]
    assert offline.spoken == []  # half a sentence is not said again in another voice


async def test_barge_in_mid_sentence_closes_the_http_response(
    autojump_clock: trio.abc.Clock,
) -> None:
    fake, offline = FakeElevenLabs(api_key=KEY, chunk_delay_s=0.2), ScriptedFallback()
    with trio.fail_after(DEADLINE_S):
        async with serving(fake) as engine:
            with trio.CancelScope() as turn:
                async with aclosing(with_fallback(engine, offline).stream_ulaw(TEXT)) as chunks:
                    async for _chunk in chunks:
                        turn.cancel()  # the caller spoke: Cancelled at the next checkpoint
            await fake.abandoned.wait()
    assert turn.cancelled_caught
    assert len(fake.events) < 5
    assert offline.spoken == []


async def test_barge_in_before_first_audio_is_not_a_fallback(
    autojump_clock: trio.abc.Clock,
) -> None:
    fake, offline = FakeElevenLabs(api_key=KEY, fault=Fault.HANG), ScriptedFallback()
    with trio.fail_after(DEADLINE_S), capture_logs() as logs:
        async with serving(fake) as engine:
            with trio.move_on_after(0.5) as turn:  # a barge-in inside first_audio_timeout_s
                await speak(with_fallback(engine, offline))
            await fake.abandoned.wait()
    assert turn.cancelled_caught  # Cancelled reached the turn's scope, nothing swallowed it
    assert offline.spoken == []
    assert fallbacks(logs) == []


async def test_a_primary_that_keeps_failing_trips_the_calls_breaker(
    autojump_clock: trio.abc.Clock,
) -> None:
    # The misbehaving peer: ElevenLabs answers every sentence late (a timeout per sentence).
    fake, offline = FakeElevenLabs(api_key=KEY, fault=Fault.HANG), ScriptedFallback()
    sentences = [f"Sentence number {n}." for n in range(5)]
    with trio.fail_after(DEADLINE_S), capture_logs() as logs:
        async with serving(fake) as engine:
            process_wide = with_fallback(engine, offline)
            call = process_wide.for_call()
            began = trio.current_time()
            for sentence in sentences:
                await speak(call, sentence)
            took = trio.current_time() - began
            # Another call starts with its breaker closed: it asks ElevenLabs again.
            await speak(process_wide.for_call(), "Next call.")
    assert offline.spoken == [*sentences, "Next call."]
    assert len(fake.requests) == TRIP_AFTER_FAILURES + 1
    assert fallbacks(logs) == ["timeout"] * (TRIP_AFTER_FAILURES + 1)
    assert [e["event"] for e in logs].count("tts.circuit_open") == 1
    # Two first-audio timeouts (1 s each), then offline at once: 0.03 s a sentence.
    assert took < TRIP_AFTER_FAILURES * 1.0 + 0.5
