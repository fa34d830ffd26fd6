"""Cutting the caller's audio into utterances for the recogniser. I/O-free.

``UtteranceAssembler.handle`` takes every 20 ms frame with the turn event the segmenter made
of it, and on SpeechStopped returns the utterance's audio: a pre-roll from before speech was
detected (so the first consonant is not cut off), the speech, and a short post-roll of the
silence that ended it.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from receptionist.engines.vad import SegmenterEvent, SpeechSegmenter
from receptionist.messages import FRAME_MS, Expectation, SpeechStarted, SpeechStopped

POSTROLL_MS = 300
"""Silence kept after the last voiced frame. The recogniser needs some to close the last
word (WER measured 6 points better with 300 ms either side than with none); the rest of the
end-of-speech silence would only cost decoding time."""


@dataclass(frozen=True, slots=True)
class Utterance:
    pcm16: bytes
    """8 kHz 16-bit PCM: pre-roll, speech, post-roll."""
    started_at: float
    """First voiced frame (SpeechStarted.at)."""
    speech_ended_at: float
    """Last voiced frame (SpeechStopped.at)."""
    expectation: Expectation = Expectation.OPEN
    truncated: bool = False
    """The caller spoke longer than the cap: only the first ``max_utterance_s`` is here."""


class UtteranceAssembler:
    """Frames and their turn events in; whole utterances out.

    ``segmenter`` is the one whose events ``handle`` gets: it says how many frames its
    events lag. Memory is bounded: at most ``preroll + min_speech`` frames while silent, at
    most ``max_utterance_s`` of audio while speaking.
    """

    def __init__(self, segmenter: SpeechSegmenter, *, preroll_ms: int, max_utterance_s: float):
        # The voiced run that started speech is in the ring too: it precedes SpeechStarted.
        self._ring: deque[bytes] = deque(maxlen=_frames(preroll_ms) + segmenter.start_frames)
        self._max_frames = max(1, round(max_utterance_s * 1000 / FRAME_MS))
        self._drop_at_end = max(0, segmenter.end_frames - _frames(POSTROLL_MS))
        self._frames: list[bytes] | None = None
        """The utterance so far; None while the caller is silent."""
        self._started_at = 0.0
        self._truncated = False

    @property
    def in_speech(self) -> bool:
        return self._frames is not None

    def handle(self, pcm16: bytes, event: SegmenterEvent | None) -> Utterance | None:
        """One frame and the event the segmenter made of it: the utterance it completed."""
        if self._frames is None:
            self._ring.append(pcm16)
            if isinstance(event, SpeechStarted):
                self._frames, self._started_at, self._truncated = list(self._ring), event.at, False
                self._ring.clear()
            return None
        if len(self._frames) < self._max_frames:
            self._frames.append(pcm16)
        else:
            self._truncated = True
        if isinstance(event, SpeechStopped):
            return self._finish(event)
        return None

    def _finish(self, stopped: SpeechStopped) -> Utterance:
        frames, self._frames = self._frames or [], None
        if not self._truncated:  # a truncated one never got its trailing silence
            frames = frames[: len(frames) - self._drop_at_end]
        return Utterance(b"".join(frames), self._started_at, stopped.at, truncated=self._truncated)


def _frames(ms: int) -> int:
    return max(0, -(-ms // FRAME_MS))
