"""The media stream's WebSocket as TwilioIO sees it, and TwilioIO's counters.

Here, not in ``stages/``, because the supervisor, the drain and the bench name them too, and
TwilioIO's reader and writer (two modules) share them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


class MediaConnection(Protocol):
    """What TwilioIO needs of a WebSocket (Quart's websocket object is one).

    ``receive`` and ``send`` raise CallDisconnected once the peer has gone.
    """

    async def receive(self) -> str | bytes: ...

    async def send(self, data: str) -> None: ...

    async def close(self, code: int) -> None: ...


@dataclass(slots=True)
class TwilioStats:
    frames_in: int = 0
    frames_dropped: int = 0
    malformed: int = 0
    events_dropped: int = 0
    frames_out: int = 0
    messages_out: int = 0
    """The media messages that carried ``frames_out`` (one socket send each)."""
    frames_late: int = 0
    """Sent after the turn's previous frame had finished playing: the caller heard a gap."""
    frames_discarded: int = 0
    marks_out: int = 0
    clears: int = 0
    wakes: int = 0
    """The writer's timer wakes to pace audio (one per few frames)."""
    wakes_late: int = 0
    """Wakes more than a frame after their time: the event loop, or the process waiting for
    a core, held the audio back (a starved Synthesizer shows as frames_late alone)."""
    wake_late_max_ms: float = 0.0
