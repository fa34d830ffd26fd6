"""ElevenLabs TTS: request shape and error mapping (httpx.MockTransport), streaming and
fallback against the fake server on 127.0.0.1, and choosing the engine from config."""

from __future__ import annotations

import json
import socket
import tomllib
from collections.abc import AsyncGenerator, AsyncIterator, Mapping, Sequence
from contextlib import aclosing, asynccontextmanager
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest
import structlog
import trio
from structlog.testing import capture_logs

from receptionist.config import Config, parse_config
from receptionist.devtools.fakes.elevenlabs import FakeElevenLabs, Fault
from receptionist.engines.elevenlabs import (
    ElevenLabsEngine,
    build_speech_engine,
    close_speech_engine,
)
from receptionist.engines.fallback import TRIP_AFTER_FAILURES, FallbackSpeechEngine
from receptionist.errors import ConfigError, SpeechSynthesisError
from tests.helpers.paths import PROJECT_ROOT, SAMPLES

DEADLINE_S = 10
KEY = "sk-test-0123456789abcdef"
VOICE, MODEL = "JBFqnCBsd6RMkjVDRZzb", "eleven_flash_v2_5"
TEXT = "Your appointment is on Tuesday at three."
FALLBACK_CHUNK = b"\x7e" * 160
SAMPLE_REQUEST = SAMPLES / "elevenlabs" / "http_stream_request.txt"


def mock_engine(handler: Any) -> ElevenLabsEngine:
    return ElevenLabsEngine(
        api_key=KEY, voice_id=VOICE, model_id=MODEL, transport=httpx.MockTransport(handler)
    )


async def speak(engine: Any, text: str = TEXT, into: list[bytes] | None = None) -> list[bytes]:
    """Everything ``engine`` says for ``text``, also appended to ``into`` as it comes."""
    received = into if into is not None else []
    async for chunk in engine.stream_ulaw(text):
        received.append(chunk)
    return received


class ScriptedFallback:
    """Stands in for espeak (which runs on a thread, so not on the autojump clock)."""

    def __init__(self) -> None:
        self.spoken: list[str] = []

    async def stream_ulaw(self, text: str) -> AsyncGenerator[bytes, None]:
        self.spoken.append(text)
        for _ in range(3):
            await trio.sleep(0.01)
            yield FALLBACK_CHUNK


class TrackedStream(httpx.AsyncByteStream):
    """A response body that never ends by itself and records being closed."""

    def __init__(self) -> None:
        self.closed = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        while True:
            await trio.lowlevel.checkpoint()
            yield b"\xff" * 160

    async def aclose(self) -> None:
        self.closed = True


# -- Request shape and error mapping ------------------------------------------------------


def sample_request() -> tuple[str, str, dict[str, str], dict[str, Any]]:
    lines = [line for line in SAMPLE_REQUEST.read_text().splitlines() if line.strip()]
    lines = [line for line in lines if not line.startswith("#")]
    method, url = lines[0].split(" ", 1)
    headers = dict(line.split(": ", 1) for line in lines[1:-1])
    return method, url, {k.lower(): v for k, v in headers.items()}, json.loads(lines[-1])


async def test_request_matches_the_sample() -> None:
    method, url, headers, body = sample_request()
    sent: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200, content=b"\xff" * 320)

    with trio.fail_after(DEADLINE_S):
        async with mock_engine(handler) as engine:
            assert b"".join(await speak(engine)) == b"\xff" * 320
    (request,) = sent
    sample_url = urlsplit(url)
    assert request.method == method
    assert request.url.path == sample_url.path.replace("{voice_id}", VOICE)
    assert parse_qsl(request.url.query.decode()) == parse_qsl(sample_url.query)
    assert set(headers) <= set(request.headers)
    assert request.headers["xi-api-key"] == KEY
    assert request.headers["content-type"] == headers["content-type"]
    sent_body = json.loads(request.content)
    assert list(sent_body) == list(body)
    assert sent_body == {"text": TEXT, "model_id": body["model_id"]}


async def test_blank_text_sends_no_request() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise AssertionError("no request expected")

    with trio.fail_after(DEADLINE_S):
        async with mock_engine(handler) as engine:
            assert await speak(engine, "  ") == []


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (401, {"detail": {"status": "invalid_api_key", "message": "Invalid API key"}}, "401"),
        (429, {"detail": {"status": "too_many_concurrent_requests", "message": "x"}}, "429"),
        (422, {"detail": [{"loc": ["body", "text"], "msg": "field required"}]}, "body.text"),
        (500, {"detail": {"status": "internal_server_error", "message": "oops"}}, "500"),
        (401, {"detail": {"status": "invalid_api_key", "message": f"bad key {KEY}"}}, "bad key"),
    ],
)
async def test_error_status_becomes_speech_synthesis_error(
    status: int, body: dict[str, Any], expected: str
) -> None:
    engine = mock_engine(lambda request: httpx.Response(status, json=body))
    with trio.fail_after(DEADLINE_S), pytest.raises(SpeechSynthesisError) as caught:
        async with engine:
            await speak(engine)
    message = str(caught.value)
    assert str(status) in message
    assert expected in message
    assert KEY not in message


async def test_transport_error_becomes_speech_synthesis_error() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError(f"refused while sending {request.headers['xi-api-key']}")

    with trio.fail_after(DEADLINE_S), pytest.raises(SpeechSynthesisError) as caught:
        async with mock_engine(handler) as engine:
            await speak(engine)
    assert "request failed" in str(caught.value)
    assert KEY not in str(caught.value)
    assert isinstance(caught.value.__cause__, httpx.ConnectError)


@pytest.mark.parametrize("cancelled", [False, True])
async def test_closing_early_closes_the_response(cancelled: bool) -> None:
    body = TrackedStream()
    with trio.fail_after(DEADLINE_S):
        async with mock_engine(lambda request: httpx.Response(200, stream=body)) as engine:
            chunks = engine.stream_ulaw(TEXT)
            assert await anext(chunks)
            with trio.CancelScope() as scope:
                if cancelled:
                    scope.cancel()  # a barge-in closes it from a cancelled scope
                await chunks.aclose()
    assert body.closed


# -- Streaming against the fake server ----------------------------------------------------


@asynccontextmanager
async def serving(fake: FakeElevenLabs, *, key: str = KEY) -> AsyncIterator[ElevenLabsEngine]:
    async with trio.open_nursery() as nursery:
        base_url = await nursery.start(fake.serve)
        async with ElevenLabsEngine(
            api_key=key, voice_id=VOICE, model_id=MODEL, base_url=base_url
        ) as engine:
            yield engine
        nursery.cancel_scope.cancel()


async def test_audio_streams_as_it_arrives(autojump_clock: trio.abc.Clock) -> None:
    fake = FakeElevenLabs(api_key=KEY, chunk_delay_s=0.2)
    received: list[bytes] = []
    with trio.fail_after(DEADLINE_S):
        async with serving(fake) as engine:
            async for chunk in engine.stream_ulaw(TEXT):
                if not received:
                    assert fake.events == [("sent", 0)]  # the rest is still to come
                received.append(chunk)
    assert b"".join(received) == fake.audio_for(TEXT)
    assert len(fake.events) > 3


async def test_sentences_reuse_one_connection(autojump_clock: trio.abc.Clock) -> None:
    fake = FakeElevenLabs(api_key=KEY)
    with trio.fail_after(DEADLINE_S):
        async with serving(fake) as engine:
            for text in ("Hello.", "How can I help?"):
                assert b"".join(await speak(engine, text)) == fake.audio_for(text)
    assert fake.connections == 1
    assert len(fake.requests) == 2


@pytest.mark.parametrize(
    ("fault", "expected"),
    [
        (Fault.UNAUTHORIZED, "401 Unauthorized: invalid_api_key: Invalid API key"),
        (Fault.RATE_LIMITED, "429 Too Many Requests: too_many_concurrent_requests"),
        (Fault.SERVER_ERROR, "500 Internal Server Error"),
        (Fault.DROP_MID_STREAM, "audio stream broke"),
    ],
)
async def test_fake_server_faults_become_errors(
    autojump_clock: trio.abc.Clock, fault: Fault, expected: str
) -> None:
    fake = FakeElevenLabs(api_key=KEY, fault=fault, drop_after_chunks=2)
    received: list[bytes] = []
    with trio.fail_after(DEADLINE_S):
        async with serving(fake) as engine:
            with pytest.raises(SpeechSynthesisError, match=expected):
                await speak(engine, into=received)
    assert len(received) == (2 if fault is Fault.DROP_MID_STREAM else 0)


async def test_wrong_key_is_rejected_and_not_repeated(autojump_clock: trio.abc.Clock) -> None:
    with trio.fail_after(DEADLINE_S):
        async with serving(FakeElevenLabs(api_key=KEY), key="sk-wrong-key") as engine:
            with pytest.raises(SpeechSynthesisError) as caught:
                await speak(engine)
    assert "401" in str(caught.value)
    assert "sk-wrong-key" not in str(caught.value)


# -- Fallback ------------------------------------------------------------------------------


def with_fallback(primary: Any, fallback: ScriptedFallback) -> FallbackSpeechEngine:
    return FallbackSpeechEngine(
        primary,
        fallback,
        first_audio_timeout_s=1.0,
        stall_timeout_s=2.0,
        log=structlog.get_logger(),
    )


def fallbacks(logs: Sequence[Mapping[str, Any]]) -> list[str]:
    return [entry["reason"] for entry in logs if entry["event"] == "tts.fallback"]


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


# -- Choosing the engine -------------------------------------------------------------------


def elevenlabs_config(environ: dict[str, str]) -> Config:
    raw = {**raw_project_config(), "engines": {"tts": "elevenlabs"}}
    return parse_config(raw, environ=environ)


def test_offline_config_keeps_the_offline_engine(project_config: Config) -> None:
    offline = ScriptedFallback()
    assert build_speech_engine(project_config, offline) is offline


def test_missing_key_names_the_variable() -> None:
    with pytest.raises(ConfigError, match="ELEVENLABS_API_KEY"):
        elevenlabs_config({})


async def test_key_from_environment_builds_the_fallback_engine() -> None:
    offline = ScriptedFallback()
    config = elevenlabs_config({"ELEVENLABS_API_KEY": KEY})
    with trio.fail_after(DEADLINE_S):
        engine = build_speech_engine(config, offline)
        assert isinstance(engine, FallbackSpeechEngine)
        assert isinstance(engine.primary, ElevenLabsEngine)
        assert engine.fallback is offline
        await close_speech_engine(engine)


def test_elevenlabs_section_is_parsed(project_config: Config) -> None:
    settings = project_config.elevenlabs
    assert settings.base_url == "https://api.elevenlabs.io"
    assert settings.model_id == MODEL
    assert settings.first_audio_timeout_s == 1.0
    with pytest.raises(ConfigError, match=r"elevenlabs\.first_audio_timeout_s"):
        parse_config({**raw_project_config(), "elevenlabs": {"first_audio_timeout_s": "1s"}})


def raw_project_config() -> dict[str, Any]:
    return tomllib.loads((PROJECT_ROOT / "config.toml").read_text())


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
