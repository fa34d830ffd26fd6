"""Word error rate and speed of the offline recogniser on synthetic 8 kHz phone speech.

Run: ``.venv/bin/python -m receptionist.devtools.bench.stt [--voice en-us]``. Each
utterance of the sets in ``stt_sets/`` beside this file is spoken by espeak like the
caller fixtures (their voice by default), passed through mu-law, padded with 300 ms of line
noise (the Listener's pre- and post-roll), and decoded by:

- pocketsphinx's generic en-us language model and full dictionary (the baseline),
- the same, with the front end configured for 8 kHz instead of upsampling,
- our domain language model (``Expectation.OPEN``), also with the audio upsampled by
  linear interpolation instead of ``sphinx.upsample``'s mirror,
- the yes/no and digits grammars alone, and as ``recognize`` uses them (with the open
  model as a fallback for off-script answers).
"""

from __future__ import annotations

import argparse
import os
import re
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pocketsphinx

ROOT = Path(__file__).resolve().parents[3]

from receptionist.config import load_config  # noqa: E402
from receptionist.devtools.fixtures import CALLER_VOICE  # noqa: E402
from receptionist.devtools.phone_speech import fresh_take, padded  # noqa: E402
from receptionist.engines.sphinx import SphinxModel, upsample  # noqa: E402
from receptionist.messages import Expectation  # noqa: E402

SETS = Path(__file__).resolve().parent / "stt_sets"
Decode = Callable[[bytes], str]


def word_errors(reference: str, hypothesis: str) -> int:
    ref, hyp = reference.split(), hypothesis.split()
    row = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        diagonal, row[0] = row[0], i
        for j, h in enumerate(hyp, 1):
            diagonal, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, diagonal + (r != h))
    return row[-1]


def word_error_rate(decode: Decode, utterances: list[tuple[str, bytes]]) -> tuple[float, float]:
    """(WER, seconds of decoding per second of audio)."""
    errors = words = 0
    started = time.perf_counter()
    for text, audio in utterances:
        errors += word_errors(text, decode(audio))
        words += len(text.split())
    seconds = sum(len(audio) for _, audio in utterances) / 16000
    return errors / words, (time.perf_counter() - started) / seconds


def evaluate(name: str, decode: Decode, takes: list[list[tuple[str, bytes]]]) -> None:
    results = [word_error_rate(decode, utterances) for utterances in takes]
    wers = [wer for wer, _ in results]
    rtf = sum(rtf for _, rtf in results) / len(results)
    spread = f"{min(wers):6.1%} - {max(wers):6.1%}" if len(wers) > 1 else ""
    print(f"  {name:30s} WER {sum(wers) / len(wers):6.1%}  {spread}  RTF {rtf:.3f}")


def load_set(name: str, voice: str) -> list[tuple[str, bytes]]:
    """One take: espeak sounds a little different each time (see devtools.phone_speech)."""
    lines = (SETS / f"{name}.txt").read_text().splitlines()
    return [(line, padded(fresh_take(line, voice))) for line in lines if line.strip()]


def raw_decoder(decoder: pocketsphinx.Decoder, rate: int = 16000) -> Decode:
    def decode(audio: bytes) -> str:
        decoder.start_utt()
        decoder.process_raw(upsample(audio) if rate == 16000 else audio, full_utt=True)
        decoder.end_utt()
        hyp = decoder.hyp()
        words = (w.split("(")[0] for w in (hyp.hypstr if hyp else "").split())
        return " ".join(w for w in words if not w.startswith(("<", "[")))

    return decode


def interpolate(pcm16: bytes) -> bytes:
    """8 -> 16 kHz by linear interpolation: the alternative ``sphinx.upsample`` beat."""
    x = np.frombuffer(pcm16, dtype=np.int16).astype(np.float32)
    positions = np.arange(2 * len(x), dtype=np.float32) / 2
    return np.interp(positions, np.arange(len(x)), x).astype(np.int16).tobytes()


def hmm_for_8k() -> str:
    """The en-us model with its feature parameters cut to a 3.5 kHz band (8 kHz audio)."""
    source, target = Path(pocketsphinx.get_model_path("en-us/en-us")), tempfile.mkdtemp()
    for item in source.iterdir():
        if item.name != "feat.params":
            os.symlink(item, Path(target) / item.name)
    params = re.sub(r"-upperf \S+", "-upperf 3500", (source / "feat.params").read_text())
    (Path(target) / "feat.params").write_text(params)
    return target


def rss_mb() -> float:
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def measure_set_up() -> None:
    """The per-process model build, and what one call's decoder costs."""
    started, before = time.perf_counter(), rss_mb()
    model = SphinxModel(load_config(ROOT / "config.toml").services)
    print(f"model build {time.perf_counter() - started:.2f} s, +{rss_mb() - before:.1f} MB")
    decoders = []
    for _ in range(5):
        started, before = time.perf_counter(), rss_mb()
        decoders.append(model.new_recognizer())
        print(f"  one decoder: {(time.perf_counter() - started) * 1000:.0f} ms, "
              f"+{rss_mb() - before:.1f} MB")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--voice", default=CALLER_VOICE, help="espeak voice of the caller")
    parser.add_argument("--takes", type=int, default=3, help="times each set is spoken")
    args = parser.parse_args()
    voice = args.voice
    measure_set_up()
    model = SphinxModel(load_config(ROOT / "config.toml").services)
    ours = model.new_recognizer()
    generic = pocketsphinx.Decoder(loglevel="FATAL")
    names = ("booking", "yes_no", "off_script", "digits")
    sets = {name: [load_set(name, voice) for _ in range(args.takes)] for name in names}
    eight_k = pocketsphinx.Decoder(hmm=hmm_for_8k(), samprate=8000, nfft=256, loglevel="FATAL")

    def grammar(search: str) -> Decode:
        def decode(audio: bytes) -> str:
            return ours._decode(upsample(audio), search).text

        return decode

    def expecting(expectation: Expectation) -> Decode:
        return lambda audio: ours.recognize(audio, expectation).text

    def interpolated(audio: bytes) -> str:
        return ours._decode(interpolate(audio), None).text

    print(f"voice {voice}, {args.takes} takes: mean WER, range, real-time factor")
    for set_name, utterances in sets.items():
        print(f"{set_name} ({len(utterances[0])} utterances)")
        evaluate("generic LM", raw_decoder(generic), utterances)
        if set_name == "booking":
            evaluate("generic LM, 8 kHz front end", raw_decoder(eight_k, 8000), utterances)
        evaluate("domain LM (OPEN)", expecting(Expectation.OPEN), utterances)
        if set_name == "booking":
            evaluate("domain LM, interpolated", interpolated, utterances)
        if set_name in ("yes_no", "off_script"):
            evaluate("yes/no grammar alone", grammar("yes_no"), utterances)
            evaluate("YES_NO (grammar + fallback)", expecting(Expectation.YES_NO), utterances)
        if set_name in ("digits", "off_script"):
            evaluate("digits grammar alone", grammar("digits"), utterances)
            evaluate("DIGITS (grammar + fallback)", expecting(Expectation.DIGITS), utterances)


if __name__ == "__main__":
    main()
