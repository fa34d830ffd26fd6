"""For the Deepgram tests: config.toml set up for Deepgram, and the Listener with the
Deepgram recogniser run against the fake Deepgram."""

from __future__ import annotations

import tomllib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from functools import partial
from typing import Any

import trio

from receptionist.config import Config, TurnTakingConfig, VadConfig, parse_config
from receptionist.devtools.fakes.deepgram import FakeDeepgram
from receptionist.engines.deepgram import DeepgramSettings, build_deepgram_settings
from receptionist.engines.deepgram_stream import DeepgramRecognizer
from receptionist.engines.vad import FrameVad, new_segmenter
from receptionist.messages import Expectation, InboundAudio, ListenFor, Transcript
from stages.listener import ListenerEngines, run_listener
from tests.helpers.listening import FRAME_S, LoudVad
from tests.helpers.paths import PROJECT_ROOT

KEY = "dg-test-0123456789abcdef"
SETTLE_MS = TurnTakingConfig().settle_ms
SETTLE_MAX_MS = TurnTakingConfig().settle_max_ms


def raw_config() -> dict[str, Any]:
    """config.toml as parsed TOML, before validation."""
    return tomllib.loads((PROJECT_ROOT / "config.toml").read_text(encoding="utf-8"))


def deepgram_config(**deepgram: Any) -> Config:
    """config.toml with ``engines.stt = "deepgram"``, these ``[deepgram]`` settings, a key."""
    raw = {**raw_config(), "engines": {"stt": "deepgram"}, "deepgram": deepgram}
    return parse_config(raw, environ={"DEEPGRAM_API_KEY": KEY})


async def listen(
    fake: FakeDeepgram,
    audio: Sequence[bytes | float],
    *,
    vad: FrameVad | None = None,
    pace: float = FRAME_S,
    overrides: dict[str, Any] | None = None,
    **settings: Any,
) -> list[tuple[float, Any]]:
    """Run the Listener on ``audio`` (frames, one per ``pace``; a float is a pause)
    against ``fake``; returns every event it sent, with when it was received. ``settings``
    go in the [deepgram] config, ``overrides`` straight into DeepgramSettings."""
    received: list[tuple[float, Any]] = []
    async with trio.open_nursery() as nursery:
        url = await nursery.start(fake.serve)
        audio_send, audio_recv = trio.open_memory_channel[InboundAudio](50)
        hints_send, hints_recv = trio.open_memory_channel[ListenFor](4)
        events_send, events_recv = trio.open_memory_channel[Any](64)
        done = trio.Event()
        nursery.start_soon(collect, events_recv, received, done)
        deepgram = replace(deepgram_settings(url, **settings), **(overrides or {}))
        engines = deepgram_engines(deepgram, vad or LoudVad())
        await nursery.start(listener(audio_recv, hints_recv, events_send, engines))
        with audio_send, hints_send:
            await hints_send.send(ListenFor(Expectation.YES_NO))  # read and ignored
            for item in audio:
                if isinstance(item, float):
                    await trio.sleep(item)
                    continue
                await audio_send.send(InboundAudio(item, trio.current_time()))
                await trio.sleep(pace)
        await done.wait()
        nursery.cancel_scope.cancel()
    return received


def deepgram_engines(settings: DeepgramSettings, vad: FrameVad) -> ListenerEngines:
    return ListenerEngines(vad, new_segmenter(VadConfig()), DeepgramRecognizer(settings))


def deepgram_settings(url: str, **settings: Any) -> DeepgramSettings:
    built = build_deepgram_settings(deepgram_config(base_url=url, **settings))
    assert built is not None
    return built


async def collect(
    events: trio.MemoryReceiveChannel[Any], into: list[tuple[float, Any]], done: trio.Event
) -> None:
    async for event in events:
        into.append((trio.current_time(), event))
    done.set()


def finals(received: list[tuple[float, Any]]) -> list[Transcript]:
    """The final transcripts with words (not a Finalize's empty answer: ``empty_finals``)."""
    return [e for _, e in received if isinstance(e, Transcript) and e.is_final and e.text]


def empty_finals(received: list[tuple[float, Any]]) -> list[Transcript]:
    """Finals that said the caller's latest speech brought no words."""
    return [e for _, e in received if isinstance(e, Transcript) and e.is_final and not e.text]


def listener(
    audio: trio.MemoryReceiveChannel[InboundAudio],
    hints: trio.MemoryReceiveChannel[ListenFor],
    events: trio.MemorySendChannel[Any],
    engines: ListenerEngines,
) -> Callable[..., Awaitable[None]]:
    """The Listener over these channel ends and engines, for ``nursery.start``."""
    return partial(
        run_listener, audio, hints, events,
        engines=engines, settle_ms=SETTLE_MS, settle_max_ms=SETTLE_MAX_MS,
    )  # fmt: skip
