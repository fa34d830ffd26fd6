"""VAD engines on 8 kHz phone audio: CPU per 20 ms frame, and what they take for speech.

Run: ``.venv/bin/python -m receptionist.devtools.bench.vad``. Every signal goes through
mu-law, as Twilio's audio does. For each engine, per signal: the share of frames it calls
speech, and how many times the smoothed turn detector (config.toml's [vad] settings)
would start an utterance.
Non-speech signals should start none; the speech track (six caller utterances with 1.5 s
gaps) should start exactly six, also under pink noise.

``--calls 8,16,32 [--collect-ms N] [--seconds S]``: instead, that many calls' Silero streams
through one batcher on trio's real clock, each fed a frame every 20 ms at its own phase: the
mean batch, the process's CPU per window and per call-second (frame pacing included), and
how long a frame's probability takes (p50/p99).
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import trio

ROOT = Path(__file__).resolve().parents[3]

from receptionist.config import VadConfig, load_config  # noqa: E402
from receptionist.devtools.phone_speech import caller_says, phone_line  # noqa: E402
from receptionist.engines.vad import (  # noqa: E402
    VadModel,
    WebrtcModel,
    new_segmenter,
)
from receptionist.engines.vad import probabilities as probabilities_of  # noqa: E402
from receptionist.engines.vad_batch import SileroBatcher  # noqa: E402
from receptionist.engines.vad_quiet import QuietFloor  # noqa: E402
from receptionist.engines.vad_silero import SileroModel  # noqa: E402
from receptionist.messages import FRAME_MS, SAMPLE_RATE, SpeechStarted, SpeechStopped  # noqa: E402

FRAME_SAMPLES = SAMPLE_RATE * FRAME_MS // 1000
PHRASES = (
    "I'd like to book an appointment", "yes please", "next tuesday at ten a m",
    "my name is John Smith", "no thank you goodbye", "can I speak to a person",
)  # fmt: skip
RNG = np.random.default_rng(1)


def at_level(x: np.ndarray, dbfs: float) -> np.ndarray:
    rms = float(np.sqrt(np.mean(x**2))) or 1.0
    return x / rms * 32768 * 10 ** (dbfs / 20)


def white(seconds: float) -> np.ndarray:
    return RNG.standard_normal(round(seconds * SAMPLE_RATE))


def pink(seconds: float) -> np.ndarray:
    n = round(seconds * SAMPLE_RATE)
    spectrum = np.fft.rfft(RNG.standard_normal(n))
    spectrum /= np.sqrt(np.maximum(np.arange(len(spectrum)), 1))
    return np.fft.irfft(spectrum, n)


def cough(seconds: float = 0.3) -> np.ndarray:
    """A cough-like burst: dark noise with a 10 ms attack and a 60 ms decay."""
    n = round(seconds * SAMPLE_RATE)
    envelope = np.exp(-np.arange(n) / (0.06 * SAMPLE_RATE))
    envelope[:80] *= np.linspace(0, 1, 80)
    return at_level(np.convolve(white(seconds), np.ones(4) / 4, "same") * envelope, -14)


def quiet(seconds: float) -> np.ndarray:
    return at_level(white(seconds), -65)


def framed(x: np.ndarray) -> np.ndarray:
    return np.concatenate([quiet(1.0), x, quiet(1.5)])


def speech_track(noise_dbfs: float | None) -> tuple[np.ndarray, int]:
    parts = [quiet(0.5)]
    for phrase in PHRASES:
        parts += [np.frombuffer(caller_says(phrase), np.int16).astype(np.float64), quiet(1.5)]
    track = np.concatenate(parts)
    if noise_dbfs is not None:
        track = track + at_level(pink(len(track) / SAMPLE_RATE), noise_dbfs)
    return track, len(PHRASES)


def signals() -> list[tuple[str, np.ndarray, int]]:
    """(name, samples, utterances it holds)."""
    return [
        ("line noise, 10 s", quiet(10.0), 0),
        ("white noise burst 1 s, -20 dBFS", framed(at_level(white(1.0), -20)), 0),
        ("white noise burst 0.3 s, -20 dBFS", framed(at_level(white(0.3), -20)), 0),
        ("pink noise burst 1 s, -20 dBFS", framed(at_level(pink(1.0), -20)), 0),
        ("steady pink noise 5 s, -30 dBFS", framed(at_level(pink(5.0), -30)), 0),
        ("click, 5 ms", framed(at_level(white(0.005), -6)), 0),
        ("cough-like burst 0.3 s", framed(cough()), 0),
        ("speech (about -21 dBFS)", *speech_track(None)),
        ("speech + pink noise -35 dBFS", *speech_track(-35)),
        ("speech + pink noise -25 dBFS", *speech_track(-25)),
        ("speech + pink noise -20 dBFS", *speech_track(-20)),
    ]


@dataclass(frozen=True)
class Heard:
    voiced: list[bool]
    """Per frame: at or above the threshold."""
    starts: list[int]
    """The frames that started an utterance."""
    stops: list[int]
    """The frames that ended one."""
    cpu_us: float
    """Per frame."""


def run(model: VadModel, samples: np.ndarray, config: VadConfig) -> Heard:
    pcm = phone_line(np.clip(samples, -32768, 32767).astype(np.int16).tobytes())
    frames = [pcm[i : i + 2 * FRAME_SAMPLES] for i in range(0, len(pcm), 2 * FRAME_SAMPLES)]
    stream, segmenter = model.new_stream(), new_segmenter(config)
    started = time.process_time()
    probabilities = probabilities_of(stream, frames)
    cpu_us = (time.process_time() - started) / len(frames) * 1e6
    events = [(i, segmenter.handle(p, i * FRAME_MS / 1000)) for i, p in enumerate(probabilities)]
    starts = [i for i, event in events if isinstance(event, SpeechStarted)]
    stops = [i for i, event in events if isinstance(event, SpeechStopped)]
    return Heard([p >= config.threshold for p in probabilities], starts, stops, cpu_us)


def against(heard: Heard, reference: Heard) -> str:
    """How ``heard`` differs from what plain Silero heard on the same signal."""
    differ = sum(a != b for a, b in zip(heard.voiced, reference.voiced, strict=True))
    moved = ""
    for kind, ours, theirs in (("starts", heard.starts, reference.starts),
                               ("stops", heard.stops, reference.stops)):  # fmt: skip
        if len(ours) != len(theirs):
            return f"  {differ} frames differ, {kind} differ in number"
        shifts = [a - b for a, b in zip(ours, theirs, strict=True)]
        if any(shifts):
            moved += f", {kind} moved {min(shifts):+d}..{max(shifts):+d} frames"
    return f"  {differ} frames differ{moved}" if differ or moved else "  same as silero"


def batched(model: SileroModel, calls: int, seconds: float, collect_ms: int) -> str:
    """One load level of ``--calls``."""
    frame = phone_line(at_level(white(FRAME_MS / 1000), -30).astype(np.int16).tobytes())
    waits: list[float] = []

    async def call(batcher: SileroBatcher, phase: float, until: float) -> None:
        stream = model.new_stream(batcher)
        await trio.sleep(phase)
        due = trio.current_time()
        while due < until:
            began = trio.current_time()
            await stream.probability(frame)
            waits.append(trio.current_time() - began)
            due += FRAME_MS / 1000
            await trio.sleep_until(due)

    async def level() -> tuple[float, SileroBatcher]:
        batcher = SileroBatcher(model, collect_s=collect_ms / 1000)
        async with trio.open_nursery() as nursery:
            await nursery.start(batcher.run)
            until, started = trio.current_time() + seconds, time.process_time()
            async with trio.open_nursery() as callers:
                for _ in range(calls):
                    phase = float(RNG.uniform(0, FRAME_MS / 1000))
                    callers.start_soon(call, batcher, phase, until)
            cpu = time.process_time() - started
            nursery.cancel_scope.cancel()
        return cpu, batcher

    cpu, batcher = trio.run(level)
    p50, p99 = np.percentile(np.array(waits) * 1000, [50, 99])
    mean_batch = batcher.windows / batcher.batches
    return (
        f"{calls:3d} calls, collect {collect_ms} ms: mean batch {mean_batch:5.2f}"
        f"  CPU {cpu / batcher.windows * 1e6:4.0f} us/window, {cpu / (calls * seconds) * 1000:5.1f}"
        f" ms per call-s  frame's probability p50 {p50:.1f} ms, p99 {p99:.1f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", help="load levels for the batcher, e.g. 8,16,32")
    parser.add_argument("--collect-ms", type=int, default=0)
    parser.add_argument("--seconds", type=float, default=8.0)
    args = parser.parse_args()
    if args.calls:
        silero = SileroModel()
        for calls in map(int, args.calls.split(",")):
            print(batched(silero, calls, args.seconds, args.collect_ms), flush=True)
        return
    config = load_config(ROOT / "config.toml").vad
    quiet = QuietFloor(config.quiet_floor_dbfs, config.quiet_hang_ms)
    engines: dict[str, tuple[VadModel, VadConfig]] = {
        "silero": (SileroModel(), config),
        f"silero, quiet line skipped (under {quiet.dbfs} dBFS for {quiet.hang_ms} ms)": (
            SileroModel(quiet=quiet),
            config,
        ),
        "webrtc mode 3": (WebrtcModel(3), config),
        "webrtc mode 3, min_speech_ms 300": (WebrtcModel(3), replace(config, min_speech_ms=300)),
    }
    cases = signals()
    plain: dict[str, Heard] = {}
    for name, (model, engine_config) in engines.items():
        print(f"== {name}")
        cpu = []
        for signal, samples, utterances in cases:
            heard = run(model, samples, engine_config)
            plain.setdefault(signal, heard)
            cpu.append(heard.cpu_us)
            verdict = "ok" if len(heard.starts) == utterances else "WRONG"
            counts = f"starts {len(heard.starts)}/{utterances} {verdict}"
            versus = against(heard, plain[signal]) if name.startswith("silero,") else ""
            print(f"  {signal:36s} frames voiced {np.mean(heard.voiced):6.1%}  {counts}{versus}")
        print(f"  CPU per 20 ms frame: {np.median(cpu):.1f} us (median over signals)")


if __name__ == "__main__":
    main()
