"""Shared by the speech-engine tests: the fake ElevenLabs served on 127.0.0.1 behind our
engine, a scripted offline fallback (espeak runs on a thread, off the autojump clock), and
what an engine says for a sentence."""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any

import structlog
import trio

from receptionist.devtools.fakes.elevenlabs import FakeElevenLabs
from receptionist.engines.elevenlabs import ElevenLabsEngine
from receptionist.engines.fallback import FallbackSpeechEngine

KEY = "sk-test-0123456789abcdef"
VOICE, MODEL = "JBFqnCBsd6RMkjVDRZzb", "eleven_flash_v2_5"
TEXT = "Your appointment is on Tuesday at three."
FALLBACK_CHUNK = b"\x7e" * 160


async def speak(engine: Any, text: str = TEXT, into: list[bytes] | None = None) -> list[bytes]:
    """Everything ``engine`` says for ``text``, also appended to ``into`` as it comes."""
    received = into if into is not None else []
    async for chunk in engine.stream_ulaw(text):
        received.append(chunk)
    return received


class ScriptedFallback:
    """Stands in for espeak (which runs on a thread, so not on the autojump clock)."""

    def __init__(self) -> None:
        self.spoken: list[str] = []

    async def stream_ulaw(self, text: str) -> AsyncGenerator[bytes, None]:
        self.spoken.append(text)
        for _ in range(3):
            await trio.sleep(0.01)
            yield FALLBACK_CHUNK


@asynccontextmanager
async def serving(fake: FakeElevenLabs, *, key: str = KEY) -> AsyncIterator[ElevenLabsEngine]:
    async with trio.open_nursery() as nursery:
        base_url = await nursery.start(fake.serve)
        async with ElevenLabsEngine(
            api_key=key, voice_id=VOICE, model_id=MODEL, base_url=base_url
        ) as engine:
            yield engine
        nursery.cancel_scope.cancel()


def with_fallback(primary: Any, fallback: ScriptedFallback) -> FallbackSpeechEngine:
    return FallbackSpeechEngine(
        primary,
        fallback,
        first_audio_timeout_s=1.0,
        stall_timeout_s=2.0,
        log=structlog.get_logger(),
    )


def fallbacks(logs: Sequence[Mapping[str, Any]]) -> list[str]:
    return [entry["reason"] for entry in logs if entry["event"] == "tts.fallback"]
