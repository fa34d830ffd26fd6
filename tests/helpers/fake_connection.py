"""An in-memory MediaConnection: the test plays Twilio on the other end."""

from __future__ import annotations

import json
from typing import Any

import trio

from receptionist.errors import CallDisconnected

FAKE_BUFFER = 1000
"""Large enough that a test never blocks on it; bounded all the same."""


class FakeConnection:
    def __init__(self) -> None:
        self._to_server, self._server_inbox = trio.open_memory_channel[str](FAKE_BUFFER)
        self._server_outbox, self.from_server = trio.open_memory_channel[str](FAKE_BUFFER)
        self.closed_with: int | None = None
        self.closed = trio.Event()
        """Set when the server closes the connection (hangs up)."""

    # What the server side sees.
    async def receive(self) -> str:
        try:
            return await self._server_inbox.receive()
        except (trio.EndOfChannel, trio.ClosedResourceError) as exc:
            raise CallDisconnected("peer closed") from exc

    async def send(self, data: str) -> None:
        if self.closed_with is not None:
            raise CallDisconnected("closed")
        try:
            await self._server_outbox.send(data)
        except trio.BrokenResourceError as exc:
            raise CallDisconnected("peer gone") from exc

    async def close(self, code: int) -> None:
        # Like a real WebSocket: our own close does not end our receive(); only the peer's
        # answer would, and a peer may never give one.
        self.closed_with = code
        self.closed.set()

    # What the test (playing Twilio) does.
    async def twilio_sends(self, message: dict[str, Any] | str) -> None:
        await self._to_server.send(message if isinstance(message, str) else json.dumps(message))

    def twilio_hangs_up(self) -> None:
        self._to_server.close()

    def sent_messages(self) -> list[dict[str, Any]]:
        messages = []
        while True:
            try:
                messages.append(json.loads(self.from_server.receive_nowait()))
            except (trio.WouldBlock, trio.EndOfChannel):
                return messages
