"""Audio helpers shared by the engines and TwilioIO. Pure functions, no I/O."""

from __future__ import annotations

import warnings
from collections.abc import Iterator

with warnings.catch_warnings():
    # Deprecated in 3.11-3.12 (PEP 594); on 3.13+ the audioop-lts wheel provides it.
    warnings.simplefilter("ignore", DeprecationWarning)
    import audioop

from receptionist.messages import FRAME_BYTES, ULAW_SILENCE

__all__ = ["FrameSplitter", "audioop", "pcm16_to_ulaw", "ulaw_to_pcm16"]


def ulaw_to_pcm16(ulaw: bytes) -> bytes:
    return audioop.ulaw2lin(ulaw, 2)


def pcm16_to_ulaw(pcm: bytes) -> bytes:
    return audioop.lin2ulaw(pcm, 2)


class FrameSplitter:
    """Cuts a stream of mu-law bytes into exact 20 ms frames, keeping the remainder."""

    def __init__(self) -> None:
        self._pending = bytearray()

    def push(self, ulaw: bytes) -> Iterator[bytes]:
        self._pending += ulaw
        while len(self._pending) >= FRAME_BYTES:
            yield bytes(self._pending[:FRAME_BYTES])
            del self._pending[:FRAME_BYTES]

    def flush(self) -> Iterator[bytes]:
        """The remainder, padded with silence to a whole frame."""
        if self._pending:
            yield bytes(self._pending) + ULAW_SILENCE * (FRAME_BYTES - len(self._pending))
            self._pending.clear()
