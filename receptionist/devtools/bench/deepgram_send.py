"""What one audio message to Deepgram costs the sender: process CPU (utime+stime) per
WebSocket message sent with trio-websocket, as the Deepgram writer sends them, at 20, 60 and
100 ms of mu-law per message, against a server in another process that reads and discards.

Run: ``python -m receptionist.devtools.bench.deepgram_send [--messages 3000]``. Messages
go 2 ms apart, so each is its own send and wake as on a live call; a loop of the same
sleeps alone is subtracted. Multiply by the messages a call-second takes (50 / frames per
message) for the cost per call-second.
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys

import trio
from trio_websocket import open_websocket_url

from receptionist.messages import FRAME_BYTES, FRAME_MS

PACE_S = 0.002
FRAMES_PER_MESSAGE = (1, 3, 5)
SERVER = """
import trio
from trio_websocket import ConnectionClosed, serve_websocket

async def discard(request):
    ws = await request.accept()
    try:
        while True:
            await ws.get_message()
    except ConnectionClosed:
        pass

async def main():
    async with trio.open_nursery() as nursery:
        server = await nursery.start(serve_websocket, discard, "127.0.0.1", 0, None)
        print(server.port, flush=True)

trio.run(main)
"""


def _cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def measure(port: int, messages: int) -> None:
    async with open_websocket_url(f"ws://127.0.0.1:{port}/v1/listen") as ws:
        for frames in FRAMES_PER_MESSAGE * 2:  # twice round: the first pass warms up
            payload = b"\xff" * (FRAME_BYTES * frames)
            before = _cpu_s()
            for _ in range(messages):
                await ws.send_message(payload)
                await trio.sleep(PACE_S)
            with_sends = _cpu_s() - before
            before = _cpu_s()
            for _ in range(messages):
                await trio.sleep(PACE_S)
            per_send_us = (with_sends - (_cpu_s() - before)) / messages * 1e6
            per_call_s = 1000 / FRAME_MS / frames
            print(f"{frames * FRAME_MS:>4} ms messages: {per_send_us:6.1f} µs of CPU per send; "
                  f"{per_call_s:4.1f} messages per call-second: "
                  f"{per_send_us * per_call_s / 1000:5.2f} ms")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=3000)
    args = parser.parse_args()
    server = subprocess.Popen([sys.executable, "-c", SERVER], stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        trio.run(measure, int(server.stdout.readline()), args.messages)
    finally:
        server.terminate()
        server.wait()


if __name__ == "__main__":
    main()
