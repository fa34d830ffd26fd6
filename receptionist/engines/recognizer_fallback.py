"""Deepgram's circuit breaker: when the live recogniser gives up, the offline one takes the
rest of the call.

``DeepgramRecognizer`` rides out blips itself (reconnects with backoff, the audio buffered
and resent) and gives up, raising SpeechRecognitionError, when a refusal is final (a bad
key), ``reconnect_attempts`` reconnects in a row failed, or its streams stall (no answer to
Finalize). Without a breaker that ends the call at its error boundary. ``FallbackRecognizer``
instead switches the rest of this call to the offline recogniser (the process's model,
decoded in a thread for this call), logged once as ``stt.fallback``.

No turn is lost: every frame since Deepgram's last final is kept (bounded by
``replay_frames``) and fed to the offline recogniser when it takes over, so what the caller
said while Deepgram was failing is decoded, not asked for again. Replaying was chosen over
asking the caller to repeat because the audio is already in hand and the offline recogniser
decodes whole utterances anyway: the answer comes a decode later, while a "could you say
that again?" costs the caller a whole turn and needs the Dialogue to know why.
"""

from __future__ import annotations

from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import structlog
import trio

from receptionist.engines.deepgram_stream import DeepgramRecognizer
from receptionist.engines.utterance_recognizer import UtteranceRecognizer
from receptionist.engines.vad import SegmenterEvent
from receptionist.errors import SpeechRecognitionError
from receptionist.messages import Expectation, InboundAudio, Transcript

log = structlog.get_logger()

Kept = tuple[bytes, float, bytes, SegmenterEvent | None]
"""One frame as the Listener gave it to ``hear``: its mu-law, its time, its PCM, the VAD's
change. Kept apart, not as the InboundAudio: a tuple of bytes, floats and None is dropped
from the garbage collector's watch, and a call keeps hundreds of frames between finals,
which every full collection would otherwise walk (tens of ms of stalled loop at 64 calls)."""


class FallbackRecognizer:
    """The Listener's ``Recognizer`` for ``engines.stt = "deepgram"``: Deepgram, and the
    offline recogniser for the rest of the call once Deepgram gives up.

    Args:
        primary: this call's Deepgram recogniser.
        new_fallback: makes this call's offline recogniser, only when it is needed.
        replay_frames: frames kept since Deepgram's last final, replayed to the fallback.

    Resource handling:
        One recogniser hears at a time, inside a task of its own; leaving ``hearing`` ends
        whichever it is, as that recogniser ends (Deepgram's CloseStream within its close
        timeout). Frames arriving during the switch are only kept for the replay.

    Error handling:
        SpeechRecognitionError from Deepgram switches to the fallback; anything else, and
        any error from the fallback, propagates to the call's error boundary.
    """

    def __init__(
        self, primary: DeepgramRecognizer,
        new_fallback: Callable[[], Awaitable[UtteranceRecognizer]], *, replay_frames: int,
    ) -> None:  # fmt: skip
        self._primary = primary
        self._new_fallback = new_fallback
        self._replay: deque[Kept] = deque(maxlen=replay_frames)
        self._active: DeepgramRecognizer | UtteranceRecognizer | None = None
        """Who hears now; None while switching."""
        self._expectation = Expectation.OPEN
        self._hung_up = trio.Event()
        self.fell_back = False

    @asynccontextmanager
    async def hearing(self, transcripts: trio.MemorySendChannel[Transcript]) -> AsyncIterator[None]:
        """Deepgram connected inside (or, if it never could, the fallback ready)."""
        async with trio.open_nursery() as nursery:
            await nursery.start(self._recognise, transcripts)
            try:
                yield
            finally:
                self._hung_up.set()  # the recogniser hearing now ends as at a hang-up

    def hear(self, frame: InboundAudio, pcm16: bytes, change: SegmenterEvent | None) -> None:
        if not self.fell_back:
            self._replay.append((frame.ulaw, frame.at, pcm16, change))
        if self._active is not None:
            self._active.hear(frame, pcm16, change)

    def listen_for(self, expectation: Expectation) -> None:
        self._expectation = expectation
        if self._active is not None:
            self._active.listen_for(expectation)

    async def _recognise(
        self, transcripts: trio.MemorySendChannel[Transcript],
        *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
    ) -> None:  # fmt: skip
        started = False
        try:
            async with self._hearing_deepgram(transcripts):
                started = True
                task_status.started()
                await self._hung_up.wait()
            return
        except* SpeechRecognitionError as group:
            error = _first(group)
        self._active = None  # frames are only kept while the fallback gets ready
        fallback = await self._new_fallback()
        log.error(
            "stt.fallback",
            error=str(error),
            replayed_frames=len(self._replay),
            hint="Deepgram keeps failing: the rest of this call is heard offline",
        )
        fallback.listen_for(self._expectation)
        async with fallback.hearing(transcripts):
            self.fell_back = True
            for ulaw, at, pcm16, change in self._replay:
                fallback.hear(InboundAudio(ulaw, at), pcm16, change)
            self._replay.clear()
            self._active = fallback
            if not started:
                task_status.started()
            await self._hung_up.wait()

    @asynccontextmanager
    async def _hearing_deepgram(
        self, transcripts: trio.MemorySendChannel[Transcript]
    ) -> AsyncIterator[None]:
        """Deepgram hearing (connected) inside, its transcripts passed on."""
        finals_send, finals_recv = trio.open_memory_channel[Transcript](0)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._pass_on, finals_recv, transcripts)
            with finals_send:
                async with self._primary.hearing(finals_send):
                    self._active = self._primary
                    self._primary.listen_for(self._expectation)
                    yield

    async def _pass_on(
        self, received: trio.MemoryReceiveChannel[Transcript],
        transcripts: trio.MemorySendChannel[Transcript],
    ) -> None:  # fmt: skip
        """Deepgram's transcripts to the Dialogue; a final ends the audio kept for a replay."""
        with received:
            async for transcript in received:
                if transcript.is_final:
                    self._forget_through(transcript.speech_ended_at or transcript.at)
                try:
                    await transcripts.send(transcript)
                except trio.BrokenResourceError:
                    if not self._hung_up.is_set():
                        raise  # mid-call, a Dialogue gone is the error boundary's business
                    # Words flushed by CloseStream after the caller hung up: nobody to tell.

    def _forget_through(self, at: float) -> None:
        while self._replay and self._replay[0][1] <= at:
            self._replay.popleft()


def _first(group: BaseExceptionGroup[SpeechRecognitionError]) -> BaseException:
    error: BaseException = group
    while isinstance(error, BaseExceptionGroup):
        error = error.exceptions[0]
    return error
