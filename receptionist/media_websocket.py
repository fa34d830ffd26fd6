"""The media stream's WebSocket under quart-trio and hypercorn: the handshake agrees to no
extension, the handler reads hypercorn's messages without a relay task between, a peer going
away ends ``receive`` rather than cancelling the call, and what the caller still sends after
the call is read until hypercorn lets the connection go.

hypercorn accepts permessage-deflate whenever a client offers it, and has no setting to
refuse it. Twilio's media is mu-law audio, which does not compress: deflating and
inflating every 20 ms frame would cost CPU on both paths for nothing. So hypercorn's
handshake is given the request without its ``Sec-WebSocket-Extensions`` header, and the
connection is agreed with no extension, as for a client that offered none.
"""

from __future__ import annotations

from typing import Any, cast

import trio
from hypercorn.protocol import ws_stream
from quart_trio import QuartTrio
from quart_trio.asgi import TrioASGIWebsocketConnection

from receptionist.errors import CallDisconnected

EXTENSIONS_HEADER = b"sec-websocket-extensions"


class _NoExtensionsHandshake(ws_stream.Handshake):
    def __init__(self, headers: list[tuple[bytes, bytes]], http_version: str) -> None:
        offered = [(name, value) for name, value in headers if name.lower() != EXTENSIONS_HEADER]
        super().__init__(offered, http_version)


def refuse_websocket_extensions() -> None:
    """Make hypercorn's WebSocket streams (it looks ``Handshake`` up in its module on every
    upgrade) agree to no extension. Idempotent."""
    ws_stream.Handshake = _NoExtensionsHandshake  # type: ignore[misc]


DISCONNECT_GRACE_S = 5.0
"""How long a call whose peer has gone may take to end through its own hang-up path."""
DRAIN_AFTER_CLOSE_S = 5.0
"""How long after the stream's handler returns its late messages are read and discarded:
hypercorn's own ``websocket.disconnect`` comes at once; this bounds the task if not."""


class DisconnectReportingWebsocket(TrioASGIWebsocketConnection):
    """quart-trio's connection, except that the handler reads hypercorn's messages itself,
    and a peer going away ends ``receive`` instead of cancelling the handler at once.

    quart-trio relays each message from hypercorn's queue through a task of its own into a
    second channel: a round of the event loop per 20 ms frame per call, for nothing. Here
    ``websocket.receive()`` reads hypercorn's queue.

    quart-trio cancels the handler on ``websocket.disconnect``, so a real dropped socket
    skipped the call's own end (the reader's CallStopped, the Dialogue's drain, Deepgram's
    CloseStream): only the tests' fake connections ever took that path. Here the disconnect
    ends ``receive`` with EndOfChannel, which QuartConnection reports as CallDisconnected;
    the handler is cancelled only if it has not returned within ``DISCONNECT_GRACE_S``. And
    what the caller sends after the handler has returned is read and discarded until
    hypercorn's own ``websocket.disconnect`` (see ``__call__``).
    """

    _disconnected = False
    _asgi_receive: Any
    _gone: trio.Event

    async def __call__(self, receive: Any, send: Any) -> None:
        self._asgi_receive, self._gone = receive, trio.Event()
        try:
            await super().__call__(receive, send)
        finally:
            if not self._disconnected:
                # hypercorn puts ``websocket.disconnect`` on the app's bounded queue with a
                # blocking put, even after the app has returned, and closes the TCP
                # connection only once that put is done: frames the caller sent after the
                # call stopped reading, more than the queue holds, kept the connection
                # open for good. So someone reads the queue until that put, a little
                # while after the app is gone.
                cast(QuartTrio, self.app).nursery.start_soon(_drain_until_disconnect, receive)

    def _create_websocket_from_scope(self, send: Any) -> Any:
        websocket = super()._create_websocket_from_scope(send)
        websocket._receive = self._next_message  # quart's Websocket keeps it there
        return websocket

    async def _next_message(self) -> str | bytes:
        """The caller's next message; EndOfChannel once the peer has gone."""
        while not self._disconnected:
            event = await self._asgi_receive()
            if event["type"] == "websocket.receive":
                message: str | bytes = event.get("bytes") or event["text"]
                return message
            if event["type"] == "websocket.disconnect":
                self._disconnected = True
                self._gone.set()
        raise trio.EndOfChannel

    async def handle_messages(self, nursery: trio.Nursery, receive: Any) -> None:  # type: ignore[override]
        """Not a relay (the handler reads ``receive`` itself): the grace period once the
        peer has gone, then the handler's end."""
        await self._gone.wait()
        await trio.sleep(DISCONNECT_GRACE_S)
        nursery.cancel_scope.cancel()


async def _drain_until_disconnect(receive: Any) -> None:
    """Discard what the caller still sends, up to hypercorn's ``websocket.disconnect``."""
    with trio.move_on_after(DRAIN_AFTER_CLOSE_S):
        while (await receive())["type"] != "websocket.disconnect":
            pass


class QuartConnection:
    """Quart's websocket as a MediaConnection: a peer that has gone is CallDisconnected,
    from ``receive`` (see ``DisconnectReportingWebsocket``) as from a failed ``send``."""

    def __init__(self, ws: Any) -> None:
        self._ws = ws

    async def receive(self) -> str | bytes:
        try:
            data: str | bytes = await self._ws.receive()
        except (trio.EndOfChannel, trio.ClosedResourceError) as exc:
            raise CallDisconnected("websocket closed by the peer") from exc
        return data

    async def send(self, data: str) -> None:
        try:
            await self._ws.send(data)
        except (trio.BrokenResourceError, trio.ClosedResourceError, OSError) as exc:
            raise CallDisconnected("websocket closed") from exc

    async def close(self, code: int) -> None:
        await self._ws.close(code)
