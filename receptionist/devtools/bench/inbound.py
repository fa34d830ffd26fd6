"""The CPU of receiving Twilio's audio: one media message in, over a real WebSocket.

Run: ``.venv/bin/python -m receptionist.devtools.bench.inbound [--streams 32] [--seconds 10]
[--server hypercorn|trio-websocket]``.
Each stream is a caller in another process (on the other core) sending a media message
every 20 ms, as Twilio does. This process (the server's core) reads and parses them as
TwilioIO's reader does (``receive``, then ``parse_message``), and nothing else: the figure
is the floor every call pays before any VAD, recognition or reply. ``hypercorn`` is the
server's own path (hypercorn's trio worker, quart-trio, ``media_websocket.py``);
``trio-websocket`` is that library's server on the same socket kind, for comparison.
Process CPU time per message received.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Awaitable, Callable
from functools import partial

import trio
from hypercorn.trio import serve
from trio_websocket import ConnectionClosed, WebSocketRequest, serve_websocket

from receptionist.devtools.bench.pacing import media_app
from receptionist.devtools.bench.process import BENCH_CORE
from receptionist.devtools.bench.server import SERVER_CORE
from receptionist.errors import CallDisconnected
from receptionist.logs import configure_logging
from receptionist.media_websocket import QuartConnection
from receptionist.messages import FRAME_MS
from receptionist.server import hypercorn_config
from receptionist.telephony.media_streams import parse_message

WARM_UP_S = 1.0
CALLERS = """
import os
import sys
import trio
from trio_websocket import open_websocket_url
from receptionist.devtools.caller_messages import MediaFrames

async def call(url, index, streams, frames):
    await trio.sleep(index * 0.02 / streams)
    async with open_websocket_url(url) as ws:
        media, due = MediaFrames("MZ%032d" % index), trio.current_time()
        for chunk in range(1, frames + 1):
            due += 0.02
            await trio.sleep_until(due)
            await ws.send_message(media.encode(chunk + 1, chunk, bytes([0xFF]) * 160))

async def main(url, streams, frames):
    async with trio.open_nursery() as nursery:
        for index in range(streams):
            nursery.start_soon(call, url, index, streams, frames)

if len(os.sched_getaffinity(0)) > 1:
    os.sched_setaffinity(0, {int(sys.argv[4])})
trio.run(main, sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))
"""

Receive = Callable[[], Awaitable[str | bytes]]


class Counted:
    def __init__(self, streams: int) -> None:
        self.messages = 0
        self.streams = streams
        self.all_in = trio.Event()
        """Set once as many messages as streams have come: every caller is sending."""

    def one(self) -> None:
        self.messages += 1
        if self.messages == self.streams:
            self.all_in.set()


async def _read_all(receive: Receive, counted: Counted) -> None:
    """TwilioIO's reader, without the actors behind it."""
    try:
        while True:
            parse_message(await receive())
            counted.one()
    except (ConnectionClosed, CallDisconnected):
        return  # the caller hung up


async def _hypercorn(counted: Counted, task_status: trio.TaskStatus[str]) -> None:
    async def media(connection: QuartConnection) -> None:
        await _read_all(connection.receive, counted)

    app = media_app(media)
    async with trio.open_nursery() as nursery:
        binds = await nursery.start(serve, app, hypercorn_config("127.0.0.1", 0))
        task_status.started(binds[0].replace("http://", "ws://") + "/media")


async def _trio_websocket(counted: Counted, task_status: trio.TaskStatus[str]) -> None:
    async def handler(request: WebSocketRequest) -> None:
        ws = await request.accept()
        await _read_all(ws.get_message, counted)

    async with trio.open_nursery() as nursery:
        servers = await nursery.start(partial(serve_websocket, handler, "127.0.0.1", 0, None))
        task_status.started(f"ws://127.0.0.1:{servers.port}/media")


async def _measure(server: str, streams: int, seconds: float) -> tuple[float, int]:
    counted = Counted(streams)
    frames = round((WARM_UP_S + seconds + 2) * 1000 / FRAME_MS)
    async with trio.open_nursery() as nursery:
        url = await nursery.start(_hypercorn if server == "hypercorn" else _trio_websocket,
                                  counted)  # fmt: skip
        callers = await trio.lowlevel.open_process(
            [sys.executable, "-c", CALLERS, url, str(streams), str(frames), str(BENCH_CORE)]
        )
        await counted.all_in.wait()
        await trio.sleep(WARM_UP_S)
        began, messages = time.process_time(), counted.messages
        await trio.sleep(seconds)
        cpu, messages = time.process_time() - began, counted.messages - messages
        callers.kill()
        await callers.wait()
        nursery.cancel_scope.cancel()
    return cpu, messages


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--streams", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--server", choices=["hypercorn", "trio-websocket"], default="hypercorn")
    args = parser.parse_args()
    configure_logging("warning")
    if len(os.sched_getaffinity(0)) > 1:
        os.sched_setaffinity(0, {SERVER_CORE})  # the callers pin themselves to the other
    cpu, messages = trio.run(_measure, args.server, args.streams, args.seconds)
    per_message_us = cpu / messages * 1e6
    print(f"{args.server}: {args.streams} streams for {args.seconds} s, {messages} media "
          f"messages in: {per_message_us:.1f} µs of CPU each, "
          f"{per_message_us * 1000 / FRAME_MS / 1000:.2f} ms per call-second")  # fmt: skip


if __name__ == "__main__":
    main()
