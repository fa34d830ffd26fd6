"""Voice activity detection on 8 kHz phone audio: a speech probability per 20 ms frame,
smoothed into SpeechStarted / SpeechStopped by an I/O-free state machine.

Two engines behind one interface (``VadModel.new_stream() -> FrameVad``):

- ``SileroModel`` (default, ``vad_silero``): Silero VAD's ONNX model run by onnxruntime,
  one session per process, each call's state in its own stream.
- ``WebrtcModel``: webrtcvad, about 25x cheaper but it takes noise bursts and coughs for
  speech, even smoothed (figures: ``python -m receptionist.devtools.bench.vad``); kept for
  very small machines.

``SpeechSegmenter`` turns per-frame probabilities into turn events; it knows no engine.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import partial
from time import perf_counter_ns
from typing import Any, Protocol, assert_never

import trio

from receptionist import frame_costs
from receptionist.config import VadConfig
from receptionist.engines.vad_quiet import QuietFloor
from receptionist.engines.vad_silero import SileroModel, WindowBatcher
from receptionist.messages import (
    FRAME_MS,
    SAMPLE_RATE,
    SpeechPaused,
    SpeechResumed,
    SpeechStarted,
    SpeechStopped,
)

WEBRTC_FRAME_BYTES = SAMPLE_RATE * FRAME_MS // 1000 * 2
"""One 20 ms frame of 16-bit PCM: a size webrtcvad accepts."""
HYSTERESIS = 0.15
"""Once in speech, a frame stays voiced down to threshold - 0.15 (floored at 0.01): Silero's
own recommended gap, so a soft syllable mid-sentence does not start the end countdown."""


class FrameVad(Protocol):
    """One call's detector: fed every 20 ms frame of 16-bit PCM, in order. Awaited: with a
    batcher, the inference runs with the other calls' (``vad_batch``)."""

    async def probability(self, pcm16: bytes) -> float: ...


class VadModel(Protocol):
    """Loaded once per process; hands each call a fresh stream."""

    def new_stream(self, batcher: WindowBatcher | None = None) -> FrameVad: ...


def load_vad(config: VadConfig) -> VadModel:
    """The configured engine, loaded once per process.

    Raises:
        ConfigError: silero's model cannot be found.
    """
    if config.engine == "silero":
        return SileroModel(quiet=QuietFloor(config.quiet_floor_dbfs, config.quiet_hang_ms))
    if config.engine == "webrtc":
        return WebrtcModel(config.webrtc_mode)
    assert_never(config.engine)


def new_segmenter(
    config: VadConfig, *, end_silence_ms: int | None = None, pause_ms: int | None = None
) -> SpeechSegmenter:
    """``end_silence_ms``: instead of ``config.end_silence_ms`` (Deepgram's shorter stop);
    ``pause_ms``: report pauses this long too (for preemptive generation)."""
    return SpeechSegmenter(
        threshold=config.threshold,
        min_speech_ms=config.min_speech_ms,
        end_silence_ms=config.end_silence_ms if end_silence_ms is None else end_silence_ms,
        pause_ms=pause_ms,
    )


def probabilities(stream: FrameVad, frames: Iterable[bytes]) -> list[float]:
    """Each frame's probability, outside trio (benchmarks, tests): one ``trio.run``."""

    async def each() -> list[float]:
        return [await stream.probability(frame) for frame in frames]

    return trio.run(each)


# --- webrtcvad ------------------------------------------------------------------------


class WebrtcModel:
    def __init__(self, mode: int) -> None:
        """``mode``: aggressiveness 0-3 (``vad.webrtc_mode``, checked by the config)."""
        import webrtcvad  # deferred: silero deployments never load it; here, not in a call

        self._new_vad = partial(webrtcvad.Vad, mode)

    def new_stream(self, batcher: WindowBatcher | None = None) -> WebrtcStream:
        """Runs inline whatever ``batcher``: a frame costs microseconds."""
        return WebrtcStream(self._new_vad())


class WebrtcStream:
    """webrtcvad keeps adaptive noise estimates, so each call needs its own instance.

    It accepts only whole 10/20/30 ms frames, so odd-sized input is buffered into 20 ms.
    """

    def __init__(self, vad: Any) -> None:
        """``vad``: a fresh ``webrtcvad.Vad`` (untyped)."""
        self._vad = vad
        self._costs = frame_costs.current()
        self._pending = b""
        self._last = 0.0

    async def probability(self, pcm16: bytes) -> float:
        began = perf_counter_ns()
        self._pending += pcm16
        while len(self._pending) >= WEBRTC_FRAME_BYTES:
            frame = self._pending[:WEBRTC_FRAME_BYTES]
            self._pending = self._pending[WEBRTC_FRAME_BYTES:]
            self._last = 1.0 if self._vad.is_speech(frame, SAMPLE_RATE) else 0.0
        self._costs.vad_ns += perf_counter_ns() - began
        self._costs.vad_frames += 1
        return self._last


# --- Turn-taking smoothing (I/O-free) -------------------------------------------------

SegmenterEvent = SpeechStarted | SpeechPaused | SpeechResumed | SpeechStopped


class SpeechSegmenter:
    """Per-frame speech probabilities -> SpeechStarted / SpeechStopped.

    Speech starts once voiced frames have run unbroken for ``min_speech_ms`` (a click or a
    cough is shorter), stamped with the first voiced frame's time. It stops once unvoiced
    frames have run for ``end_silence_ms``, stamped with the last voiced frame's time. With
    ``pause_ms`` (shorter), a silence that long first gives SpeechPaused, and speech before
    the stop gives SpeechResumed.
    Durations count frames, not clock differences, so a dropped frame cannot stretch them.
    """

    def __init__(
        self, *, threshold: float, min_speech_ms: int, end_silence_ms: int,
        pause_ms: int | None = None, frame_ms: int = FRAME_MS,
    ) -> None:  # fmt: skip
        self._threshold = threshold
        self._end_threshold = max(threshold - HYSTERESIS, 0.01)
        self._min_frames = max(1, -(-min_speech_ms // frame_ms))
        self._end_frames = max(1, -(-end_silence_ms // frame_ms))
        pause_frames = self._end_frames if pause_ms is None else max(1, -(-pause_ms // frame_ms))
        # A pause as long as the stop is no pause: the stop comes at the same frame.
        self._pause_frames = pause_frames if pause_frames < self._end_frames else None
        self._paused = False
        self._in_speech = False
        self._run = 0
        """Consecutive frames pointing the other way from the current state."""
        self._run_started_at = 0.0
        self._last_voiced_at = 0.0
        self._resume_run = 0
        """Voiced frames since the pause, toward SpeechResumed."""
        self._resume_started_at = 0.0
        self.voiced = False
        """Whether the last frame handled counted as voiced (with the hysteresis of the
        state it was heard in), whatever the state machine made of it."""

    @property
    def in_speech(self) -> bool:
        return self._in_speech

    @property
    def start_frames(self) -> int:
        """Voiced frames it takes to start: they precede the SpeechStarted frame's end."""
        return self._min_frames

    @property
    def end_frames(self) -> int:
        """Unvoiced frames it takes to stop: the last ones before SpeechStopped."""
        return self._end_frames

    def handle(self, probability: float | bool, at: float) -> SegmenterEvent | None:
        """Feed one frame's probability (or webrtc-style flag) and its arrival time."""
        if self._in_speech:
            self.voiced = float(probability) >= self._end_threshold
            return self._while_speaking(self.voiced, at)
        self.voiced = float(probability) >= self._threshold
        return self._while_silent(self.voiced, at)

    def _while_silent(self, voiced: bool, at: float) -> SpeechStarted | None:
        if not voiced:
            self._run = 0
            return None
        if self._run == 0:
            self._run_started_at = at
        self._run += 1
        self._last_voiced_at = at
        if self._run < self._min_frames:
            return None
        self._in_speech, self._run = True, 0
        return SpeechStarted(at=self._run_started_at)

    def _while_speaking(
        self, voiced: bool, at: float
    ) -> SpeechStopped | SpeechPaused | SpeechResumed | None:
        if voiced:
            return self._voiced_while_speaking(at)
        if self._paused:
            self._resume_run = 0  # a click in the pause: the caller has not resumed
        self._run += 1
        if self._run == self._pause_frames:
            self._paused = True
            return SpeechPaused(at=self._last_voiced_at)
        if self._run < self._end_frames:
            return None
        self._in_speech, self._run, self._paused = False, 0, False
        return SpeechStopped(at=self._last_voiced_at)

    def _voiced_while_speaking(self, at: float) -> SpeechResumed | None:
        """After a pause, speech resumes as it starts: ``min_speech_ms`` of voiced frames,
        stamped with the first (a barge-in mid-utterance needs as much speech as any)."""
        if not self._paused:
            self._run, self._last_voiced_at = 0, at
            return None
        if self._resume_run == 0:
            self._resume_started_at = at
        self._resume_run += 1
        if self._resume_run < self._min_frames:
            return None
        self._paused, self._run, self._resume_run = False, 0, 0
        self._last_voiced_at = at
        return SpeechResumed(at=self._resume_started_at)
