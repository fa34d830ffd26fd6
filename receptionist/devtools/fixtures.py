"""Caller fixtures: scripted phone calls spoken by espeak in a caller's voice.

Run ``python -m receptionist.devtools.fixtures [--out fixtures]``. Each script becomes
``<name>.wav`` (16-bit mono PCM at 8 kHz: phone bandwidth, and small) holding the caller's
utterances, and ``<name>.txt`` with the words of each utterance, one per line.

Layout of a WAV: 0.5 s of silence, then the utterances with 1.5 s of silence between
them, and none after the last (the replay tool sends silence of its own while it waits for
the agent, as a real line would). The replay tool plays an utterance, waits for the agent
to finish, then plays the next, so the silences are the only separators. Each utterance is
trimmed of espeak's own leading and trailing quiet, so the silences are exactly as stated.
"""

from __future__ import annotations

import argparse
import json
import wave
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from receptionist.engines.espeak import EspeakEngine
from receptionist.engines.resampler import Resampler
from receptionist.messages import SAMPLE_RATE

CALLER_VOICE = "en-us+f2"
"""A female variant, plainly not the agent's (male) "en-us". Of the en-us variants f1-f5
and m1-m4 and en-gb-x-rp, it came out best through our own recogniser (engines.sphinx,
domain model): 19% word errors over these scripts, against 33% for f3 and 40%+ for the
male voices."""
CALLER_WORDS_PER_MINUTE = 150
"""A little slower than the agent (165), as callers are; it also lowered word errors from
25% to 19%. The price is size: booking_call is ~270 KB, 150 KB of it the 9.5 s of set silence."""
LEADING_SILENCE_S = 0.5
GAP_SILENCE_S = 1.5
TRIM_THRESHOLD = 300
"""Peak amplitude (of 32767) below which espeak's lead-in and tail count as silence."""
DEFAULT_OUT_DIR = Path("tests/fixtures")

SCRIPTS: dict[str, list[str]] = {
    "booking_call": [
        "I'd like to book a check up please",
        "next Tuesday",
        # Not "ten a m": espeak's "ten" reads as "can" to pocketsphinx's acoustic model in
        # every voice tried, while "ten o'clock" and "ten thirty" come through its grammar.
        "ten o'clock",
        "John Smith",
        "yes",
        "yes please",
        "no thank you goodbye",
    ],
    "cancel_call": ["I need to cancel my appointment", "yes", "no thank you goodbye"],
    "hours_call": ["what are your opening hours", "no thank you goodbye"],
    # Asks for a person: a warm transfer (make replay shows its steps).
    "transfer_call": ["can I talk to someone"],
}
SPOKEN_AS = {"ten a m": "ten A M"}
"""Where espeak needs other spelling to say the words: it reads a lone "a" as the article."""


def render_utterance(engine: EspeakEngine, words: str) -> np.ndarray:
    """One utterance as 8 kHz int16 samples, without leading or trailing quiet."""
    resampler = Resampler(engine.native_rate, SAMPLE_RATE)
    pcm = engine.synthesize_pcm(SPOKEN_AS.get(words, words))
    samples = np.frombuffer(resampler.process(pcm) + resampler.flush(), dtype="<i2")
    loud = np.flatnonzero(np.abs(samples.astype(np.int32)) > TRIM_THRESHOLD)
    if len(loud) == 0:
        return samples[:0]
    return samples[loud[0] : loud[-1] + 1]


def render_call(
    engine: EspeakEngine, utterances: Sequence[str]
) -> tuple[np.ndarray, list[tuple[float, float]]]:
    """A whole call: leading silence, then the utterances with a gap between each two.

    Returns the samples and each utterance's (start, end) in seconds.
    """
    gap = np.zeros(round(GAP_SILENCE_S * SAMPLE_RATE), dtype="<i2")
    parts = [np.zeros(round(LEADING_SILENCE_S * SAMPLE_RATE), dtype="<i2")]
    spans: list[tuple[float, float]] = []
    position = len(parts[0])
    for index, words in enumerate(utterances):
        if index:
            parts.append(gap)
            position += len(gap)
        speech = render_utterance(engine, words)
        parts.append(speech)
        spans.append((position / SAMPLE_RATE, (position + len(speech)) / SAMPLE_RATE))
        position += len(speech)
    return np.concatenate(parts), spans


def script_json(utterances: Sequence[str], spans: Sequence[tuple[float, float]]) -> str:
    """What a live recogniser would hear, with word timings: the fake Deepgram's script.

    Word times share each utterance's span in proportion to the words' lengths: close
    enough for a fake's endpointing, which only needs where each utterance ends.
    """
    entries = []
    for text, (start, end) in zip(utterances, spans, strict=True):
        words, cursor = [], start
        total = sum(len(word) for word in text.split())
        for word in text.split():
            length = (end - start) * len(word) / total
            words.append(
                {"word": word, "start": round(cursor, 3), "end": round(cursor + length, 3)}
            )
            cursor += length
        entries.append(
            {"text": text, "start": round(start, 3), "end": round(end, 3), "words": words}
        )
    return "[\n" + ",\n".join(f"  {json.dumps(e)}" for e in entries) + "\n]\n"


def write_fixture(out_dir: Path, name: str, utterances: Sequence[str]) -> Path:
    """Write ``<name>.wav``, ``.txt`` and ``.json`` into ``out_dir``; returns the WAV's path."""
    engine = EspeakEngine(CALLER_VOICE, CALLER_WORDS_PER_MINUTE)
    out_dir.mkdir(parents=True, exist_ok=True)
    wav_path = out_dir / f"{name}.wav"
    with wave.open(str(wav_path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(SAMPLE_RATE)
        samples, spans = render_call(engine, utterances)
        wav.writeframes(samples.tobytes())
    (out_dir / f"{name}.txt").write_text("".join(f"{u}\n" for u in utterances), "utf-8")
    (out_dir / f"{name}.json").write_text(script_json(utterances, spans), "utf-8")
    return wav_path


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Generate the caller fixtures.")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT_DIR, help="output directory")
    args = parser.parse_args(argv)
    for name, utterances in SCRIPTS.items():
        path = write_fixture(args.out, name, utterances)
        with wave.open(str(path)) as wav:
            seconds = wav.getnframes() / wav.getframerate()
        print(f"{path}: {len(utterances)} utterances, {seconds:.1f} s, {path.stat().st_size} B")


if __name__ == "__main__":
    main()
