"""How fast this machine runs the server's kind of work, printed with every bench run.

The bench's figures are CPU time and lateness on whatever machine runs it, and machines of
one kind differ: the same commit's cloud ramp cost 23.4 ms per call-second at 16 calls on
one 2-core VM and 50.5-51.7 on another. Two micro-figures of the server's own hot path,
taken in this process before any phase, say which machine a run was on: a trio scheduling
step (the server takes about seven per inbound frame) and one Twilio media message parsed.
Compare bench figures only between runs whose machine figures are close.
"""

from __future__ import annotations

import json
import statistics
import time

import trio

from receptionist.devtools.caller_messages import media_message
from receptionist.messages import FRAME_BYTES
from receptionist.telephony.media_streams import parse_message

STEPS = 20_000
PARSES = 20_000
RUNS = 5


def machine_speed() -> dict[str, float]:
    """µs per trio step and per media message parsed: the median of ``RUNS`` runs."""
    return {
        "trio_step_us": round(statistics.median(_trio_step_us() for _ in range(RUNS)), 2),
        "media_parse_us": round(statistics.median(_parse_us() for _ in range(RUNS)), 2),
    }


def describe(speed: dict[str, float]) -> str:
    return (
        f"machine: a trio step {speed['trio_step_us']} µs, a media message parsed "
        f"{speed['media_parse_us']} µs (compare runs on machines of close figures only)"
    )


def _trio_step_us() -> float:
    async def steps() -> float:
        began = time.process_time()
        for _ in range(STEPS):
            await trio.lowlevel.checkpoint()
        return (time.process_time() - began) / STEPS * 1e6

    return trio.run(steps)


def _parse_us() -> float:
    text = json.dumps(media_message("MZ" + "0" * 32, 2, 1, bytes(range(FRAME_BYTES))))
    began = time.process_time()
    for _ in range(PARSES):
        parse_message(text)
    return (time.process_time() - began) / PARSES * 1e6
