"""The quiet line's skip: Silero is not run on windows of a line that has been quiet a while.

A receptionist's caller is silent for most of a call (the agent is talking), and a phone
line's silence is digital zero or comfort noise 60-70 dB below full scale. Silero's answer
to such a window is never speech; running it costs the same as for speech (see
``vad_batch``). So once a call's windows have stayed under ``floor_dbfs`` (RMS) for
``hang_windows`` windows in a row, each of which did run, the next quiet windows are skipped
and the call keeps the probability the model gave last, the quiet line's own. The first
window over the floor runs the model from the state the last run left.

Loud noise (a -40 dBFS hiss, traffic, a cough) is over the floor and goes to the model,
which is what tells it from speech. What the skip changes, on ``bench.vad``'s signals and in
the tests: the same utterances on every signal; the start of one that follows a long quiet
is heard up to two frames sooner or later, its end up to a frame later. The model's state
never settles on a quiet line (after 12 s of it, each window still moves it by a tenth), so
no choice of when to stop running the model leaves it where it would have been; with the
same timing, other line noise moved no start.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from receptionist.engines.audio import audioop

FULL_SCALE = 32768


@dataclass(frozen=True, slots=True)
class QuietFloor:
    """``vad.quiet_floor_dbfs`` and ``vad.quiet_hang_ms``; each call gets its own count."""

    dbfs: float
    hang_ms: int

    def new_line(self, window_ms: int, skip_from: int) -> QuietLine:
        return QuietLine(self.dbfs, math.ceil(self.hang_ms / window_ms), skip_from)


class QuietLine:
    """One call's count of quiet windows. I/O-free: ``skip`` is asked once per window."""

    def __init__(self, floor_dbfs: float, hang_windows: int, skip_from: int = 0) -> None:
        """``floor_dbfs``: RMS under which a window is quiet (``-inf``: never);
        ``skip_from``: where the window's new samples start (bytes; before: the context)."""
        self._floor_rms = FULL_SCALE * 10 ** (floor_dbfs / 20) if floor_dbfs > -math.inf else 0.0
        self._hang = hang_windows
        self._skip_from = skip_from
        self._quiet = 0
        """Quiet windows in a row, up to the one being asked about."""

    def skip(self, window: bytes) -> bool:
        """Whether this window (16-bit PCM) need not run the model."""
        # A view, not a slice: once a window, on every call, a copy is work for nothing.
        if audioop.rms(memoryview(window)[self._skip_from :], 2) >= self._floor_rms:
            self._quiet = 0
            return False
        self._quiet += 1
        return self._quiet > self._hang
