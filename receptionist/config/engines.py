"""The engines' sections: which engine runs each stage, and each engine's settings.

API keys are never here: they come from the environment (``environment.py``).
"""

from __future__ import annotations

import re
from typing import Annotated, Literal, get_args

from pydantic import AfterValidator, Field, model_validator
from pydantic.dataclasses import dataclass

from receptionist.config.values import (
    SECTION,
    Bool,
    Count,
    Float,
    Int,
    Invalid,
    NonBlank,
    PositiveFloat,
    PositiveInt,
    Probability,
    Text,
    url,
)
from receptionist.messages import FRAME_MS

SttEngine = Literal["offline", "deepgram"]
DialogueEngine = Literal["offline", "openai"]
TtsEngine = Literal["offline", "elevenlabs"]
ENGINE_CHOICES: dict[str, tuple[str, ...]] = {
    "stt": get_args(SttEngine),
    "dialogue": get_args(DialogueEngine),
    "tts": get_args(TtsEngine),
}
"""Each stage's engines, offline first (the command line's --stt, --dialogue, --tts)."""
DEEPGRAM_NO_AUDIO_TIMEOUT_S = 10.0
"""Deepgram closes a stream after this long without audio or a text message (NET-0001)."""


@dataclass(frozen=True, slots=True, config=SECTION)
class EnginesConfig:
    stt: SttEngine = "offline"
    dialogue: DialogueEngine = "offline"
    tts: TtsEngine = "offline"


@dataclass(frozen=True, slots=True, config=SECTION)
class DeepgramConfig:
    """Deepgram's live speech-to-text, used when ``engines.stt = "deepgram"``."""

    base_url: Annotated[Text, AfterValidator(url("wss", "ws"))] = "wss://api.deepgram.com"
    model: NonBlank = "nova-3"
    endpointing_ms: Count = 300
    utterance_end_ms: Count = 1000
    smart_format: Bool = True
    interim_results: Bool = True
    keepalive_s: Annotated[Float, Field(gt=0, lt=DEEPGRAM_NO_AUDIO_TIMEOUT_S)] = 5.0
    reconnect_attempts: Count = 5
    resend_buffer_s: PositiveFloat = 5.0
    finalize_after_ms: Annotated[Int, Field(ge=FRAME_MS)] = 200
    """At least a frame."""
    chunk_ms: Annotated[Int, Field(ge=FRAME_MS, le=100, multiple_of=FRAME_MS)] = 100
    """Audio per message: Deepgram takes 20-100 ms; the VAD's start, pause or stop sends what
    is held at once."""

    @model_validator(mode="after")
    def _utterance_end_needs_interims(self) -> DeepgramConfig:
        if self.utterance_end_ms and not self.interim_results:
            raise Invalid(("utterance_end_ms", "needs deepgram.interim_results = true"))
        return self


@dataclass(frozen=True, slots=True, config=SECTION)
class VadConfig:
    engine: Literal["silero", "webrtc"] = "silero"
    threshold: Probability = 0.5
    webrtc_mode: Annotated[Int, Field(ge=0, le=3)] = 3
    min_speech_ms: Count = 100
    end_silence_ms: Count = 700
    """Both at least a frame in effect (0 counts as one)."""
    preroll_ms: Count = 300
    max_utterance_s: PositiveFloat = 30.0
    batch_collect_ms: Annotated[Int, Field(ge=0, le=20)] = 10
    """Bounded: every VAD decision (barge-in too) waits up to this long."""
    quiet_floor_dbfs: Annotated[Float, Field(le=-30)] = -55.0
    """``-inf``: never skip. At most -30: speech on a phone line is louder than that."""
    quiet_hang_ms: Count = 500


@dataclass(frozen=True, slots=True, config=SECTION)
class TtsConfig:
    """The offline voice (espeak-ng); also the fallback when ElevenLabs is slow."""

    voice: NonBlank = "en-us"
    words_per_minute: PositiveInt = 165
    """espeak-ng speaks no slower than 80."""


@dataclass(frozen=True, slots=True, config=SECTION)
class ElevenLabsConfig:
    """The ElevenLabs streaming TTS, used when ``engines.tts = "elevenlabs"``."""

    base_url: Annotated[Text, AfterValidator(url("https", "http"))] = "https://api.elevenlabs.io"
    voice_id: NonBlank = "JBFqnCBsd6RMkjVDRZzb"
    model_id: NonBlank = "eleven_flash_v2_5"
    first_audio_timeout_s: PositiveFloat = 1.0
    stall_timeout_s: PositiveFloat = 2.0


def _variable_name(name: str) -> str:
    if name and not (name.isascii() and name.isidentifier()):
        raise ValueError(f"must be an environment variable's name (or empty), got {name!r}")
    return name


MAX_HOLDING_LINE_CHARS = 60
"""A holding line is heard before every such tool call: a few words, not a speech."""
PROMISES = re.compile(r"\b(booked|cancell?ed|done|confirmed|saved|passed on|moved)\b", re.I)
"""Words that tell an outcome: said before the tool has run, a holding line promises none."""


def _holding_line(line: str) -> str:
    if not line:
        return line  # none
    if not any(character.isalpha() for character in line):
        raise ValueError(f'must be words, or "" for none, got {line!r}')
    if len(line) > MAX_HOLDING_LINE_CHARS:
        raise ValueError(f"must be at most {MAX_HOLDING_LINE_CHARS} characters, got {len(line)}")
    if promise := PROMISES.search(line):
        raise ValueError(
            f"must promise nothing (it is said before the tool has run), got {promise[0]!r}"
        )
    return line


@dataclass(frozen=True, slots=True, config=SECTION)
class LlmConfig:
    """The OpenAI-compatible chat model, used when ``engines.dialogue = "openai"``. Its API
    key is read from the environment variable named by ``api_key_env`` ("" for a local
    server that needs none)."""

    base_url: Annotated[Text, AfterValidator(url("https", "http"))] = "https://api.openai.com/v1"
    model: NonBlank = "gpt-4o-mini"
    temperature: Annotated[Float, Field(ge=0, le=2)] = 0.3
    max_tokens: PositiveInt = 300
    api_key_env: Annotated[Text, AfterValidator(_variable_name)] = "OPENAI_API_KEY"
    first_token_timeout_s: PositiveFloat = 4.0
    stall_timeout_s: PositiveFloat = 4.0
    max_tool_rounds: Count = 4
    history_max_tokens: PositiveInt = 4000
    """The call's history sent with each request stays under this (estimated) many tokens:
    the oldest turns are left out, the system prompt and the booking state kept."""
    holding_line_checking: Annotated[Text, AfterValidator(_holding_line)] = "Let me check."
    """Said at once when the model answers with only a read-only tool call (availability),
    while it runs and the model writes the answer; "" says nothing."""
    holding_line_changing: Annotated[Text, AfterValidator(_holding_line)] = "One moment, please."
    """The same for a tool that changes something (book, cancel, take a message)."""
