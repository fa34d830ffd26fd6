"""A fake OpenAI Chat Completions server that speaks the real wire protocol, on 127.0.0.1.

``POST /v1/chat/completions`` with ``"stream": true`` is answered the way the recorded
samples in ``protocol-samples/openai/`` are: HTTP/1.1 chunked ``text/event-stream``, one
``data: {chunk}`` event per token, the finish chunk (``delta: {}``), a usage chunk only when
the request asked for it (``stream_options.include_usage``), then ``data: [DONE]``.

Each request takes the next ``Scripted`` reply: text, tool calls (arguments cut into
fragments, several calls in parallel), a 500 or 429, or a connection dropped mid-stream.
With ``same_point_same_reply``, a request that asks again at a point of the conversation
already answered (a preemptive guess restarted on the final transcript, or restarted with
the same words after it was withdrawn) gets that point's reply again rather than the next
one, as a model asked the same thing answers the same, so a scripted conversation survives
preemptive generation; only a retry (the same words after a failed reply) takes the next.
With ``answer``, each reply is worked out from the request instead.
Every request body and its headers are recorded, so tests can assert on what was sent.
The replies' scripts and chunks: ``fakes.openai_chunks``.
A minimal h11 server rather than an ASGI app: it can drop a connection mid-body, and each
event is written to the socket the moment it is made, with no framework buffering between.
The same answers are served in process, without a socket, by ``fakes.openai_transport``.
"""

from __future__ import annotations

import contextlib
import enum
import itertools
import json
from collections import deque
from collections.abc import AsyncGenerator, Callable
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import Any

import h11
import trio

from receptionist.devtools.fakes.openai_chunks import Scripted, ToolCallScript, completion_chunks

__all__ = ["END", "FakeOpenAI", "Head", "Part", "Received", "Scripted", "ToolCallScript"]

MAX_REQUEST_BYTES = 1_000_000
READ_SIZE = 65536
ERROR_BODIES = {
    429: {
        "message": "Rate limit reached for requests",
        "type": "requests",
        "param": None,
        "code": "rate_limit_exceeded",
    },
    500: {
        "message": "The server had an error while processing your request.",
        "type": "server_error",
        "param": None,
        "code": None,
    },
}


SSE_HEADERS = [
    ("content-type", "text/event-stream; charset=utf-8"),
    ("transfer-encoding", "chunked"),
]


@dataclass(frozen=True, slots=True)
class Head:
    """A response's status line and headers."""

    status: int
    headers: list[tuple[str, str]]


class _End(enum.Enum):
    END = "end"


END = _End.END
"""The response's body is complete."""
Part = Head | bytes | _End
"""One piece of an answer as the wire carries it: the head, a piece of the body, the end."""


@dataclass
class Received:
    body: dict[str, Any]
    headers: dict[str, str]
    at: float
    """When the whole request had arrived (trio.current_time())."""


@dataclass
class FakeOpenAI:
    """Serve scripted replies; see the module docstring. ``serve`` reports the base URL."""

    script: deque[Scripted] = field(default_factory=deque)
    first_token_delay_s: float = 0.0
    token_delay_s: float = 0.0
    every_call: tuple[Scripted, ...] = ()
    """When set, a request that opens a conversation (its first user message) restarts
    ``script`` from these: one fake serves any number of calls
    (``python -m receptionist.devtools.fakes``)."""
    same_point_same_reply: bool = False
    untooled_reply: Scripted | None = None
    """When set, a request without tools (a call's summary for its report, staff/summary.py)
    gets this reply, outside the script, and is kept in ``untooled``, not ``requests``."""
    answer: Callable[[dict[str, Any]], Scripted] | None = None
    """When set, every request is answered by this function of its body, as a model answers
    what it reads, and ``script`` is not used (the bench's floor phase)."""
    requests: list[Received] = field(default_factory=list)
    untooled: list[Received] = field(default_factory=list)
    sent: list[tuple[float, dict[str, Any] | str]] = field(default_factory=list)
    """(time handed to the socket, chunk or "[DONE]") for every event, for latency tests."""
    _ids: itertools.count[int] = field(default_factory=itertools.count)
    _points: dict[str, tuple[str, Scripted]] = field(default_factory=dict)
    _news: trio.Event = field(default_factory=trio.Event)

    async def until(self, condition: Callable[[FakeOpenAI], bool]) -> None:
        """Wait until ``condition(self)`` holds, checked at each request and event sent."""
        while not condition(self):
            await self._news.wait()

    def _noted(self) -> None:
        self._news.set()
        self._news = trio.Event()

    """The conversation before the caller's last words -> (those words, the reply given)."""

    def add(self, *replies: Scripted) -> None:
        self.script.extend(replies)

    async def serve(
        self, *, port: int = 0, task_status: trio.TaskStatus[str] = trio.TASK_STATUS_IGNORED
    ) -> None:
        listeners = await trio.open_tcp_listeners(port, host="127.0.0.1")
        port = listeners[0].socket.getsockname()[1]
        task_status.started(f"http://127.0.0.1:{port}/v1")
        await trio.serve_listeners(self._serve_connection, listeners)

    async def _serve_connection(self, stream: trio.SocketStream) -> None:
        # The client may go away mid-response (a cancelled stream): normal here.
        async with stream:
            with contextlib.suppress(trio.BrokenResourceError, h11.RemoteProtocolError):
                await self._serve_requests(stream)

    async def _serve_requests(self, stream: trio.SocketStream) -> None:
        conn = h11.Connection(h11.SERVER, max_incomplete_event_size=MAX_REQUEST_BYTES)
        while True:
            request = await _read_request(conn, stream)
            if request is None or not await _write_answer(conn, stream, self.answer_to(*request)):
                return
            if conn.our_state is h11.MUST_CLOSE:
                return
            conn.start_next_cycle()

    def answer_to(self, target: str, received: Received) -> AsyncGenerator[Part, None]:
        """The answer to one request, as the wire carries it: its ``Head``, each piece of
        the body the moment it is made, then ``END``; stopping before ``END`` drops the
        connection mid-body. Served over a socket (``serve``) or in process
        (``fakes.openai_transport``)."""
        if target != "/v1/chat/completions" or not received.body.get("stream"):
            return _json(404, {"error": {"message": f"not faked: {target}"}})
        if self.untooled_reply is not None and "tools" not in received.body:
            self.untooled.append(received)
            return self._stream(self.untooled_reply, received.body)
        self.requests.append(received)
        self._noted()
        if self.every_call and _opens_conversation(received.body):
            self.script, self._points = deque(self.every_call), {}
        scripted = self._next_reply(received.body)
        if scripted.status != 200:
            return _json(scripted.status, {"error": ERROR_BODIES[scripted.status]})
        return self._stream(scripted, received.body)

    def _next_reply(self, body: dict[str, Any]) -> Scripted:
        if self.answer is not None:
            return self.answer(body)
        messages = body["messages"]
        point = words = None
        if self.same_point_same_reply and messages[-1]["role"] == "user":
            point, words = json.dumps(messages[:-1]), str(messages[-1]["content"])
            if point in self._points:
                said, given = self._points[point]
                if said != words or not _failed(given):
                    return given
        assert self.script, f"the fake OpenAI has no scripted reply for request {body}"
        scripted = self.script.popleft()
        if point is not None and words is not None:
            self._points[point] = (words, scripted)
        return scripted

    async def _stream(self, scripted: Scripted, body: dict[str, Any]) -> AsyncGenerator[Part, None]:
        yield Head(200, SSE_HEADERS)
        delay = scripted.first_token_delay_s
        await trio.sleep(self.first_token_delay_s if delay is None else delay)
        chunks = completion_chunks(scripted, body, f"chatcmpl-fake{next(self._ids)}")
        events: list[dict[str, Any] | str] = [*chunks, "[DONE]"]
        for count, event in enumerate(events):
            if count == scripted.drop_after:
                return
            if count:
                await trio.sleep(self.token_delay_s)
            data = event if isinstance(event, str) else json.dumps(event, separators=(",", ":"))
            self.sent.append((trio.current_time(), event))
            self._noted()
            yield f"data: {data}\n\n".encode()
        yield END


def _failed(scripted: Scripted) -> bool:
    """The reply was an HTTP error or a dropped stream: asking again is a retry."""
    return scripted.status != 200 or scripted.drop_after is not None


def _opens_conversation(body: dict[str, Any]) -> bool:
    return sum(1 for m in body.get("messages", ()) if m.get("role") == "user") == 1


async def _read_request(
    conn: h11.Connection, stream: trio.SocketStream
) -> tuple[str, Received] | None:
    """The next request's target and body, or None once the client has closed."""
    request: h11.Request | None = None
    body = bytearray()
    while True:
        event = conn.next_event()
        if event is h11.NEED_DATA:
            data = await stream.receive_some(READ_SIZE)
            conn.receive_data(data)
            continue
        match event:
            case h11.Request():
                request = event
            case h11.Data(data=data):
                body.extend(data)
            case h11.EndOfMessage():
                assert request is not None
                headers = {k.decode().lower(): v.decode() for k, v in request.headers}
                parsed = json.loads(body) if body else {}
                received = Received(parsed, headers, trio.current_time())
                return request.target.decode(), received
            case h11.ConnectionClosed() | h11.PAUSED:
                return None


async def _json(status: int, payload: dict[str, Any]) -> AsyncGenerator[Part, None]:
    data = json.dumps(payload).encode()
    yield Head(status, [("content-type", "application/json"), ("content-length", str(len(data)))])
    yield data
    yield END


async def _write_answer(
    conn: h11.Connection, stream: trio.SocketStream, answer: AsyncGenerator[Part, None]
) -> bool:
    """Write each part of ``answer`` as it comes; False when the connection must be dropped."""
    async with aclosing(answer) as parts:
        async for part in parts:
            match part:
                case Head(status=status, headers=headers):
                    data = conn.send(h11.Response(status_code=status, headers=headers))
                case bytes():
                    data = conn.send(h11.Data(data=part))
                case _:
                    await stream.send_all(conn.send(h11.EndOfMessage()))
                    return True
            await stream.send_all(data)
    return False
