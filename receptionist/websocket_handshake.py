"""The media stream's WebSocket handshake accepts no extensions.

hypercorn accepts permessage-deflate whenever a client offers it, and has no setting to
refuse it. Twilio's media is mu-law audio, which does not compress: deflating and
inflating every 20 ms frame would cost CPU on both paths for nothing. So hypercorn's
handshake is given the request without its ``Sec-WebSocket-Extensions`` header, and the
connection is agreed with no extension, as for a client that offered none.
"""

from __future__ import annotations

from hypercorn.protocol import ws_stream

EXTENSIONS_HEADER = b"sec-websocket-extensions"


class _NoExtensionsHandshake(ws_stream.Handshake):
    def __init__(self, headers: list[tuple[bytes, bytes]], http_version: str) -> None:
        offered = [(name, value) for name, value in headers if name.lower() != EXTENSIONS_HEADER]
        super().__init__(offered, http_version)


def refuse_websocket_extensions() -> None:
    """Make hypercorn's WebSocket streams (it looks ``Handshake`` up in its module on every
    upgrade) agree to no extension. Idempotent."""
    ws_stream.Handshake = _NoExtensionsHandshake  # type: ignore[misc]
