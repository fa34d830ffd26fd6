"""When the caller's last words have stayed said, judged from their audio. I/O-free.

A tool that changes something runs only once the caller's turn has stayed over for
``turn_taking.settle_ms`` (``AgentFloor.settled``). Timed on the clock from the final's
arrival, that settle time races the audio: on a loaded server the frames in which the
caller goes on ("No, [pause] that's everything") may still be queued for the VAD when the
clock says the time is up, and ``end_call`` runs on "No,". So the Listener, which hears the
frames in order, counts it: ``settle_ms`` of unvoiced frames after the last final it passed
on (or after the last voiced frame since) make one ``CallerSettled``. Any voiced frame
starts the count again, a click included: a tool then waits a little longer, and no more.
"""

from __future__ import annotations

from receptionist.messages import FRAME_BYTES, FRAME_MS, CallerSettled


class Settling:
    """One call's count of quiet audio. Not shared between calls."""

    def __init__(self, settle_ms: int) -> None:
        self._needed_ms = settle_ms
        self._quiet_ms = 0.0
        self._armed = False
        """Something was said (a final, voiced audio) since the last ``CallerSettled``."""

    def final_heard(self) -> None:
        """A final transcript with words went to the Dialogue: the quiet counts from here."""
        self._armed, self._quiet_ms = True, 0.0

    def frame(self, ulaw_bytes: int, voiced: bool, at: float) -> CallerSettled | None:
        """One frame heard (``ulaw_bytes`` long, voiced or not, arrived ``at``)."""
        if voiced:
            self._armed, self._quiet_ms = True, 0.0
            return None
        if not self._armed:
            return None
        self._quiet_ms += ulaw_bytes * FRAME_MS / FRAME_BYTES
        if self._quiet_ms < self._needed_ms:
            return None
        self._armed = False
        return CallerSettled(at)
