"""The offline recogniser behind the Listener: each utterance the VAD cut, decoded whole.

The Listener's VAD front end hands ``hear`` every frame with the turn event it caused; the
``UtteranceAssembler`` keeps the caller's speech, and each finished utterance goes over a
small channel to a decoder task, which decodes it (in the server, in worker processes:
``engines.decoding``) with the Dialogue's latest expectation and sends the final Transcript.
Decoding never holds up the audio: the VAD's events keep flowing while it runs.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from typing import Protocol

import structlog
import trio

from receptionist.engines.sphinx import Recognition
from receptionist.engines.utterances import Utterance, UtteranceAssembler
from receptionist.engines.vad import SegmenterEvent
from receptionist.errors import SpeechRecognitionError
from receptionist.messages import SAMPLE_RATE, Expectation, InboundAudio, Transcript

log = structlog.get_logger()

UTTERANCES_IN_FLIGHT = 2
"""Finished utterances waiting for the decoder. Decoding takes 5-15% of an utterance's
length, so normally none waits; two cover a quick "yes... yes please" during a slow decode.
If it is ever full the utterance is dropped (and logged) rather than stop reading audio:
the turn events, which barge-in depends on, must keep flowing."""


class Decoder(Protocol):
    """Decodes one whole utterance (``engines.decoding``); one decode at a time."""

    async def recognize(self, pcm16: bytes, expectation: Expectation) -> Recognition: ...


class UtteranceRecognizer:
    """One call's offline recogniser: the Listener's ``Recognizer`` for ``engines.stt =
    "offline"``.

    Args:
        decoder: this call's decoder, ready (``WorkerDecoding`` in the server).
        assembler: this call's, sized for the Listener's segmenter.

    Resource handling:
        Holds what the assembler holds (bounded by ``max_utterance_s``) and at most
        ``UTTERANCES_IN_FLIGHT`` utterances queued. When the call ends, utterances not yet
        decoded are dropped: nobody is left to hear the answer. A decode in progress is
        not abandoned: cancellation waits for it (a fraction of a second, bounded by the
        utterance cap), so the decoder is never left in use.

    Error handling:
        SpeechRecognitionError for one utterance is logged and the utterance skipped (the
        Dialogue reprompts after silence). A closed transcript channel and everything
        else propagate.
    """

    def __init__(self, decoder: Decoder, assembler: UtteranceAssembler) -> None:
        self._decoder, self._assembler = decoder, assembler
        self._expectation = Expectation.OPEN
        self._queue_send, self._queue_receive = trio.open_memory_channel[Utterance](
            UTTERANCES_IN_FLIGHT
        )

    @asynccontextmanager
    async def hearing(self, transcripts: trio.MemorySendChannel[Transcript]) -> AsyncIterator[None]:
        """The decoder task runs inside; on leaving, decodes not yet done are moot."""
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._decode_utterances, transcripts)
            with self._queue_send:
                yield
            nursery.cancel_scope.cancel()

    def hear(self, frame: InboundAudio, pcm16: bytes, change: SegmenterEvent | None) -> None:
        utterance = self._assembler.handle(pcm16, change)
        if utterance is None:
            return
        if utterance.truncated:
            log.warning("listener.utterance_truncated", started_at=utterance.started_at)
        try:
            self._queue_send.send_nowait(replace(utterance, expectation=self._expectation))
        except trio.WouldBlock:
            log.warning("listener.utterance_dropped", queued=UTTERANCES_IN_FLIGHT)

    def listen_for(self, expectation: Expectation) -> None:
        """Decode what comes next with this expectation (OPEN until the first hint)."""
        self._expectation = expectation

    async def _decode_utterances(self, transcripts: trio.MemorySendChannel[Transcript]) -> None:
        with self._queue_receive:
            async for utterance in self._queue_receive:
                transcript = await self._recognize(utterance)
                if transcript is not None:
                    await transcripts.send(transcript)

    async def _recognize(self, utterance: Utterance) -> Transcript | None:
        started = time.perf_counter()  # CPU-side wall time, for the log only
        try:
            result = await self._decoder.recognize(utterance.pcm16, utterance.expectation)
        except SpeechRecognitionError as exc:
            log.error("listener.recognition_failed", error=str(exc))
            return None
        audio_s = len(utterance.pcm16) / (2 * SAMPLE_RATE)
        decode_s = time.perf_counter() - started
        expectation = utterance.expectation.value
        if not result.text:
            log.debug("listener.heard_nothing", audio_s=audio_s, expectation=expectation)
            return None
        log.info("listener.transcript", audio_s=round(audio_s, 2), decode_s=round(decode_s, 3),
                 expectation=expectation)  # fmt: skip
        log.debug("listener.transcript_text", text=result.text)
        return Transcript(
            text=result.text,
            is_final=True,
            speech_ended_at=utterance.speech_ended_at,
            at=trio.current_time(),
            confidence=result.confidence,
        )
