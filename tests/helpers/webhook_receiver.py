"""A clinic's webhook receiver on 127.0.0.1, as a clinic would write one: it verifies each
request's signature with the documented scheme and keeps each delivery id once. Before it
accepts, it can fail in the ways a real one does: a 500, a dropped connection, a stall."""

from __future__ import annotations

import json
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Literal

import h11
import trio

from receptionist.staff.signature import DELIVERY_HEADER, SIGNATURE_HEADER, verify_signature

Answer = Literal["accept", "500", "drop", "stall"]
READ_SIZE = 65536


@dataclass
class Delivery:
    id: str
    body: bytes
    signature_valid: bool

    @property
    def envelope(self) -> dict[str, Any]:
        parsed: dict[str, Any] = json.loads(self.body)
        return parsed


@dataclass
class WebhookReceiver:
    secret: str
    answers: deque[Answer] = field(default_factory=deque)
    """How to answer each request in turn; "accept" once they run out."""
    requests: list[Delivery] = field(default_factory=list)
    accepted: dict[str, Delivery] = field(default_factory=dict)
    """By delivery id: a repeat is answered 200 and not kept again."""
    _news: trio.Event = field(default_factory=trio.Event)

    async def serve(self, *, task_status: trio.TaskStatus[str] = trio.TASK_STATUS_IGNORED) -> None:
        listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
        port = listeners[0].socket.getsockname()[1]
        async with trio.open_nursery() as nursery:
            task_status.started(f"http://127.0.0.1:{port}/hooks/receptionist")
            await trio.serve_listeners(self._serve_connection, listeners, handler_nursery=nursery)

    async def until(self, requests: int) -> None:
        while len(self.requests) < requests:
            await self._news.wait()

    async def _serve_connection(self, stream: trio.SocketStream) -> None:
        async with stream:
            conn = h11.Connection(h11.SERVER)
            while (received := await _read_request(conn, stream)) is not None:
                headers, body = received
                answer = self.answers.popleft() if self.answers else "accept"
                delivery = Delivery(
                    headers.get(DELIVERY_HEADER.lower(), ""), body,
                    verify_signature(
                        self.secret, body, headers.get(SIGNATURE_HEADER.lower(), ""),
                        now=time.time(),
                    ),
                )  # fmt: skip
                self.requests.append(delivery)
                self._news.set()
                self._news = trio.Event()
                if answer == "drop":
                    return
                if answer == "stall":
                    await trio.sleep_forever()
                if answer == "accept" and delivery.signature_valid:
                    self.accepted.setdefault(delivery.id, delivery)
                status = 500 if answer == "500" else 200 if delivery.signature_valid else 400
                await _respond(conn, stream, status)
                conn.start_next_cycle()


async def _read_request(
    conn: h11.Connection, stream: trio.SocketStream
) -> tuple[dict[str, str], bytes] | None:
    headers: dict[str, str] = {}
    body = bytearray()
    while True:
        event = conn.next_event()
        if event is h11.NEED_DATA:
            conn.receive_data(await stream.receive_some(READ_SIZE))
            continue
        match event:
            case h11.Request():
                headers = {k.decode().lower(): v.decode() for k, v in event.headers}
            case h11.Data(data=data):
                body.extend(data)
            case h11.EndOfMessage():
                return headers, bytes(body)
            case _:
                return None


async def _respond(conn: h11.Connection, stream: trio.SocketStream, status: int) -> None:
    data = b'{"received":true}'
    headers = [("content-type", "application/json"), ("content-length", str(len(data)))]
    await stream.send_all(conn.send(h11.Response(status_code=status, headers=headers)))
    await stream.send_all(conn.send(h11.Data(data=data)))
    await stream.send_all(conn.send(h11.EndOfMessage()))
