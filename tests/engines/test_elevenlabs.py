"""ElevenLabs TTS: request shape and error mapping (httpx2.MockTransport), and streaming
against the fake server on 127.0.0.1."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx2
import pytest
import trio

from receptionist.devtools.fakes.elevenlabs import FakeElevenLabs, Fault
from receptionist.engines.elevenlabs import ElevenLabsEngine
from receptionist.errors import SpeechSynthesisError
from tests.helpers.elevenlabs import KEY, MODEL, TEXT, VOICE, serving, speak
from tests.helpers.paths import SAMPLES

DEADLINE_S = 10
SAMPLE_REQUEST = SAMPLES / "elevenlabs" / "http_stream_request.txt"


def mock_engine(handler: Any) -> ElevenLabsEngine:
    return ElevenLabsEngine(
        api_key=KEY, voice_id=VOICE, model_id=MODEL, transport=httpx2.MockTransport(handler)
    )


class TrackedStream(httpx2.AsyncByteStream):
    """A response body that never ends by itself and records being closed."""

    def __init__(self) -> None:
        self.closed = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        while True:
            await trio.lowlevel.checkpoint()
            yield b"\xff" * 160

    async def aclose(self) -> None:
        self.closed = True


def sample_request() -> tuple[str, str, dict[str, str], dict[str, Any]]:
    lines = [line for line in SAMPLE_REQUEST.read_text().splitlines() if line.strip()]
    lines = [line for line in lines if not line.startswith("#")]
    method, url = lines[0].split(" ", 1)
    headers = dict(line.split(": ", 1) for line in lines[1:-1])
    return method, url, {k.lower(): v for k, v in headers.items()}, json.loads(lines[-1])


async def test_request_matches_the_sample() -> None:
    method, url, headers, body = sample_request()
    sent: list[httpx2.Request] = []

    def handler(request: httpx2.Request) -> httpx2.Response:
        sent.append(request)
        return httpx2.Response(200, content=b"\xff" * 320)

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
    def handler(request: httpx2.Request) -> httpx2.Response:
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
    engine = mock_engine(lambda request: httpx2.Response(status, json=body))
    with trio.fail_after(DEADLINE_S), pytest.raises(SpeechSynthesisError) as caught:
        async with engine:
            await speak(engine)
    message = str(caught.value)
    assert str(status) in message
    assert expected in message
    assert KEY not in message


async def test_transport_error_becomes_speech_synthesis_error() -> None:
    def handler(request: httpx2.Request) -> httpx2.Response:
        raise httpx2.ConnectError(f"refused while sending {request.headers['xi-api-key']}")

    with trio.fail_after(DEADLINE_S), pytest.raises(SpeechSynthesisError) as caught:
        async with mock_engine(handler) as engine:
            await speak(engine)
    assert "request failed" in str(caught.value)
    assert KEY not in str(caught.value)
    assert isinstance(caught.value.__cause__, httpx2.ConnectError)


@pytest.mark.parametrize("cancelled", [False, True])
async def test_closing_early_closes_the_response(cancelled: bool) -> None:
    body = TrackedStream()
    with trio.fail_after(DEADLINE_S):
        async with mock_engine(lambda request: httpx2.Response(200, stream=body)) as engine:
            chunks = engine.stream_ulaw(TEXT)
            assert await anext(chunks)
            with trio.CancelScope() as scope:
                if cancelled:
                    scope.cancel()  # a barge-in closes it from a cancelled scope
                await chunks.aclose()
    assert body.closed


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
