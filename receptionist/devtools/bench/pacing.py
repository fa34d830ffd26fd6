"""The CPU of TwilioIO's outbound pacing alone: the writer, per frame and per call-second.

Run: ``.venv/bin/python -m receptionist.devtools.bench.pacing [--streams 50] [--seconds 10]
[--message-ms 100]``.
Each stream's writer is fed a turn's audio faster than real time (as the Synthesizer
does) and paces it out in real time to a connection whose send is one checkpoint (as a
socket send that does not block), so the figure is the writer's own: timer wakes, channel,
cancellation checks, encoding and counters, without the WebSocket and socket costs.
Process CPU time, not wall-clock: it holds on a shared machine.
"""

from __future__ import annotations

import argparse
import time

import trio

from receptionist.config import TwilioConfig
from receptionist.logs import configure_logging
from receptionist.messages import (
    FRAME_BYTES,
    FRAME_MS,
    ULAW_SILENCE,
    EndCall,
    OutboundAudio,
    TurnTimings,
)
from receptionist.telephony.connection import TwilioStats
from receptionist.turns.cancellation import TurnCancellation
from stages.twilio_writer import TwilioWriter

SEND_AHEAD_S = 0.1
OUTBOUND_BUFFER = 100


class CheckpointConnection:
    """A MediaConnection that counts the messages it is sent."""

    sent = 0

    async def receive(self) -> str | bytes:
        await trio.sleep_forever()
        raise AssertionError("unreachable")

    async def send(self, data: str) -> None:
        CheckpointConnection.sent += 1
        await trio.lowlevel.checkpoint()

    async def close(self, code: int) -> None:
        pass


async def _ignore_end(_end: EndCall) -> None:
    pass


async def _stream(index: int, message_frames: int, stats: TwilioStats) -> None:
    send, receive = trio.open_memory_channel[OutboundAudio](OUTBOUND_BUFFER)
    writer = TwilioWriter(CheckpointConnection(), f"MZ{index}", TurnCancellation(), stats,
                          trio.CancelScope(), send_ahead=SEND_AHEAD_S,
                          message_frames=message_frames)  # fmt: skip
    frame = OutboundAudio(turn_id=1, ulaw=ULAW_SILENCE * FRAME_BYTES, timings=TurnTimings())

    async def feed() -> None:
        async with send:
            while True:
                await send.send(frame)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(feed)
        nursery.start_soon(writer.run, receive, trio.Event(), _ignore_end)


async def _run(streams: int, seconds: float, message_frames: int, stats: TwilioStats) -> None:
    with trio.move_on_after(seconds):
        async with trio.open_nursery() as nursery:
            for index in range(streams):
                nursery.start_soon(_stream, index, message_frames, stats)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--streams", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--message-ms", type=int, default=TwilioConfig().media_message_ms)
    args = parser.parse_args()
    configure_logging("warning")  # no "turn" line per stream in the figures
    stats = TwilioStats()
    began = time.process_time()
    trio.run(_run, args.streams, args.seconds, args.message_ms // FRAME_MS, stats)
    cpu = time.process_time() - began
    frames, messages = stats.frames_out, CheckpointConnection.sent
    per_call_s = cpu / (args.streams * args.seconds) * 1000
    print(f"{args.streams} streams for {args.seconds} s, {args.message_ms} ms messages: "
          f"{frames} frames in {messages} messages "
          f"({messages / args.streams / args.seconds:.1f} sends a second each); writer CPU "
          f"{cpu / frames * 1e6:.1f} µs per frame, {per_call_s:.2f} ms per call-second "
          "of agent audio")  # fmt: skip


if __name__ == "__main__":
    main()
