"""The media stream's WebSocket under quart-trio, as the call's ``MediaConnection``.

quart-trio puts a task and a channel between hypercorn and the handler (a task wake and a
hand-off per inbound frame: about 30 µs of CPU on the development VM) and fires a blinker
signal per message each way. For 50 frames a second each way per call that
is worth skipping: here the call reads hypercorn's ASGI events itself and sends straight
to it (``AsgiMessages``), while Quart still routes the upgrade, checks it and accepts it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import trio
from quart_trio.asgi import TrioASGIWebsocketConnection

from receptionist.errors import CallDisconnected

DISCONNECT_GRACE_S = 5.0
"""How long a call whose peer has gone may take to end through its own hang-up path."""
SCOPE_KEY = "receptionist.media"
"""Where the connection's ``AsgiMessages`` waits in the ASGI scope for the handler."""


class AsgiMessages:
    """One WebSocket's ASGI callables, used by the call itself.

    A peer going away ends ``receive`` (EndOfChannel) rather than cancelling the handler at
    once, as quart-trio does: a dropped socket then ends the call through its own end (the
    reader's CallStopped, the Dialogue's drain, Deepgram's CloseStream), and
    ``on_disconnect`` starts the grace after which the handler is cancelled if it has not
    returned.
    """

    def __init__(self, receive: Any, send: Any, on_disconnect: Callable[[], None]) -> None:
        """``receive``, ``send``: the ASGI server's (untyped callables)."""
        self._receive = receive
        self._send = send
        self._on_disconnect = on_disconnect
        self._ended = False

    async def receive(self) -> str | bytes:
        """The peer's next message; EndOfChannel once it has gone."""
        while not self._ended:
            event = await self._receive()
            kind = event["type"]
            if kind == "websocket.receive":
                data: str | bytes = event.get("bytes") or event["text"]
                return data
            if kind == "websocket.disconnect":
                self._ended = True
                self._on_disconnect()
            # websocket.connect comes first, before the accept: nothing for the call
        raise trio.EndOfChannel

    async def send_text(self, data: str) -> None:
        await self._send({"type": "websocket.send", "bytes": None, "text": data})


class MediaWebsocket(TrioASGIWebsocketConnection):
    """quart-trio's connection without its reader task: Quart's ``websocket.receive`` and
    ``QuartConnection`` read through the scope's ``AsgiMessages``."""

    async def __call__(self, receive: Any, send: Any) -> None:
        async with trio.open_nursery() as nursery:

            def grace() -> None:
                nursery.start_soon(_cancel_after, DISCONNECT_GRACE_S, nursery.cancel_scope)

            messages = AsgiMessages(receive, send, grace)
            self.receive_channel = messages  # type: ignore[assignment]  # Quart reads .receive
            self.scope[SCOPE_KEY] = messages  # type: ignore[literal-required]
            websocket = self._create_websocket_from_scope(send)
            await self.handle_websocket(nursery, websocket, send)


async def _cancel_after(delay_s: float, scope: trio.CancelScope) -> None:
    await trio.sleep(delay_s)
    scope.cancel()


class QuartConnection:
    """The accepted media stream as a MediaConnection: a peer that has gone is
    CallDisconnected, from ``receive`` as from a failed ``send``."""

    def __init__(self, ws: Any) -> None:
        """``ws``: Quart's websocket (the request's, accepted), served by MediaWebsocket."""
        self._ws = ws
        self._messages: AsgiMessages = ws.scope[SCOPE_KEY]

    async def receive(self) -> str | bytes:
        try:
            return await self._messages.receive()
        except (trio.EndOfChannel, trio.ClosedResourceError) as exc:
            raise CallDisconnected("websocket closed by the peer") from exc

    async def send(self, data: str) -> None:
        try:
            await self._messages.send_text(data)
        except (trio.BrokenResourceError, trio.ClosedResourceError, OSError) as exc:
            raise CallDisconnected("websocket closed") from exc

    async def close(self, code: int) -> None:
        await self._ws.close(code)
