"""A call's two audio tracks as the caller heard them, handed to the recorder in chunks.

Caller frames are laid end to end (Twilio streams the inbound track without gaps); an agent
frame plays from where the caller's track is when it is sent, or right after the agent audio
before it; a ``clear`` drops the agent audio not yet played (past the caller's track).
"""

from __future__ import annotations

from receptionist.messages import SAMPLE_RATE, ULAW_SILENCE

FLUSH_SAMPLES = SAMPLE_RATE
"""Audio goes to the recorder once a second."""
MAX_AGENT_AHEAD_SAMPLES = 10 * SAMPLE_RATE
"""Agent audio held ahead of the caller's track (Twilio streams the caller without gaps, so
it is ``send_ahead_ms`` at most); beyond this the caller's track is taken to have gone quiet
and is padded with silence, which bounds what a call holds."""


class Tracks:
    """The two tracks since the last chunk, in samples (one mu-law byte each)."""

    def __init__(self) -> None:
        self.written = 0
        self._caller = bytearray()
        self._agent = bytearray()

    def caller(self, ulaw: bytes) -> None:
        self._caller += ulaw

    def agent(self, ulaw: bytes) -> None:
        if len(self._agent) < len(self._caller):  # silence since the agent last spoke
            self._agent += ULAW_SILENCE * (len(self._caller) - len(self._agent))
        self._agent += ulaw
        if len(self._agent) - len(self._caller) > MAX_AGENT_AHEAD_SAMPLES:
            missing = len(self._agent) - len(self._caller) - MAX_AGENT_AHEAD_SAMPLES
            self._caller += ULAW_SILENCE * missing

    def clear(self) -> None:
        del self._agent[len(self._caller) :]

    def take(self, *, final: bool, limit: int) -> tuple[bytes, bytes] | None:
        length = max(len(self._caller), len(self._agent)) if final else len(self._caller)
        if not final and length < FLUSH_SAMPLES:
            return None
        length = min(length, limit - self.written)
        if length <= 0:
            self._caller.clear()
            self._agent.clear()
            return None
        caller = bytes(self._caller[:length]).ljust(length, ULAW_SILENCE)
        agent = bytes(self._agent[:length]).ljust(length, ULAW_SILENCE)
        del self._caller[:length]
        del self._agent[:length]
        self.written += length
        return caller, agent
