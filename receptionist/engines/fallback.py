"""A speech engine that falls back, sentence by sentence, when its primary is silent.

A cloud voice can be slow, rate-limited or unreachable; a caller who hears nothing hangs
up. ``FallbackSpeechEngine`` asks the primary (ElevenLabs) for each sentence and, when the
primary fails or gives no audio within ``first_audio_timeout_s``, speaks that sentence
with the fallback (offline espeak) instead. This is where the TTS timeout policy lives:
the engines below it set none of their own.

A primary that keeps failing (a bad key, an outage) trips a circuit breaker: after
``TRIP_AFTER_FAILURES`` sentences in a row fell back, the rest of the call is spoken offline
at once, instead of paying a timeout per sentence. Each call has its own breaker
(``for_call``): one call's bad luck does not silence the cloud voice for the others.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from contextlib import aclosing
from typing import Any

import trio

from receptionist.engines.tts import SpeechEngine
from receptionist.errors import SpeechSynthesisError

TRIP_AFTER_FAILURES = 2
"""Sentences in a row the primary may fail before the call gives up on it."""


class FallbackSpeechEngine:
    """Speak with ``primary``, or with ``fallback`` when the primary gives no audio.

    Args:
        primary: the preferred engine (ElevenLabs).
        fallback: an engine that does not fail for network reasons (espeak).
        first_audio_timeout_s: how long a sentence may wait for the primary's first audio
            (connection, request and time to first byte together).
        stall_timeout_s: how long the primary may pause between chunks once audio flows;
            None waits for as long as it takes (a barge-in still stops it).
        log: a structlog logger; ``tts.fallback`` is logged with the reason, and
            ``tts.circuit_open`` once when the breaker trips.
        trip_after_failures: sentences in a row that may fall back before the breaker trips.
    """

    def __init__(
        self,
        primary: SpeechEngine,
        fallback: SpeechEngine,
        *,
        first_audio_timeout_s: float,
        stall_timeout_s: float | None = None,
        log: Any,
        trip_after_failures: int = TRIP_AFTER_FAILURES,
    ) -> None:
        self.primary, self.fallback = primary, fallback
        self._first_audio_timeout_s = first_audio_timeout_s
        self._stall_timeout_s = stall_timeout_s
        self._log = log
        self._trip_after = trip_after_failures
        self._failures_in_a_row = 0

    def for_call(self) -> FallbackSpeechEngine:
        """The same engines with a breaker of the call's own."""
        return FallbackSpeechEngine(
            self.primary,
            self.fallback,
            first_audio_timeout_s=self._first_audio_timeout_s,
            stall_timeout_s=self._stall_timeout_s,
            log=self._log,
            trip_after_failures=self._trip_after,
        )

    @property
    def tripped(self) -> bool:
        return self._failures_in_a_row >= self._trip_after

    async def stream_ulaw(self, text: str) -> AsyncGenerator[bytes, None]:
        """Speak ``text``; see ``SpeechEngine.stream_ulaw``.

        Raises:
            SpeechSynthesisError: the primary failed or stalled after some audio was
                yielded, or the fallback failed.
        """
        if not text.strip():
            return  # nothing to say: not a reason to fall back
        # Every wait under a timeout is an ``await`` outside any yield: trio forbids a
        # yield inside a cancel scope, as the consumer's code would run inside it.
        if not self.tripped:
            async with aclosing(self.primary.stream_ulaw(text)) as primary:
                first = await self._first_audio(primary)
                if first is not None:
                    self._failures_in_a_row = 0
                    yield first
                    while (chunk := await self._next_audio(primary)) is not None:
                        yield chunk
                    return
            self._failed()
        # The primary's stream (and its HTTP response) is closed before the fallback starts.
        async with aclosing(self.fallback.stream_ulaw(text)) as spoken:
            async for chunk in spoken:
                yield chunk

    def _failed(self) -> None:
        self._failures_in_a_row += 1
        if self._failures_in_a_row == self._trip_after:
            self._log.error(
                "tts.circuit_open",
                failures_in_a_row=self._failures_in_a_row,
                hint="the primary voice keeps failing: the rest of this call is spoken offline",
            )

    async def _first_audio(self, primary: AsyncGenerator[bytes, None]) -> bytes | None:
        """The primary's first non-empty chunk, or None (logged) to use the fallback."""
        with trio.move_on_after(self._first_audio_timeout_s):
            try:
                async for chunk in primary:
                    if chunk:
                        return chunk
            except SpeechSynthesisError as exc:
                self._log.warning("tts.fallback", reason="error", error=str(exc))
                return None
            self._log.warning("tts.fallback", reason="no_audio")
            return None
        # Only our own deadline gets here: a barge-in's Cancelled propagates through.
        self._log.warning("tts.fallback", reason="timeout", timeout_s=self._first_audio_timeout_s)
        return None

    async def _next_audio(self, primary: AsyncGenerator[bytes, None]) -> bytes | None:
        """The primary's next chunk, None at its end.

        A failure here is not a fallback: the caller has already heard the start of the
        sentence, and the HTTP stream says nothing about which words that audio covered,
        so the fallback could only repeat the sentence from its beginning in another
        voice. Raising lets the Synthesizer log it and go on with the next sentence.

        Raises:
            SpeechSynthesisError: the primary failed, or paused longer than the stall timeout.
        """
        timeout = self._stall_timeout_s
        with trio.move_on_after(timeout) if timeout is not None else trio.CancelScope():
            return await anext(primary, None)
        raise SpeechSynthesisError(f"the primary engine sent no audio for {timeout} s mid-sentence")
