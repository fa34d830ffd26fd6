"""Deepgram live speech-to-text: settings, the resend buffer, transcript assembly (I/O-free).

The wire protocol is in ``deepgram_protocol``; the recogniser that owns the socket, behind
the Listener, is ``deepgram_stream``.

Deepgram's endpointing finalises at every pause it hears (``endpointing_ms``, 300 ms by
default), so one caller sentence ("I'd like to book... a check-up") can arrive as several
``is_final`` results. ``TranscriptAssembler`` joins them into one final Transcript per
utterance, closed by whichever comes first: ``speech_final``, the answer to our Finalize
(sent when the local VAD hears the caller stop), or ``UtteranceEnd``.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from itertools import islice
from statistics import fmean
from typing import Generic, TypeVar

import structlog
import trio

from receptionist.config import Config
from receptionist.engines.deepgram_protocol import (
    ResultsMessage,
    UtteranceEndMessage,
    listen_url,
)
from receptionist.messages import FRAME_MS, SpeechStarted, SpeechStopped, Transcript

log = structlog.get_logger()
T = TypeVar("T")

FRAMES_PER_SECOND = 1000 // FRAME_MS


@dataclass(frozen=True, slots=True)
class DeepgramSettings:
    """What one call's Deepgram listener needs; built once per process.

    The reconnect policy: the first retry after ``backoff_first_s`` (most drops are a
    one-off blip), doubling up to ``backoff_max_s``, so 5 attempts span about 6 s: about
    what the resend buffer holds.
    """

    url: str
    api_key: str = field(repr=False)
    """Sent in the Authorization header only; kept out of reprs and so out of logs."""
    keepalive_s: float = 5.0
    reconnect_attempts: int = 5
    resend_buffer_frames: int = 5 * FRAMES_PER_SECOND
    backoff_first_s: float = 0.25
    backoff_max_s: float = 2.0
    connect_timeout_s: float = 5.0
    """A TCP + TLS + HTTP upgrade slower than this is retried (trio-websocket says 60 s)."""
    close_timeout_s: float = 2.0
    """How long a hang-up waits for Deepgram's last results and Metadata."""
    chunk_frames: int = 1
    """20 ms frames per audio message (``deepgram.chunk_ms``)."""
    stall_timeout_s: float = 2.0
    """A stream that sends nothing this long after a Finalize has stalled (Deepgram answers
    one in a few hundred ms): it is closed and reconnected, like a drop."""
    stalls_to_give_up: int = 2
    """Stalled streams in a row after which the call stops waiting for Deepgram."""

    def backoff(self, attempt: int) -> float:
        """The pause before reconnect number ``attempt`` (1-based)."""
        return float(min(self.backoff_first_s * 2 ** (attempt - 1), self.backoff_max_s))


@dataclass(slots=True)
class DeepgramStats:
    """One call's counts, logged at its end (``deepgram.stats``)."""

    connections: int = 0
    frames_sent: int = 0
    keepalives: int = 0
    finalizes: int = 0
    transcripts: int = 0
    malformed: int = 0


def build_deepgram_settings(config: Config) -> DeepgramSettings | None:
    """The settings for ``engines.stt = "deepgram"``, None for the offline recogniser.

    The config has checked ``[deepgram]`` and holds the key (``config.secrets``).
    """
    if config.engines.stt != "deepgram":
        return None
    settings = config.deepgram
    return DeepgramSettings(
        url=listen_url(settings),
        api_key=config.secrets.deepgram_api_key,
        keepalive_s=settings.keepalive_s,
        reconnect_attempts=settings.reconnect_attempts,
        resend_buffer_frames=max(1, round(settings.resend_buffer_s * FRAMES_PER_SECOND)),
        chunk_frames=settings.chunk_ms // FRAME_MS,
    )


# --- The resend buffer ----------------------------------------------------------------


class Backlog(Generic[T]):
    """What waits to be sent to Deepgram, oldest first. ``put`` never waits.

    Connected, it holds a frame or two. Reconnecting, it fills, and past ``max_items``
    (``resend_buffer_s`` of frames) the oldest is dropped and counted: the newest audio is
    what the caller is saying now.
    """

    def __init__(self, max_items: int) -> None:
        self._items: deque[T] = deque()
        self._max = max_items
        self._ready = trio.Event()
        self.dropped = 0

    def put(self, item: T) -> None:
        self._items.append(item)
        if len(self._items) > self._max:
            self._items.popleft()
            self._drop()
        self._ready.set()

    def __len__(self) -> int:
        return len(self._items)

    def put_back(self, item: T) -> None:
        """An item whose send failed goes first again, unless that would overflow."""
        if len(self._items) < self._max:
            self._items.appendleft(item)
        else:
            self._drop()

    async def get(self) -> T:
        await self.wait()
        return self._items.popleft()

    async def wait(self) -> None:
        """Until something is queued."""
        while not self._items:
            self._ready = trio.Event()
            await self._ready.wait()

    async def wait_for_put(self) -> None:
        """Until the next ``put``."""
        self._ready = trio.Event()
        await self._ready.wait()

    def peek(self) -> T | None:
        return self._items[0] if self._items else None

    def head(self, count: int) -> list[T]:
        """The oldest ``count`` items, left queued."""
        return list(islice(self._items, count))

    def pop(self) -> T:
        return self._items.popleft()

    def _drop(self) -> None:
        self.dropped += 1
        if self.dropped == 1 or self.dropped % self._max == 0:  # a line per buffer's worth
            log.warning("deepgram.audio_dropped", total=self.dropped)


# --- Transcript assembly (I/O-free) ---------------------------------------------------


@dataclass(frozen=True, slots=True)
class StreamOrigin:
    """The first frame sent on a (re)connection arrived from Twilio at ``at``: Deepgram's
    times on that connection count from there."""

    at: float


AssemblerEvent = ResultsMessage | UtteranceEndMessage | SpeechStarted | SpeechStopped | StreamOrigin


class TranscriptAssembler:
    """Deepgram results and local VAD events in, our Transcripts out.

    Interim results become non-final Transcripts with the text so far (finalised segments
    plus the interim guess). ``speech_ended_at`` is the local VAD's SpeechStopped when it
    came first; otherwise Deepgram's last word end mapped onto our clock through the
    connection's StreamOrigin (off by Twilio's jitter, tens of ms).
    """

    def __init__(self) -> None:
        self._segments: list[str] = []
        self._confidences: list[float] = []
        self._last_word_end: float | None = None
        self._origin: float | None = None
        self._vad_stopped_at: float | None = None
        self._vad_speaking = False
        """Between the local VAD's SpeechStarted and its SpeechStopped."""

    @property
    def pending(self) -> str:
        """The finalised text not yet sent as a final Transcript."""
        return " ".join(self._segments)

    def handle(self, event: AssemblerEvent, at: float) -> Transcript | None:
        """Feed one event, stamped ``at``; returns a Transcript to send, if any."""
        match event:
            case ResultsMessage():
                return self._on_results(event, at)
            case UtteranceEndMessage():
                return self._final(at)
            case SpeechStarted():
                self._vad_stopped_at = None  # a new utterance: the last stop is not its end
                self._vad_speaking = True
            case SpeechStopped(at=stopped):
                self._vad_stopped_at, self._vad_speaking = stopped, False
            case StreamOrigin(at=origin):
                self._origin = origin
        return None

    def _on_results(self, result: ResultsMessage, at: float) -> Transcript | None:
        text = result.transcript.strip()
        # The endpointing docs show speech_final on a non-final result; speech_final means
        # the segment is done either way, so it counts as final.
        if not (result.is_final or result.speech_final):
            so_far = " ".join([*self._segments, text]).strip()
            return Transcript(so_far, False, None, at, result.confidence) if text else None
        if text:
            self._segments.append(text)
            self._confidences.append(result.confidence)
        if result.words:
            self._last_word_end = result.words[-1].end
        if result.from_finalize and not self._segments:
            # The answer to our Finalize, with nothing since the last final: the caller's
            # latest speech brought no words (a breath, a cough, the tail of the last word).
            # Said, so their turn need not wait for words that will not come; unless they
            # have started again since the Finalize went out (it covers only the audio
            # before it): then it says nothing of what they are saying now.
            if self._vad_speaking:
                return None
            return Transcript("", True, self._vad_stopped_at, at, result.confidence)
        if result.speech_final or result.from_finalize:
            return self._final(at)
        return Transcript(self.pending, False, None, at, result.confidence) if text else None

    def _final(self, at: float) -> Transcript | None:
        """The utterance's joined finals, once; None when nothing was said."""
        if not self._segments:
            return None
        transcript = Transcript(
            self.pending, True, self._speech_ended_at(), at, fmean(self._confidences)
        )
        self._segments, self._confidences = [], []
        self._last_word_end = self._vad_stopped_at = None
        return transcript

    def _speech_ended_at(self) -> float | None:
        if self._vad_stopped_at is not None:
            return self._vad_stopped_at
        if self._origin is None or self._last_word_end is None:
            return None
        return self._origin + self._last_word_end
