"""Silero VAD's ONNX model run by onnxruntime: the default ``VadModel`` (``vad.load_vad``).

One ``InferenceSession`` per process (thread-safe for ``run``); each call gets its own
``SileroStream`` holding that call's recurrent state and audio context. With the process's
batcher (``vad_batch``), each call's windows run in one inference with the other calls'.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from time import perf_counter_ns
from typing import Protocol

import numpy as np

from receptionist import frame_costs
from receptionist.engines.vad_quiet import QuietFloor, QuietLine
from receptionist.errors import ConfigError, EngineError
from receptionist.messages import SAMPLE_RATE

SILERO_WINDOW = 256
"""Samples per Silero inference at 8 kHz (32 ms): the only window size the model accepts."""
SILERO_CONTEXT = 32
"""Samples of the previous window the model expects prepended at 8 kHz (as silero_vad does)."""
SILERO_STATE_SHAPE = (2, 1, 128)
PCM_BYTES = 2
WINDOW_BYTES = (SILERO_CONTEXT + SILERO_WINDOW) * PCM_BYTES
"""What one inference reads: the context and the window, as 16-bit PCM."""
STEP_BYTES = SILERO_WINDOW * PCM_BYTES
"""How far the audio moves on per window: the window's last 32 samples stay as context."""
WINDOW_MS = SILERO_WINDOW * 1000 // SAMPLE_RATE
PCM_SCALE = np.float32(1 / 32768)
"""16-bit PCM to [-1, 1): a power of two, so the same floats as dividing by 32768."""


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


def window_rows(pcm16: bytes, rows: int) -> np.ndarray:
    """``rows`` windows' 16-bit PCM (each ``WINDOW_BYTES``, joined) as the model's input:
    one conversion for a whole batch, not one per frame."""
    samples = np.frombuffer(pcm16, dtype=np.int16).reshape(rows, SILERO_CONTEXT + SILERO_WINDOW)
    return samples.astype(np.float32) * PCM_SCALE


class SileroModel:
    """The shared ONNX session. ``run`` is thread-safe; per-call state lives in streams."""

    def __init__(self, path: Path | None = None, quiet: QuietFloor | None = None) -> None:
        """``quiet``: skip the windows of a line quiet that long (``vad_quiet``; None: none)."""
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
        self._quiet = quiet

    def new_stream(self, batcher: WindowBatcher | None = None) -> SileroStream:
        """``batcher``: run this stream's windows in batches with other calls' (else inline)."""
        quiet = self._quiet.new_line(WINDOW_MS, SILERO_CONTEXT * PCM_BYTES) if self._quiet else None
        return SileroStream(self, batcher, quiet)

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

    async def infer(self, stream: SileroStream, window: bytes) -> None:
        """Sets ``stream.last`` and ``stream.state`` from the window's inference.
        ``window``: ``WINDOW_BYTES`` of 16-bit PCM (``window_rows`` converts it)."""
        ...


class SileroStream:
    """One call's Silero state: 20 ms frames in, a probability per frame out.

    Frames are 160 samples and the model takes 256, so samples are buffered; each frame
    reports the probability of the latest complete window (0.625 inferences per frame).
    The audio stays 16-bit PCM bytes until a window is complete: a frame that completes
    none costs a bytearray append.
    """

    def __init__(
        self,
        model: SileroModel,
        batcher: WindowBatcher | None = None,
        quiet: QuietLine | None = None,
    ) -> None:
        self._model = model
        self._batcher = batcher
        self._quiet = quiet
        self.state = np.zeros(SILERO_STATE_SHAPE, dtype=np.float32)
        """The model's recurrent state for this call, (2, 1, 128)."""
        self.last = 0.0
        """The probability of the latest complete window."""
        self._audio = bytearray(SILERO_CONTEXT * PCM_BYTES)
        """The context (silence at first), then the samples not yet in a window."""
        self.costs = frame_costs.current()
        """The call's counters: the batcher adds each window's share of its batch."""

    async def probability(self, pcm16: bytes) -> float:
        began = perf_counter_ns()
        windows = self._windows(pcm16)
        self.costs.vad_frames += 1
        if self._batcher is None:
            for window in windows:
                out, self.state = self._model.infer(window_rows(window, 1), self.state)
                self.last = float(out[0])
        self.costs.vad_ns += perf_counter_ns() - began
        if self._batcher is not None:
            for window in windows:
                await self._batcher.infer(self, window)
        return self.last

    def _windows(self, pcm16: bytes) -> list[bytes]:
        """The windows (context + 256 samples) this audio completes that the model must run
        on: none or one per frame."""
        audio = self._audio
        audio += pcm16
        windows = []
        while len(audio) >= WINDOW_BYTES:
            window = bytes(audio[:WINDOW_BYTES])
            del audio[:STEP_BYTES]
            if self._quiet is not None and self._quiet.skip(window):
                self.costs.vad_skipped += 1  # ``last`` stays the quiet line's probability
            else:
                windows.append(window)
        return windows
