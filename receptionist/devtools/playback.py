"""What the emulated caller hears: Twilio's outbound buffer as a model, and the call's report.

No I/O: ``TwilioCaller`` feeds ``Playback`` what arrives and asks it what is due.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from receptionist.messages import FRAME_BYTES, FRAME_MS

FRAME_S = FRAME_MS / 1000


@dataclass
class Playback:
    """Twilio's outbound buffer, as a model: what the caller has heard, and when.

    No I/O: the caller task feeds it what arrives and asks it what is due.
    """

    instant: bool = False
    """Play everything the moment it arrives (fast replays)."""
    buffer_end: float = 0.0
    pending_marks: list[tuple[float, str]] = field(default_factory=list)
    queued: list[tuple[float, bytes]] = field(default_factory=list)
    heard: bytearray = field(default_factory=bytearray)
    heard_at: list[float] = field(default_factory=list)
    """When each frame of ``heard`` began to play."""
    last_audio_at: float | None = None

    def media(self, ulaw: bytes, now: float) -> int:
        """Queue one media message's audio, as Twilio does: a payload of any length plays
        frame after frame from the end of what is buffered. Returns its 20 ms frames."""
        frames = [ulaw[i : i + FRAME_BYTES] for i in range(0, len(ulaw), FRAME_BYTES)]
        for frame in frames:
            start = now if self.instant else max(self.buffer_end, now)
            self.buffer_end = start + (0 if self.instant else FRAME_S)
            self.queued.append((start, frame))
        self.last_audio_at = now
        return len(frames)

    def mark(self, name: str, now: float) -> None:
        self.pending_marks.append((max(self.buffer_end, now), name))

    def clear(self, now: float) -> list[str]:
        """Drop the unplayed audio; every pending mark comes back at once."""
        self.played(now)
        self.queued.clear()
        self.buffer_end = now
        names = [name for _, name in self.pending_marks]
        self.pending_marks.clear()
        return names

    def played(self, now: float) -> list[str]:
        """Move what has played by ``now`` to ``heard``; the marks now due, in order."""
        while self.queued and self.queued[0][0] <= now:
            at, ulaw = self.queued.pop(0)
            self.heard += ulaw
            self.heard_at.append(at)
        due = [name for at, name in self.pending_marks if at <= now]
        self.pending_marks = [(at, name) for at, name in self.pending_marks if at > now]
        return due

    def next_mark_at(self) -> float | None:
        """When the next pending mark is due (None: none is pending)."""
        return min((at for at, _ in self.pending_marks), default=None)

    def speaking(self, now: float) -> bool:
        return self.buffer_end > now or bool(self.pending_marks)


@dataclass(frozen=True)
class CallerReport:
    call_sid: str
    heard_ulaw: bytes
    greeting_ms: float | None
    """From ``start`` sent to the first agent audio arriving."""
    reply_latencies_ms: tuple[float | None, ...]
    """Per utterance: end of the caller's audio to the agent's next audio arriving."""
    clears: int
    closed_by_server: bool
    speech_spans: tuple[tuple[float, float] | None, ...] = ()
    """Per utterance: when its first and last voiced frames were sent (None: unvoiced)."""
    reply_arrivals: tuple[tuple[float, ...], ...] = ()
    """Per wait for the agent (the greeting's, then one per utterance): when each agent
    frame arrived, until the next wait (frames arriving while the caller speaks included)."""
    clear_times: tuple[float, ...] = ()
    closed_while_saying: int = 0
    """1 if the server hung up while the caller was saying an utterance (should be 0)."""
    heard_at: tuple[float, ...] = ()
    """When each agent frame the caller heard began to play (audio dropped by ``clear``
    never played)."""
    media_after_clear: int = 0
    """Agent frames that arrived after a ``clear`` while the caller was still saying the
    utterance that interrupted: stale audio of the cancelled turn (should be 0)."""
    line_left_open: bool = False
    """The call was over but the server had not closed its TCP connection within
    ``TwilioCaller.close_wait_s`` (should be False: it keeps a socket and its tasks)."""
