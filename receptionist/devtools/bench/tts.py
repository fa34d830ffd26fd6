"""How fast the offline TTS speaks: time to first chunk and real-time factor.

Run: ``.venv/bin/python -m receptionist.devtools.bench.tts [--runs 50]``.
Measures ``stream_ulaw`` the way the Synthesizer uses it (espeak on a worker thread,
resampled to 8 kHz mu-law, handed to trio), on a typical 12-word sentence, plus the
blocking ``synthesize_pcm`` for comparison.
"""

from __future__ import annotations

import argparse
import statistics
import time
from contextlib import aclosing

import trio

from receptionist.engines.espeak import EspeakEngine

SENTENCE = "Your check up is booked for next Tuesday at ten in the morning."
"""12 words: a typical confirmation sentence."""


async def stream_once(engine: EspeakEngine) -> tuple[float, float, float]:
    """Seconds to first chunk, seconds in all, seconds of audio."""
    started = time.perf_counter()
    first, audio_bytes = None, 0
    async with aclosing(engine.stream_ulaw(SENTENCE)) as chunks:
        async for chunk in chunks:
            first = first if first is not None else time.perf_counter() - started
            audio_bytes += len(chunk)
    assert first is not None
    return first, time.perf_counter() - started, audio_bytes / 8000


async def bench(runs: int) -> None:
    engine = EspeakEngine("en-us", 165)
    cold_first, cold_total, _ = await stream_once(engine)
    print(f"cold (loads espeak): first chunk {cold_first * 1e3:.2f} ms, {cold_total * 1e3:.1f} ms")
    results = [await stream_once(engine) for _ in range(runs)]
    first = statistics.median(r[0] for r in results)
    total = statistics.median(r[1] for r in results)
    audio = statistics.median(r[2] for r in results)
    print(
        f"stream_ulaw, median of {runs}: first chunk {first * 1e3:.2f} ms, "
        f"total {total * 1e3:.1f} ms for {audio:.2f} s of audio: RTF {total / audio:.4f}"
    )
    started = time.perf_counter()
    pcm = engine.synthesize_pcm(SENTENCE)
    elapsed = time.perf_counter() - started
    seconds = len(pcm) / 2 / engine.native_rate
    print(f"synthesize_pcm (22050 Hz, no resampling): RTF {elapsed / seconds:.4f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=50)
    trio.run(bench, parser.parse_args().runs)


if __name__ == "__main__":
    main()
