"""Synthetic caller speech as a phone line delivers it, for recogniser and VAD tests.

The caller's espeak voice rendered like the committed fixtures (``receptionist.devtools.fixtures``),
then through mu-law and back, as Twilio's 8 kHz audio arrives.
"""

from __future__ import annotations

import ctypes
import functools
import json
import pickle
import re
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import espeakng_loader
import numpy as np

from receptionist.devtools.fixtures import CALLER_VOICE, CALLER_WORDS_PER_MINUTE, render_utterance
from receptionist.engines.audio import pcm16_to_ulaw, ulaw_to_pcm16
from receptionist.engines.espeak import EspeakEngine
from receptionist.messages import SAMPLE_RATE

LINE_NOISE_RMS = 10
"""A quiet line's hiss (about -70 dBFS): digital zeros never reach us from a real call."""


PROJECT_ROOT = Path(__file__).resolve().parents[2]
ESPEAK_SEED = 1
"""espeak-ng varies its voice at random, from generators it seeds from the clock when it
starts: re-seeded once started, a process says the same things the same way every run."""


@functools.cache
def caller_says(text: str, voice: str = CALLER_VOICE) -> bytes:
    """8 kHz 16-bit PCM of ``text``, trimmed of silence, after a mu-law round trip.

    espeak's output for a text also varies with what it said before (its random state
    moves on). Cached, so within a process a text always sounds the same; but which take
    that is depends on which tests ran first. For audio that must not, see ``first_takes``.
    """
    return _synthesize(text, voice)


def first_takes(texts: Sequence[str], voice: str = CALLER_VOICE) -> dict[str, bytes]:
    """``texts`` spoken in this order by a freshly started, seeded espeak: the same audio
    every run, whatever else the test session synthesised. Costs one Python start-up."""
    request = json.dumps({"texts": list(texts), "voice": voice})
    done = subprocess.run(
        [sys.executable, "-m", "receptionist.devtools.phone_speech"],
        input=request.encode(), capture_output=True, cwd=PROJECT_ROOT, check=True,
    )  # fmt: skip
    takes: dict[str, bytes] = pickle.loads(done.stdout)
    return takes


def _synthesize(text: str, voice: str = CALLER_VOICE) -> bytes:
    _seed_espeak()
    engine = EspeakEngine(voice, CALLER_WORDS_PER_MINUTE)
    # espeak reads a lone "a" as the article: "ten a m" must be spelled "ten A M".
    spoken = re.sub(r"\b([ap]) m\b", lambda m: f"{m[1].upper()} M", text)
    return phone_line(render_utterance(engine, spoken).tobytes())


@functools.cache
def _seed_espeak() -> None:
    EspeakEngine(CALLER_VOICE, CALLER_WORDS_PER_MINUTE).native_rate  # noqa: B018 - starts espeak
    ctypes.CDLL(None).srand(ESPEAK_SEED)  # the C library's rand(), which espeak also uses
    ctypes.CDLL(espeakng_loader.get_library_path()).espeak_ng_SetRandSeed(ESPEAK_SEED)


def fresh_take(text: str, voice: str = CALLER_VOICE) -> bytes:
    """``text`` spoken again, uncached: slightly different audio each time (see above)."""
    return _synthesize(text, voice)


def phone_line(pcm16: bytes) -> bytes:
    return ulaw_to_pcm16(pcm16_to_ulaw(pcm16))


def line_noise(seconds: float, seed: int = 0) -> bytes:
    rng = np.random.default_rng(seed)
    noise = rng.normal(0, LINE_NOISE_RMS, round(seconds * SAMPLE_RATE))
    return phone_line(noise.astype(np.int16).tobytes())


def padded(pcm16: bytes, seconds: float = 0.3) -> bytes:
    """Speech with line noise either side, as the Listener's pre- and post-roll give it."""
    return line_noise(seconds, 1) + pcm16 + line_noise(seconds, 2)


if __name__ == "__main__":  # first_takes' worker: JSON request on stdin, pickle on stdout
    _request = json.load(sys.stdin)
    _takes = {text: _synthesize(text, _request["voice"]) for text in _request["texts"]}
    sys.stdout.buffer.write(pickle.dumps(_takes))
