"""The emulated caller against a server that closes the WebSocket but never its TCP
connection: the call is reported, with the line left open, instead of waiting for good."""

from __future__ import annotations

import json
from functools import partial

import trio
from wsproto import ConnectionType, WSConnection
from wsproto.events import AcceptConnection, CloseConnection, Request, TextMessage

from receptionist.devtools.twilio_caller import CLOSE_WAIT_S, TwilioCaller

STREAM_PATH = "/media-stream"


async def close_but_keep_the_line(stream: trio.SocketStream) -> None:
    """Accept the stream, close the WebSocket once ``start`` comes, then read and discard
    all that follows without ever closing the TCP connection."""
    ws = WSConnection(ConnectionType.SERVER)
    closed = False
    while data := await stream.receive_some():
        ws.receive_data(data)
        for event in ws.events():
            if isinstance(event, Request):
                await stream.send_all(ws.send(AcceptConnection()))
            elif isinstance(event, TextMessage) and not closed and _is_start(event):
                await stream.send_all(ws.send(CloseConnection(code=1000)))
                closed = True
    await trio.sleep_forever()  # the caller went: still, no close from us


def _is_start(message: TextMessage) -> bool:
    return bool(json.loads(message.data)["event"] == "start")


async def test_a_server_that_never_closes_its_tcp_connection_is_reported(autojump_clock):
    async with trio.open_nursery() as nursery:
        serve = partial(trio.serve_tcp, close_but_keep_the_line, 0, host="127.0.0.1")
        listeners = await nursery.start(serve)
        port = listeners[0].socket.getsockname()[1]
        caller = TwilioCaller(f"http://127.0.0.1:{port}", paced=False)
        began = trio.current_time()
        report = await caller.run([], stream=(f"ws://127.0.0.1:{port}{STREAM_PATH}", {}))
        nursery.cancel_scope.cancel()
    assert report.closed_by_server
    assert report.line_left_open
    assert trio.current_time() - began < CLOSE_WAIT_S + 1
