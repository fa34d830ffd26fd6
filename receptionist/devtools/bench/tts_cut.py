"""The next sentence's time to first byte after a barge-in cut an ElevenLabs body.

Run: ``.venv/bin/python -m receptionist.devtools.bench.tts_cut [--runs 20] [--handshake-ms 0]``.
Against the fake ElevenLabs on 127.0.0.1 (plain HTTP/1.1): each run speaks a sentence, cuts
the next after its first chunk, waits ``--gap-ms`` (the caller talking), then times the
first byte of the sentence after, with the engine's spare connections off and on. On
127.0.0.1 a new connection costs a TCP connect only; ``--handshake-ms`` holds each new
connection's first answer back by that much, standing in for TCP + TLS over a real network.
"""

from __future__ import annotations

import argparse
import logging
import statistics
import time
from contextlib import aclosing

import structlog
import trio

from receptionist.devtools.fakes.elevenlabs import FakeElevenLabs

KEY = "bench-key"


async def next_sentence_after_cuts(runs: int, gap_s: float, handshake_s: float, *,
                                   warm: bool) -> tuple[list[float], int]:  # fmt: skip
    """Seconds to the first byte of each sentence after a cut; connections opened."""
    from receptionist.engines.elevenlabs import ElevenLabsEngine

    fake = FakeElevenLabs(api_key=KEY, chunk_delay_s=0.02, new_connection_delay_s=handshake_s)
    firsts = []
    async with trio.open_nursery() as nursery:
        url = await nursery.start(fake.serve)
        async with ElevenLabsEngine(api_key=KEY, voice_id="v", model_id="m", base_url=url) as tts:
            if warm:
                await nursery.start(tts.keep_connections_warm)
            await _first_byte(tts, "Hello.")
            for _ in range(runs):
                with trio.CancelScope() as turn:
                    async with aclosing(tts.stream_ulaw("Your appointment is on Tuesday.")) as cut:
                        async for _chunk in cut:
                            turn.cancel()
                await trio.sleep(gap_s)
                firsts.append(await _first_byte(tts, "Of course."))
        nursery.cancel_scope.cancel()
    return firsts, fake.connections


async def _first_byte(tts: object, text: str) -> float:
    started = time.perf_counter()
    async with aclosing(tts.stream_ulaw(text)) as chunks:  # type: ignore[attr-defined]
        await anext(chunks)
        took = time.perf_counter() - started
        async for _rest in chunks:
            pass
    return took


async def bench(runs: int, gap_s: float, handshake_s: float) -> None:
    for warm in (False, True):
        firsts, connections = await next_sentence_after_cuts(runs, gap_s, handshake_s, warm=warm)
        ms = sorted(f * 1000 for f in firsts)
        label = "spare connection" if warm else "no spare       "
        print(f"{label}: next sentence's first byte after a cut: median"
              f" {statistics.median(ms):.2f} ms, p90 {ms[int(0.9 * (len(ms) - 1))]:.2f} ms"
              f" ({runs} cuts, {connections} connections)")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--gap-ms", type=int, default=300)
    parser.add_argument("--handshake-ms", type=int, default=0)
    args = parser.parse_args()
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    trio.run(bench, args.runs, args.gap_ms / 1000, args.handshake_ms / 1000)


if __name__ == "__main__":
    main()
