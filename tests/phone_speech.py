"""Synthetic caller speech as a phone line delivers it, for recogniser and VAD tests.

The caller's espeak voice rendered like the committed fixtures (``receptionist.fixtures``),
then through mu-law and back, as Twilio's 8 kHz audio arrives.
"""

from __future__ import annotations

import functools
import re

import numpy as np

from receptionist.audio import pcm16_to_ulaw, ulaw_to_pcm16
from receptionist.engines.espeak import EspeakEngine
from receptionist.fixtures import CALLER_VOICE, CALLER_WORDS_PER_MINUTE, render_utterance
from receptionist.messages import SAMPLE_RATE

LINE_NOISE_RMS = 10
"""A quiet line's hiss (about -70 dBFS): digital zeros never reach us from a real call."""


@functools.cache
def caller_says(text: str, voice: str = CALLER_VOICE) -> bytes:
    """8 kHz 16-bit PCM of ``text``, trimmed of silence, after a mu-law round trip.

    Cached: espeak's output for a text varies a little with what it said before (its
    voice source carries on from one utterance to the next; seeding its random generators
    does not fix it), so within a process a text always sounds the same.
    """
    return _synthesize(text, voice)


def _synthesize(text: str, voice: str = CALLER_VOICE) -> bytes:
    engine = EspeakEngine(voice, CALLER_WORDS_PER_MINUTE)
    # espeak reads a lone "a" as the article: "ten a m" must be spelled "ten A M".
    spoken = re.sub(r"\b([ap]) m\b", lambda m: f"{m[1].upper()} M", text)
    return phone_line(render_utterance(engine, spoken).tobytes())


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
