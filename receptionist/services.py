"""What every call shares, built once per process: engines, store, secrets."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import trio

from receptionist.appointments import AppointmentStore
from receptionist.call import CallOutcomes, CallServices
from receptionist.config import Config
from receptionist.engines.espeak import EspeakEngine
from receptionist.engines.sphinx import SphinxModel
from receptionist.engines.vad import load_vad, new_segmenter
from receptionist.server import new_stream_secret


def build_services(config: Config, *, now: datetime | None = None) -> CallServices:
    """Load the offline engines and open the store. Blocking: call it before serving.

    Args:
        now: pin the clinic's clock (replays, tests); by default the real time.
    """
    tz = config.clinic.tz
    clock = (lambda: now) if now is not None else (lambda: datetime.now(tz))
    if now is not None and now.tzinfo is None:
        pinned = now.replace(tzinfo=tz)
        clock = lambda: pinned  # noqa: E731
    store = AppointmentStore(config, now=clock)
    store.open()
    speech = EspeakEngine(config.tts.voice, config.tts.words_per_minute)
    vad_model = load_vad(config.vad)
    sphinx = SphinxModel(config.services)

    async def new_listener_engines() -> dict[str, Any]:
        recognizer = await trio.to_thread.run_sync(sphinx.new_recognizer)
        return {
            "vad": vad_model.new_stream(),
            "segmenter": new_segmenter(config.vad),
            "recognizer": recognizer,
        }

    return CallServices(
        config=config,
        speech=speech,
        new_listener_engines=new_listener_engines,
        store=store,
        now=clock,
        stream_secret=new_stream_secret(),
        outcomes=CallOutcomes(),
    )
