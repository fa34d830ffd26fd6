"""What every call shares, built once per process: engines, clients, store, secrets."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import replace
from datetime import datetime
from typing import Any

import trio
import trio_parallel

from receptionist.call import CallOutcomes, CallServices
from receptionist.config import Config
from receptionist.engines.decoding import (
    ThreadDecoding,
    WorkerDecoding,
    decoder_worker_count,
    open_decoder_workers,
)
from receptionist.engines.deepgram import build_deepgram_settings
from receptionist.engines.elevenlabs import build_speech_engine, close_speech_engine
from receptionist.engines.espeak import EspeakEngine
from receptionist.engines.sphinx import SphinxModel
from receptionist.engines.vad import load_vad, new_segmenter
from receptionist.llm import build_llm
from receptionist.messages import Expectation
from receptionist.scheduling.store import AppointmentStore
from receptionist.server import new_stream_secret
from stages.listener import Recognizer

CLOSE_TIMEOUT_S = 2.0
WARM_UP_BYTES = 3200
"""A tenth of a second of 8 kHz 16-bit silence."""


def build_services(
    config: Config, *, now: datetime | None = None,
    decoder_workers: trio_parallel.WorkerContext | None = None,
) -> CallServices:  # fmt: skip
    """Load the offline engines, set up the cloud ones, open the store. Blocking.

    Cloud clients and the recogniser's worker processes are opened by ``open_services``,
    inside trio; this alone serves the offline engines, decoding in a thread per call.

    Args:
        now: pin the clinic's clock (replays, tests); by default the real time.
        decoder_workers: decode in these processes (``open_decoder_workers``).
    """
    store = AppointmentStore(config, now=_clock(config, now))
    store.open()
    offline_voice = EspeakEngine(config.tts.voice, config.tts.words_per_minute)
    vad_model = load_vad(config.vad)
    deepgram = build_deepgram_settings(config)
    sphinx = SphinxModel(config.services) if deepgram is None else None
    # Deepgram recognises across pauses, so the local VAD only has to notice one: then
    # Finalize goes out and the model starts on the words so far. The offline recogniser
    # decodes each utterance alone, so it waits for a longer silence.
    end_silence_ms = None if deepgram is None else config.deepgram.finalize_after_ms
    # Pauses start the model on the words so far; only Deepgram's interims give those.
    preempt = deepgram is not None and config.turn_taking.preemptive_generation
    pause_ms = config.turn_taking.preemptive_after_ms if preempt else None

    async def new_listener_engines() -> dict[str, Any]:
        segmenter = new_segmenter(config.vad, end_silence_ms=end_silence_ms, pause_ms=pause_ms)
        local = {"vad": vad_model.new_stream(), "segmenter": segmenter}
        if sphinx is None:
            return {**local, "deepgram": deepgram}
        if decoder_workers is not None:
            recognizer: Recognizer = WorkerDecoding(decoder_workers, sphinx.spec)
        else:
            recognizer = ThreadDecoding(await trio.to_thread.run_sync(sphinx.new_recognizer))
        return {
            **local,
            "recognizer": recognizer,
            "preroll_ms": config.vad.preroll_ms,
            "max_utterance_s": config.vad.max_utterance_s,
        }

    return CallServices(
        config=config,
        speech=build_speech_engine(config, offline_voice),
        new_listener_engines=new_listener_engines,
        store=store,
        now=_clock(config, now),
        stream_secret=new_stream_secret(config.secrets.stream_secret),
        outcomes=CallOutcomes(),
        llm=build_llm(config) if config.engines.dialogue == "openai" else None,
    )


@asynccontextmanager
async def open_services(
    config: Config, *, now: datetime | None = None
) -> AsyncIterator[CallServices]:
    """``build_services``, plus what every call shares that lives in trio: the cloud
    clients, and the offline recogniser's worker processes. All closed on exit."""
    async with AsyncExitStack() as stack:
        workers = None
        if config.engines.stt == "offline":
            workers = await stack.enter_async_context(open_decoder_workers())
        services = await trio.to_thread.run_sync(
            lambda: build_services(config, now=now, decoder_workers=workers)
        )
        if workers is not None:
            await _warm_decoders(services)
        try:
            if services.llm is None:
                yield services
            else:
                async with services.llm.open_client() as client:
                    yield replace(services, llm=client)
        finally:
            with trio.move_on_after(CLOSE_TIMEOUT_S, shield=True):
                await close_speech_engine(services.speech)


async def _warm_decoders(services: CallServices) -> None:
    """Each worker builds its decoder now, not during the first calls (about a second)."""
    silence = bytes(WARM_UP_BYTES)

    async def warm() -> None:
        engines = await services.new_listener_engines()
        await engines["recognizer"].recognize(silence, Expectation.OPEN)

    async with trio.open_nursery() as nursery:
        for _ in range(decoder_worker_count()):
            nursery.start_soon(warm)


def _clock(config: Config, now: datetime | None) -> Any:
    tz = config.clinic.tz
    if now is None:
        return lambda: datetime.now(tz)
    pinned = now if now.tzinfo is not None else now.replace(tzinfo=tz)
    return lambda: pinned
