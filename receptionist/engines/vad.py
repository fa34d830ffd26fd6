"""Voice activity detection on 8 kHz phone audio: a speech probability per 20 ms frame,
smoothed into SpeechStarted / SpeechStopped by an I/O-free state machine.

Two engines behind one interface (``VadModel.new_stream() -> FrameVad``):

- ``SileroModel`` (default): Silero VAD's ONNX model run by onnxruntime. One
  ``InferenceSession`` per process (it is thread-safe for ``run``); each call gets its own
  ``SileroStream`` holding that call's recurrent state and audio context.
- ``WebrtcModel``: webrtcvad, about 25x cheaper but it takes noise bursts and coughs for
  speech, even smoothed (figures: ``python -m receptionist.devtools.bench.vad``); kept for
  very small machines.

``SpeechSegmenter`` turns per-frame probabilities into turn events; it knows no engine.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterable
from functools import partial
from pathlib import Path
from time import perf_counter_ns
from typing import Any, Protocol, assert_never

import numpy as np
import trio

from receptionist import frame_costs
from receptionist.config import VadConfig
from receptionist.errors import ConfigError, EngineError
from receptionist.messages import (
    FRAME_MS,
    SAMPLE_RATE,
    SpeechPaused,
    SpeechResumed,
    SpeechStarted,
    SpeechStopped,
)

SILERO_WINDOW = 256
"""Samples per Silero inference at 8 kHz (32 ms): the only window size the model accepts."""
SILERO_CONTEXT = 32
"""Samples of the previous window the model expects prepended at 8 kHz (as silero_vad does)."""
SILERO_STATE_SHAPE = (2, 1, 128)
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
        return SileroModel()
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


# --- Silero ---------------------------------------------------------------------------


def silero_model_path() -> Path:
    """Where the silero-vad wheel put its ONNX model.

    ``find_spec`` of a top-level package locates it without executing its ``__init__``
    (which imports torch, which we do not install). ``importlib.resources.files`` would
    import the package, so it is not used here.
    """
    spec = importlib.util.find_spec("silero_vad")
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError("vad.engine = 'silero' needs: pip install --no-deps silero-vad")
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / "silero_vad.onnx"
    if not path.is_file():
        raise ConfigError(f"silero-vad is installed but {path} is missing")
    return path


class SileroModel:
    """The shared ONNX session. ``run`` is thread-safe; per-call state lives in streams."""

    def __init__(self, path: Path | None = None) -> None:
        import onnxruntime as ort  # deferred: webrtc-only deployments never load it

        options = ort.SessionOptions()
        # One thread each, and no spinning: a window (or a batch of them) is tiny, a thread
        # hand-off costs more than it saves, and an idle spinning thread burns the core the
        # event loop needs.
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.add_session_config_entry("session.inter_op.allow_spinning", "0")
        self._session = ort.InferenceSession(
            str(path or silero_model_path()), options, providers=["CPUExecutionProvider"]
        )
        self._sr = np.array(SAMPLE_RATE, dtype=np.int64)

    def new_stream(self, batcher: WindowBatcher | None = None) -> SileroStream:
        """``batcher``: run this stream's windows in batches with other calls' (else inline)."""
        return SileroStream(self, batcher)

    def infer(self, windows: np.ndarray, states: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """A batch of windows, one per row (context + 256 samples, float32 in [-1, 1]), and
        their streams' states (2, rows, 128) -> (a probability per row, the new states).
        One run for many calls costs about a third per window of one run per call."""
        try:
            out, new_states = self._session.run(
                None, {"input": windows, "state": states, "sr": self._sr}
            )
        except Exception as exc:  # onnxruntime raises its own untyped errors
            raise EngineError(f"silero VAD inference failed: {exc}") from exc
        return out[:, 0], new_states


class WindowBatcher(Protocol):
    """Runs a stream's window with other streams' (``vad_batch.SileroBatcher``)."""

    async def infer(self, stream: SileroStream, window: np.ndarray) -> None:
        """Sets ``stream.last`` and ``stream.state`` from the window's inference."""
        ...


class SileroStream:
    """One call's Silero state: 20 ms frames in, a probability per frame out.

    Frames are 160 samples and the model takes 256, so samples are buffered; each frame
    reports the probability of the latest complete window (0.625 inferences per frame).
    """

    def __init__(self, model: SileroModel, batcher: WindowBatcher | None = None) -> None:
        self._model = model
        self._batcher = batcher
        self.state = np.zeros(SILERO_STATE_SHAPE, dtype=np.float32)
        """The model's recurrent state for this call, (2, 1, 128)."""
        self.last = 0.0
        """The probability of the latest complete window."""
        self._context = np.zeros(SILERO_CONTEXT, dtype=np.float32)
        self._pending = np.zeros(0, dtype=np.float32)
        self.costs = frame_costs.current()
        """The call's counters: the batcher adds each window's share of its batch."""

    async def probability(self, pcm16: bytes) -> float:
        began = perf_counter_ns()
        windows = self._windows(pcm16)
        self.costs.vad_frames += 1
        if self._batcher is None:
            for window in windows:
                out, self.state = self._model.infer(window[np.newaxis, :], self.state)
                self.last = float(out[0])
        self.costs.vad_ns += perf_counter_ns() - began
        if self._batcher is not None:
            for window in windows:
                await self._batcher.infer(self, window)
        return self.last

    def _windows(self, pcm16: bytes) -> list[np.ndarray]:
        """The windows (context + 256 samples) this audio completes: none or one per frame."""
        samples = np.frombuffer(pcm16, dtype=np.int16).astype(np.float32) / 32768.0
        self._pending = np.concatenate((self._pending, samples))
        windows = []
        while len(self._pending) >= SILERO_WINDOW:
            chunk, self._pending = np.split(self._pending, [SILERO_WINDOW])
            windows.append(np.concatenate((self._context, chunk)))
            self._context = chunk[-SILERO_CONTEXT:]
        return windows


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
            return self._while_speaking(float(probability) >= self._end_threshold, at)
        return self._while_silent(float(probability) >= self._threshold, at)

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
