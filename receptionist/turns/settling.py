"""When the caller's last words have stayed said, judged from their audio. I/O-free.

A tool that changes something runs only once the caller's turn has stayed over for
``turn_taking.settle_ms`` (``AgentFloor.settled``). Timed on the clock from the final's
arrival, that settle time races the audio: on a loaded server the frames in which the
caller goes on ("No, [pause] that's everything") may still be queued for the VAD when the
clock says the time is up, and ``end_call`` runs on "No,". So the Listener, which hears the
frames in order, counts it: ``settle_ms`` of unvoiced frames after the last final it passed
on (or after the last voiced frame since) make one ``CallerSettled``. Any voiced frame
starts the count again, a click included: a tool then waits a little longer. On a line whose
noise keeps sounding voiced without ever becoming speech, ``settle_max_ms`` of audio after
the final settles it all the same: speech that does become speech holds or cuts the turn
that waits (``AgentFloor.settled``), so the bound never lets a tool run on a fragment.
"""

from __future__ import annotations

from receptionist.messages import FRAME_BYTES, FRAME_MS, CallerSettled


class Settling:
    """One call's count of quiet audio. Not shared between calls."""

    def __init__(self, settle_ms: int, settle_max_ms: int) -> None:
        self._needed_ms = settle_ms
        self._max_ms = max(settle_ms, settle_max_ms)
        self._quiet_ms = 0.0
        self._heard_ms = 0.0
        """Audio since the count was armed, voiced or not."""
        self._armed = False
        """Something was said (a final, voiced audio) since the last ``CallerSettled``."""

    def final_heard(self) -> None:
        """A final transcript with words went to the Dialogue: the quiet counts from here."""
        self._armed, self._quiet_ms, self._heard_ms = True, 0.0, 0.0

    def frame(self, ulaw_bytes: int, voiced: bool, at: float) -> CallerSettled | None:
        """One frame heard (``ulaw_bytes`` long, voiced or not, arrived ``at``)."""
        if not self._armed:
            if not voiced:
                return None
            self._armed, self._heard_ms = True, 0.0
        length_ms = ulaw_bytes * FRAME_MS / FRAME_BYTES
        self._heard_ms += length_ms
        self._quiet_ms = 0.0 if voiced else self._quiet_ms + length_ms
        if self._quiet_ms < self._needed_ms and self._heard_ms < self._max_ms:
            return None
        self._armed = False
        return CallerSettled(at)
