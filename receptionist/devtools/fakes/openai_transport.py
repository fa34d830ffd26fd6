"""The fake OpenAI server in process: an httpx transport that answers each request with
``FakeOpenAI.answer_to``, the very answers its socket server writes, piece by piece as they
are made (the head, each SSE event after its delay, the end; a drop mid-body as httpx
reports a peer that closed the connection).

No socket, no thread: a client on this transport runs entirely on trio's clock, so a whole
conversation with the model can run under ``autojump_clock``. The socket server stays the
one the whole-call tests use, so the HTTP path itself is covered there.
"""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator, AsyncIterator

import httpx2
import trio

from receptionist.devtools.fakes.openai import END, FakeOpenAI, Head, Part, Received


class FakeOpenAITransport(httpx2.AsyncBaseTransport):
    """Requests in, ``fake``'s answers out; give it to ``LlmEngine.open_client``."""

    def __init__(self, fake: FakeOpenAI) -> None:
        self._fake = fake

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        body = await request.aread()
        headers = {key.lower(): value for key, value in request.headers.items()}
        received = Received(json.loads(body) if body else {}, headers, trio.current_time())
        answer = self._fake.answer_to(request.url.raw_path.decode(), received)
        head = await anext(answer)
        assert isinstance(head, Head), "an answer starts with its head"
        return httpx2.Response(
            head.status, headers=head.headers, stream=_Body(answer), request=request
        )


class _Body(httpx2.AsyncByteStream):
    """The rest of an answer, pulled as the client reads (so each delay is the reader's)."""

    def __init__(self, parts: AsyncGenerator[Part, None]) -> None:
        self._parts = parts

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for part in self._parts:
            if part is END:
                return
            assert isinstance(part, bytes)
            yield part
        # The words httpx uses for a chunked body cut short by the server.
        raise httpx2.RemoteProtocolError(
            "peer closed connection without sending complete message body"
        )

    async def aclose(self) -> None:
        await self._parts.aclose()
