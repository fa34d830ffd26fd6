"""How much time our ElevenLabs adapter adds, against the fake server at zero latency.

Timestamps each body chunk as the HTTP transport hands it up (the bytes have been read
from the socket) and again as the consumer gets it from ``stream_ulaw``; the difference is
our own overhead (httpx2's response layer, ElevenLabsEngine, FallbackSpeechEngine). The
request side is timed the same way: from asking for the first chunk to the transport
being handed the request (building it, encoding the JSON, httpx2's client layer).

    .venv/bin/python -m receptionist.devtools.fakes.bench_elevenlabs
"""

from __future__ import annotations

import statistics
from collections.abc import AsyncIterator
from typing import Any

import httpx2
import structlog
import trio

from receptionist.devtools.fakes.elevenlabs import FakeElevenLabs
from receptionist.engines.elevenlabs import ElevenLabsEngine
from receptionist.engines.fallback import FallbackSpeechEngine

SENTENCES = 300
TEXT = "Your appointment is on Tuesday the fourteenth at three thirty in the afternoon."


class _TimedStream(httpx2.AsyncByteStream):
    def __init__(self, inner: Any, arrivals: list[float]) -> None:
        self._inner, self._arrivals = inner, arrivals

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._inner:
            self._arrivals.append(trio.current_time())
            yield chunk

    async def aclose(self) -> None:
        await self._inner.aclose()


class TimedTransport(httpx2.AsyncBaseTransport):
    """httpx2's own transport, noting when each chunk of a response body arrives."""

    def __init__(self) -> None:
        self._inner = httpx2.AsyncHTTPTransport()
        self.arrivals: list[float] = []
        self.requested = 0.0

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        self.requested = trio.current_time()
        response = await self._inner.handle_async_request(request)
        stream = _TimedStream(response.stream, self.arrivals)
        return httpx2.Response(
            response.status_code,
            headers=response.headers,
            stream=stream,
            extensions=response.extensions,
        )

    async def aclose(self) -> None:
        await self._inner.aclose()


Samples = tuple[list[float], list[float], list[float]]


async def _measure(engine: Any, transport: TimedTransport) -> Samples:
    asked: list[float] = []
    first: list[float] = []
    rest: list[float] = []
    for _ in range(SENTENCES):
        transport.arrivals.clear()
        start = trio.current_time()
        received = [trio.current_time() async for _chunk in engine.stream_ulaw(TEXT)]
        asked.append(transport.requested - start)
        assert len(received) == len(transport.arrivals), "chunks were merged or split"
        gaps = [got - arrived for got, arrived in zip(received, transport.arrivals, strict=True)]
        first.append(gaps[0])
        rest.extend(gaps[1:])
    return asked, first, rest


def _report(name: str, asked: list[float], first: list[float], rest: list[float]) -> None:
    def us(values: list[float], q: int) -> float:
        return statistics.quantiles(values, n=100)[q - 1] * 1e6

    print(
        f"{name:34} request: median {us(asked, 50):5.1f} us, p95 {us(asked, 95):5.1f} us"
        f" | first chunk: median {us(first, 50):6.1f} us, p95 {us(first, 95):6.1f} us"
        f" | later chunks: median {us(rest, 50):5.1f} us, p95 {us(rest, 95):5.1f} us"
        f" ({len(rest)} chunks)"
    )


async def main() -> None:
    fake = FakeElevenLabs(api_key="bench-key", chunk_bytes=800)
    async with trio.open_nursery() as nursery:
        base_url = await nursery.start(fake.serve)
        transport = TimedTransport()
        engine = ElevenLabsEngine(
            api_key="bench-key",
            voice_id="voice",
            model_id="eleven_flash_v2_5",
            base_url=base_url,
            transport=transport,
        )
        async with engine:
            await _measure(engine, transport)  # warm up: connection, imports, caches
            _report("ElevenLabsEngine", *await _measure(engine, transport))
            wrapped = FallbackSpeechEngine(
                engine, engine, first_audio_timeout_s=1.0, stall_timeout_s=2.0,
                log=structlog.get_logger(),
            )  # fmt: skip
            _report("FallbackSpeechEngine(ElevenLabs)", *await _measure(wrapped, transport))
        print(f"{SENTENCES * 3} sentences on {fake.connections} connection(s)")
        nursery.cancel_scope.cancel()


if __name__ == "__main__":
    trio.run(main)
