"""The CPU of TwilioIO's outbound audio: the writer, per frame and per call-second.

Run: ``.venv/bin/python -m receptionist.devtools.bench.pacing [--streams 50] [--seconds 10]
[--message-ms 100] [--websocket]``.
Each stream's writer is fed a turn's audio faster than real time (as the Synthesizer
does) and paces it out in real time, in media messages of ``--message-ms``. By default to a
connection whose send is one checkpoint (as a socket send that does not block), so the
figure is the writer's own: timer wakes, channel, cancellation checks, encoding and
counters. With ``--websocket``, over the media stream's real WebSocket (hypercorn,
quart-trio, media_websocket.py) to a reader in another process: the figure then includes
the WebSocket framing and the socket sends, which cost per message, not per byte.
Process CPU time, not wall-clock: it holds on a shared machine.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

import trio
from hypercorn.trio import serve
from quart import websocket
from quart_trio import QuartTrio

from receptionist.config import TwilioConfig
from receptionist.logs import configure_logging
from receptionist.media_websocket import DisconnectReportingWebsocket, QuartConnection
from receptionist.messages import (
    FRAME_BYTES,
    FRAME_MS,
    ULAW_SILENCE,
    EndCall,
    OutboundAudio,
    TurnTimings,
)
from receptionist.server import hypercorn_config
from receptionist.telephony.connection import MediaConnection, TwilioStats
from receptionist.turns.cancellation import TurnCancellation
from stages.twilio_writer import TwilioWriter

SEND_AHEAD_S = 0.1
OUTBOUND_BUFFER = 100
READER_EXIT_S = 5.0
READER = """
import sys
import trio
from trio_websocket import ConnectionClosed, open_websocket_url

async def read(url):
    try:
        async with open_websocket_url(url) as ws:
            while True:
                await ws.get_message()
    except ConnectionClosed:
        pass

async def main(url, streams):
    async with trio.open_nursery() as nursery:
        for _ in range(streams):
            nursery.start_soon(read, url)

trio.run(main, sys.argv[1], int(sys.argv[2]))
"""


def media_app(handle: Callable[[QuartConnection], Awaitable[None]]) -> QuartTrio:
    """A quart-trio app whose ``/media`` WebSocket is the server's media stream's kind
    (``media_websocket.py``), each connection accepted and handed to ``handle``."""
    app = QuartTrio(__name__)
    app.asgi_websocket_class = DisconnectReportingWebsocket

    @app.websocket("/media")
    async def media() -> None:
        await websocket.accept()
        connection: Any = websocket._get_current_object()  # type: ignore[attr-defined]
        await handle(QuartConnection(connection))

    return app


class CheckpointConnection:
    """A MediaConnection whose send does not block."""

    async def receive(self) -> str | bytes:
        await trio.sleep_forever()
        raise AssertionError("unreachable")

    async def send(self, data: str) -> None:
        await trio.lowlevel.checkpoint()

    async def close(self, code: int) -> None:
        pass


async def _ignore_end(_end: EndCall) -> None:
    pass


async def _stream(connection: MediaConnection, message_frames: int, stats: TwilioStats) -> None:
    send, receive = trio.open_memory_channel[OutboundAudio](OUTBOUND_BUFFER)
    writer = TwilioWriter(connection, "MZ1", TurnCancellation(), stats, trio.CancelScope(),
                          send_ahead=SEND_AHEAD_S, message_frames=message_frames)  # fmt: skip
    frame = OutboundAudio(turn_id=1, ulaw=ULAW_SILENCE * FRAME_BYTES, timings=TurnTimings())

    async def feed() -> None:
        async with send:
            while True:
                await send.send(frame)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(feed)
        nursery.start_soon(writer.run, receive, trio.Event(), _ignore_end)


async def _measure(
    streams: int, seconds: float, message_frames: int, stats: TwilioStats, over_websocket: bool
) -> tuple[float, int, int]:
    """Process CPU seconds, frames and messages sent over ``seconds`` once every stream runs."""
    connected = trio.Semaphore(0)
    running: list[trio.CancelScope] = []

    async def media(connection: QuartConnection) -> None:
        with trio.CancelScope() as stream:
            running.append(stream)
            connected.release()
            await _stream(connection, message_frames, stats)

    app = media_app(media)

    async with trio.open_nursery() as nursery:
        if over_websocket:
            binds = await nursery.start(serve, app, hypercorn_config("127.0.0.1", 0))
            url = binds[0].replace("http://", "ws://") + "/media"
            reader = await trio.lowlevel.open_process([sys.executable, "-c", READER, url,
                                                       str(streams)])  # fmt: skip
            for _ in range(streams):
                await connected.acquire()
        else:
            for _ in range(streams):
                nursery.start_soon(_stream, CheckpointConnection(), message_frames, stats)
        await trio.sleep(1.0)  # every stream past its first burst
        began, frames, messages = time.process_time(), stats.frames_out, stats.messages_out
        await trio.sleep(seconds)
        measured = time.process_time() - began
        frames, messages = stats.frames_out - frames, stats.messages_out - messages
        for stream in running:  # each handler returns: the server closes its WebSocket
            stream.cancel()
        if over_websocket:
            with trio.move_on_after(READER_EXIT_S):
                await reader.wait()
            reader.kill()
        nursery.cancel_scope.cancel()
    return measured, frames, messages


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--streams", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--message-ms", type=int, default=TwilioConfig().media_message_ms)
    parser.add_argument("--websocket", action="store_true")
    args = parser.parse_args()
    configure_logging("warning")  # no "turn" line per stream in the figures
    stats = TwilioStats()
    frames_per_message = args.message_ms // FRAME_MS
    cpu, frames, messages = trio.run(_measure, args.streams, args.seconds, frames_per_message,
                                     stats, args.websocket)  # fmt: skip
    per_call_s = cpu / (args.streams * args.seconds) * 1000
    path = "over the WebSocket" if args.websocket else "writer alone"
    print(f"{args.streams} streams for {args.seconds} s, {args.message_ms} ms messages, {path}: "
          f"{frames} frames in {messages} messages "
          f"({messages / args.streams / args.seconds:.1f} sends a second each); CPU "
          f"{cpu / frames * 1e6:.1f} µs per frame, {per_call_s:.2f} ms per call-second "
          "of agent audio")  # fmt: skip


if __name__ == "__main__":
    main()
