"""What every call shares, built once per process: engines, clients, store, secrets."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import replace
from datetime import datetime
from functools import partial

import structlog
import trio
import trio_parallel

from receptionist.calendar.pusher import TOPIC as CALENDAR_TOPIC
from receptionist.calendar.service import open_calendar
from receptionist.call import CallServices
from receptionist.config import Config
from receptionist.engines.decoding import (
    ThreadDecoding,
    WorkerDecoding,
    decoder_worker_count,
    open_decoder_workers,
)
from receptionist.engines.deepgram import build_deepgram_settings
from receptionist.engines.deepgram_stream import DeepgramRecognizer
from receptionist.engines.elevenlabs import (
    build_speech_engine,
    close_speech_engine,
    keep_speech_engine_warm,
)
from receptionist.engines.espeak import EspeakEngine
from receptionist.engines.recognizer_fallback import FallbackRecognizer
from receptionist.engines.sphinx import SphinxModel
from receptionist.engines.utterance_recognizer import Decoder, UtteranceRecognizer
from receptionist.engines.utterances import UtteranceAssembler
from receptionist.engines.vad import SpeechSegmenter, load_vad, new_segmenter
from receptionist.engines.vad_batch import SileroBatcher
from receptionist.engines.vad_silero import SileroModel
from receptionist.llm import LlmEngine, build_llm
from receptionist.messages import FRAME_MS, Expectation
from receptionist.offline import spoken_time
from receptionist.scheduling.store import AppointmentStore
from receptionist.staff.sms import SMS_TOPIC, serve_sms, sms_configured, sms_enabled
from receptionist.staff.webhook import serve_webhook, webhook_enabled
from receptionist.telephony.stream_tokens import StreamTokens
from stages.listener import ListenerEngines, Recognizer

CLOSE_TIMEOUT_S = 2.0
WARM_UP_BYTES = 3200
"""A tenth of a second of 8 kHz 16-bit silence."""

log = structlog.get_logger()


def build_services(
    config: Config, *, now: datetime | None = None,
    decoder_workers: trio_parallel.WorkerContext | None = None,
) -> CallServices:  # fmt: skip
    """Load the offline engines, check the cloud keys, open the store. Blocking.

    What lives in trio is opened by ``open_services``: the LLM client, the recogniser's
    worker processes. This alone serves the offline engines (no LLM), decoding in a thread
    per call, without the calendar: bookings' calendar writes wait in the outbox for a
    process that runs it.

    Args:
        now: pin the clinic's clock (replays, tests); by default the real time.
        decoder_workers: decode in these processes (``open_decoder_workers``).

    Raises:
        ConfigError: a chosen cloud engine's API key is missing (checked by load_config).
    """
    services, _listeners, _llm = _build(config, now, decoder_workers)
    return services


def _build(
    config: Config, now: datetime | None,
    decoder_workers: trio_parallel.WorkerContext | None,
) -> tuple[CallServices, ListenerFactory, LlmEngine | None]:  # fmt: skip
    # With a calendar, each booking's calendar write goes into the outbox in its transaction.
    topics: tuple[str, ...] = (CALENDAR_TOPIC,) if config.calendar.kind == "caldav" else ()
    topics += (SMS_TOPIC,) if sms_configured(config) else ()  # the caller's confirmation text
    store = AppointmentStore(config, now=_clock(config, now), outbox_topics=topics)
    store.open()
    if unknown := store.unknown_practitioners():
        hint = "not in [[practitioners]]: rebook them, or name them as before"
        log.warning("store.unknown_practitioners", appointments=unknown, hint=hint)
    offline_voice = EspeakEngine(config.tts.voice, config.tts.words_per_minute)
    listeners = ListenerFactory(config, decoder_workers)
    services = CallServices(
        config=config,
        speech=build_speech_engine(config, offline_voice),
        new_listener_engines=listeners.new_engines,
        store=store,
        now=_clock(config, now),
        stream_tokens=StreamTokens.from_configured(config.secrets.stream_secret),
    )
    llm = build_llm(config) if config.engines.dialogue == "openai" else None
    spoken_time.warm_up(services.now())
    return services, listeners, llm


class ListenerFactory:
    """What each call's Listener engines are made from, loaded once per process (blocking):
    the VAD model, Deepgram's settings, and the offline recogniser's model (with Deepgram,
    for the calls whose Deepgram gives up: ``FallbackRecognizer``).

    Raises:
        ConfigError: Deepgram is chosen without its API key, or a bad ``[deepgram]`` value.
    """

    def __init__(
        self, config: Config,
        decoder_workers: trio_parallel.WorkerContext | None,
    ) -> None:  # fmt: skip
        self._config = config
        self._vad_model = load_vad(config.vad)
        self._deepgram = build_deepgram_settings(config)
        self._sphinx = SphinxModel(config.services)  # about 0.1 s
        self._decoder_workers = decoder_workers
        self.vad_batcher: SileroBatcher | None = None
        """Set by ``open_services`` once its task runs; without it each call infers alone."""
        # Deepgram recognises across pauses, so the local VAD only has to notice one: then
        # Finalize goes out and the model starts on the words so far. The offline recogniser
        # decodes each utterance alone, so it waits for a longer silence.
        self._end_silence_ms = None if self._deepgram is None else config.deepgram.finalize_after_ms
        # Pauses start the model on the words so far; only Deepgram's interims give those.
        preempt = self._deepgram is not None and config.turn_taking.preemptive_generation
        self._pause_ms = config.turn_taking.preemptive_after_ms if preempt else None

    async def new_engines(self) -> ListenerEngines:
        """One call's: its own VAD stream, segmenter and recogniser."""
        segmenter = new_segmenter(
            self._config.vad, end_silence_ms=self._end_silence_ms, pause_ms=self._pause_ms
        )
        recognizer = await self._new_recognizer(segmenter)
        return ListenerEngines(self._vad_model.new_stream(self.vad_batcher), segmenter, recognizer)

    def new_vad_batcher(self) -> SileroBatcher | None:
        """A batcher for the Silero model (None for webrtcvad), for ``open_services`` to run."""
        model, collect_s = self._vad_model, self._config.vad.batch_collect_ms / 1000
        return SileroBatcher(model, collect_s=collect_s) if isinstance(model, SileroModel) else None

    async def warm_decoders(self) -> None:
        """Each worker builds its decoder now, not during the first calls (about a second)."""
        silence = bytes(WARM_UP_BYTES)

        async def warm() -> None:
            decoder = await self._new_decoder()
            await decoder.recognize(silence, Expectation.OPEN)

        async with trio.open_nursery() as nursery:
            for _ in range(decoder_worker_count()):
                nursery.start_soon(warm)

    async def _new_recognizer(self, segmenter: SpeechSegmenter) -> Recognizer:
        if self._deepgram is None:
            return await self._new_offline_recognizer(segmenter)
        # What Deepgram may not have answered: an utterance, and the reconnects' backlog.
        replay_s = self._config.vad.max_utterance_s + self._config.deepgram.resend_buffer_s
        return FallbackRecognizer(
            DeepgramRecognizer(self._deepgram),
            partial(self._new_offline_recognizer, segmenter),
            replay_frames=round(replay_s * 1000 / FRAME_MS),
        )

    async def _new_offline_recognizer(self, segmenter: SpeechSegmenter) -> UtteranceRecognizer:
        vad = self._config.vad
        assembler = UtteranceAssembler(
            segmenter, preroll_ms=vad.preroll_ms, max_utterance_s=vad.max_utterance_s
        )
        return UtteranceRecognizer(await self._new_decoder(), assembler)

    async def _new_decoder(self) -> Decoder:
        if self._decoder_workers is not None:
            return WorkerDecoding(self._decoder_workers, self._sphinx.spec)
        return ThreadDecoding(await trio.to_thread.run_sync(self._sphinx.new_recognizer))


@asynccontextmanager
async def open_services(
    config: Config, *, now: datetime | None = None
) -> AsyncIterator[CallServices]:
    """``build_services``, plus what every call shares that lives in trio: the LLM client,
    the offline recogniser's worker processes, the VAD's batcher, the cloud voice's spare
    connections, the clinic calendar's busy times and pusher (``[calendar]``), and the
    webhook's and the confirmation texts' workers (``[notify]``). All closed on exit.

    A calendar that is down or refuses the credentials does not stop the start: it is
    logged, and bookings are taken in the store and written to it once it accepts them.

    Raises:
        ConfigError: a chosen cloud engine's API key, or the calendar's secret, is missing.
    """
    async with AsyncExitStack() as stack:
        workers = None
        if config.engines.stt == "offline":
            workers = await stack.enter_async_context(open_decoder_workers())
        services, listeners, llm = await trio.to_thread.run_sync(
            lambda: _build(config, now, workers)
        )
        busy = await stack.enter_async_context(
            open_calendar(
                config.calendar, services.store, config.clinic.tz,
                days_ahead=config.scheduler.horizon_days, now=services.now,
                secrets=config.secrets.calendar,
            )
        )  # fmt: skip
        services = replace(services, busy=busy)
        if workers is not None:
            await listeners.warm_decoders()
        nursery = await stack.enter_async_context(trio.open_nursery())
        stack.callback(nursery.cancel_scope.cancel)  # runs first: its tasks never end
        batcher = listeners.new_vad_batcher()
        if batcher is not None:
            await nursery.start(batcher.run)
            listeners.vad_batcher = batcher
        await nursery.start(keep_speech_engine_warm, services.speech)
        if webhook_enabled(config):
            await nursery.start(serve_webhook, services.store, config)
        if sms_enabled(config):
            await nursery.start(serve_sms, services.store, config)
        try:
            if llm is None:
                yield services
            else:
                async with llm.open_client() as client:
                    yield replace(services, llm=client)
        finally:
            with trio.move_on_after(CLOSE_TIMEOUT_S, shield=True):
                await close_speech_engine(services.speech)
                # PostgreSQL's pool ends its connections rather than leaving them to time out.
                await trio.to_thread.run_sync(services.store.close)


def _clock(config: Config, now: datetime | None) -> Callable[[], datetime]:
    tz = config.clinic.tz
    if now is None:
        return lambda: datetime.now(tz)
    pinned = now if now.tzinfo is not None else now.replace(tzinfo=tz)
    return lambda: pinned
