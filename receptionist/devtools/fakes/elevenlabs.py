"""A fake ElevenLabs streaming TTS server: real HTTP/1.1 (h11 over trio) on 127.0.0.1.

It serves ``POST /v1/text-to-speech/{voice_id}/stream`` as the OpenAPI spec and SDK
describe it (``protocol-samples/elevenlabs/http_stream_request.txt``): ``xi-api-key``
header, JSON body with ``text`` and ``model_id``, ``output_format`` query. The answer is a
chunked stream of 8 kHz mu-law: a tone as long as the text would take to say, in chunks,
with scripted delays and faults. Errors carry ElevenLabs' JSON ``detail`` bodies.
``GET /v1/models`` answers a short models list (the engine's spare-connection request).
``new_connection_delay_s`` holds each new connection's first answer back: the TCP and TLS
handshakes of a real network, which plain HTTP on 127.0.0.1 does not have.

Built on h11 rather than an ASGI server so a test controls every byte and every pause:
when the headers go out, each chunk, a hang, a connection cut mid-body.

Usage::

    fake = FakeElevenLabs(api_key="k", chunk_delay_s=0.05)
    base_url = await nursery.start(fake.serve)
"""

from __future__ import annotations

import enum
import json
import math
from array import array
from dataclasses import dataclass, field
from functools import cache, partial
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qs, urlsplit

import h11
import trio

from receptionist.engines.audio import pcm16_to_ulaw

PATH_PREFIX, PATH_SUFFIX = "/v1/text-to-speech/", "/stream"
MODELS_PATH = "/v1/models"
MODELS = [
    {"model_id": "eleven_flash_v2_5", "name": "Eleven Flash v2.5", "can_do_text_to_speech": True}
]
SAMPLE_RATE = 8000
TONE_HZ = 440
MAX_REQUEST_BYTES = 65536
"""Bigger than any sentence a test sends; a request past it is answered with 413."""
ERRORS = {
    404: {"detail": {"status": "not_found", "message": "Not found"}},
    401: {"detail": {"status": "invalid_api_key", "message": "Invalid API key"}},
    429: {
        "detail": {
            "status": "too_many_concurrent_requests",
            "message": "Too many concurrent requests for your subscription.",
        }
    },
    500: {"detail": {"status": "internal_server_error", "message": "Internal server error"}},
}


class Fault(enum.Enum):
    NONE = "none"
    UNAUTHORIZED = "unauthorized"  # 401 whatever the key
    RATE_LIMITED = "rate_limited"  # 429
    SERVER_ERROR = "server_error"  # 500
    HANG = "hang"  # accept the request, never answer
    DROP_MID_STREAM = "drop_mid_stream"  # send ``drop_after_chunks`` chunks, then cut the TCP
    STALL_MID_STREAM = "stall_mid_stream"  # send ``drop_after_chunks`` chunks, then go silent


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: Any


@dataclass
class FakeElevenLabs:
    """The server and its script; inspect ``requests``, ``connections``, ``events`` after.

    ``events`` is a log of ("sent", i) for each chunk written and ("abandoned",) when the
    client closed a connection before its response ended.
    """

    api_key: str = "test-key"
    time_to_first_byte_s: float = 0.0
    chunk_delay_s: float = 0.0
    chunk_bytes: int = 800
    ms_per_char: int = 60
    fault: Fault = Fault.NONE
    drop_after_chunks: int = 1
    new_connection_delay_s: float = 0.0
    requests: list[RecordedRequest] = field(default_factory=list)
    connections: int = 0
    events: list[tuple[Any, ...]] = field(default_factory=list)
    abandoned: trio.Event = field(default_factory=trio.Event)

    async def serve(
        self, *, port: int = 0, task_status: trio.TaskStatus[str] = trio.TASK_STATUS_IGNORED
    ) -> None:
        """Listen on 127.0.0.1, ``port`` (0: an ephemeral one); ``started`` with the base URL."""
        async with trio.open_nursery() as nursery:
            serve = partial(trio.serve_tcp, self._connection, port, host="127.0.0.1")
            listeners = await nursery.start(serve)
            port = listeners[0].socket.getsockname()[1]
            task_status.started(f"http://127.0.0.1:{port}")

    def audio_for(self, text: str) -> bytes:
        """The mu-law this server speaks for ``text``: a tone, ``ms_per_char`` per char."""
        return _tone(SAMPLE_RATE * self.ms_per_char * len(text) // 1000)

    async def _connection(self, stream: trio.SocketStream) -> None:
        self.connections += 1
        conn = h11.Connection(h11.SERVER, max_incomplete_event_size=MAX_REQUEST_BYTES)
        async with stream:
            await trio.sleep(self.new_connection_delay_s)
            try:
                while (request := await _read_request(conn, stream)) is not None:
                    self.requests.append(request)
                    await self._answer(conn, stream, request)
                    if conn.our_state is not h11.DONE or conn.their_state is not h11.DONE:
                        return
                    conn.start_next_cycle()
            except* (trio.BrokenResourceError, h11.ProtocolError):
                self._abandon()  # the client went away mid-response

    def _abandon(self) -> None:
        self.events.append(("abandoned",))
        self.abandoned.set()

    async def _answer(
        self, conn: h11.Connection, stream: trio.SocketStream, req: RecordedRequest
    ) -> None:
        if req.method == "GET" and req.path == MODELS_PATH:
            authorised = req.headers.get("xi-api-key") == self.api_key
            await _send_json(conn, stream, 200 if authorised else 401,
                             MODELS if authorised else ERRORS[401])  # fmt: skip
            return
        status = self._status_for(req)
        if status != 200:
            await _send_json(conn, stream, status, ERRORS.get(status) or _validation(req))
            return
        if self.fault is Fault.HANG:
            await _wait_for_close(stream)
            self._abandon()
            return
        await trio.sleep(self.time_to_first_byte_s)
        await self._stream_audio(conn, stream, self.audio_for(req.body["text"]))

    def _status_for(self, req: RecordedRequest) -> int:
        faults = {Fault.UNAUTHORIZED: 401, Fault.RATE_LIMITED: 429, Fault.SERVER_ERROR: 500}
        if req.method != "POST" or not _is_stream_path(req.path):
            return 404
        if self.fault in faults:
            return faults[self.fault]
        if req.headers.get("xi-api-key") != self.api_key:
            return 401
        if _validation(req)["detail"]:
            return 422
        return 200

    async def _stream_audio(
        self, conn: h11.Connection, stream: trio.SocketStream, audio: bytes
    ) -> None:
        headers = [("content-type", "audio/mpeg"), ("transfer-encoding", "chunked")]
        response = h11.Response(status_code=200, headers=headers, reason=b"OK")
        await stream.send_all(conn.send(response))
        async with trio.open_nursery() as nursery:
            # The client sends nothing more on this connection until the response ends,
            # so a read that returns is the client going away: stop at once, as a real
            # server does, and record it.
            nursery.start_soon(self._watch_for_close, stream, nursery.cancel_scope)
            await self._send_chunks(conn, stream, audio)
            nursery.cancel_scope.cancel()

    async def _send_chunks(
        self, conn: h11.Connection, stream: trio.SocketStream, audio: bytes
    ) -> None:
        for number, start in enumerate(range(0, len(audio), self.chunk_bytes)):
            if number and number == self.drop_after_chunks:
                if self.fault is Fault.DROP_MID_STREAM:
                    return  # no terminating chunk: _connection closes the TCP connection
                if self.fault is Fault.STALL_MID_STREAM:
                    await trio.sleep_forever()
            if number:
                await trio.sleep(self.chunk_delay_s)
            self.events.append(("sent", number))  # before: the client may run first
            await stream.send_all(conn.send(h11.Data(data=audio[start : start + self.chunk_bytes])))
        await stream.send_all(conn.send(h11.EndOfMessage()))

    async def _watch_for_close(self, stream: trio.SocketStream, scope: trio.CancelScope) -> None:
        await _wait_for_close(stream)
        self._abandon()
        scope.cancel()


async def _read_request(conn: h11.Connection, stream: trio.SocketStream) -> RecordedRequest | None:
    """One whole request as a RecordedRequest, or None when the client closed."""
    head: h11.Request | None = None
    body = bytearray()
    while True:
        event = conn.next_event()
        if event is h11.NEED_DATA:
            conn.receive_data(await stream.receive_some())
        elif isinstance(event, h11.Request):
            head = event
        elif isinstance(event, h11.Data):
            body += event.data
        elif isinstance(event, h11.EndOfMessage):
            assert head is not None
            return _record(head, bytes(body))
        else:  # ConnectionClosed, between requests
            return None


def _record(head: h11.Request, body: bytes) -> RecordedRequest:
    target = urlsplit(head.target.decode())
    headers = {name.decode(): value.decode() for name, value in head.headers}
    try:
        parsed = json.loads(body)
    except ValueError:
        parsed = None
    query = parse_qs(target.query)
    return RecordedRequest(head.method.decode(), target.path, query, headers, parsed)


def _is_stream_path(path: str) -> bool:
    voice = path.removeprefix(PATH_PREFIX).removesuffix(PATH_SUFFIX)
    return path.startswith(PATH_PREFIX) and path.endswith(PATH_SUFFIX) and "/" not in voice


def _validation(req: RecordedRequest) -> dict[str, Any]:
    """FastAPI-style 422 detail for what is wrong with the request; empty when nothing."""
    problems = []
    if req.headers.get("content-type") != "application/json" or not isinstance(req.body, dict):
        problems.append((["body"], "value is not a valid JSON object"))
    else:
        for key in ("text", "model_id"):
            if not isinstance(req.body.get(key), str) or not req.body[key].strip():
                problems.append((["body", key], "field required"))
    if req.query.get("output_format") != ["ulaw_8000"]:
        problems.append((["query", "output_format"], "this fake speaks only ulaw_8000"))
    return {"detail": [{"loc": loc, "msg": msg, "type": "value_error"} for loc, msg in problems]}


async def _send_json(
    conn: h11.Connection, stream: trio.SocketStream, status: int, body: Any
) -> None:
    data = json.dumps(body).encode()
    headers = [("content-type", "application/json"), ("content-length", str(len(data)))]
    head = h11.Response(status_code=status, headers=headers, reason=HTTPStatus(status).phrase)
    await stream.send_all(conn.send(head))
    await stream.send_all(conn.send(h11.Data(data=data)) + conn.send(h11.EndOfMessage()))


async def _wait_for_close(stream: trio.SocketStream) -> None:
    try:
        while await stream.receive_some():
            pass  # a well-behaved client sends nothing here; ignore it if one does
    except trio.BrokenResourceError:
        pass  # a reset: the client closed with our audio still unread in its buffer


@cache
def _tone(samples: int) -> bytes:
    """Built once per length: in pure Python a greeting's tone takes ~50 ms of CPU, which
    would stall every caller and fake sharing the benchmark's event loop on each reply."""
    step = 2 * math.pi * TONE_HZ / SAMPLE_RATE
    pcm = array("h", (int(8000 * math.sin(step * n)) for n in range(samples)))
    return pcm16_to_ulaw(pcm.tobytes())
