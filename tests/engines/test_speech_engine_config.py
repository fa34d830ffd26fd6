"""Choosing the speech engine from config: offline keeps espeak, ElevenLabs needs its key
from the environment and is wrapped in the fallback, its section parsed and validated."""

from __future__ import annotations

import tomllib
from typing import Any

import pytest
import trio

from receptionist.config import Config, parse_config
from receptionist.engines.elevenlabs import (
    ElevenLabsEngine,
    build_speech_engine,
    close_speech_engine,
)
from receptionist.engines.fallback import FallbackSpeechEngine
from receptionist.errors import ConfigError
from tests.helpers.elevenlabs import KEY, MODEL, ScriptedFallback
from tests.helpers.paths import PROJECT_ROOT

DEADLINE_S = 10


def elevenlabs_config(environ: dict[str, str]) -> Config:
    raw = {**raw_project_config(), "engines": {"tts": "elevenlabs"}}
    return parse_config(raw, environ=environ)


def test_offline_config_keeps_the_offline_engine(project_config: Config) -> None:
    offline = ScriptedFallback()
    assert build_speech_engine(project_config, offline) is offline


def test_missing_key_names_the_variable() -> None:
    with pytest.raises(ConfigError, match="ELEVENLABS_API_KEY"):
        elevenlabs_config({})


async def test_key_from_environment_builds_the_fallback_engine() -> None:
    offline = ScriptedFallback()
    config = elevenlabs_config({"ELEVENLABS_API_KEY": KEY})
    with trio.fail_after(DEADLINE_S):
        engine = build_speech_engine(config, offline)
        assert isinstance(engine, FallbackSpeechEngine)
        assert isinstance(engine.primary, ElevenLabsEngine)
        assert engine.fallback is offline
        await close_speech_engine(engine)


def test_elevenlabs_section_is_parsed(project_config: Config) -> None:
    settings = project_config.elevenlabs
    assert settings.base_url == "https://api.elevenlabs.io"
    assert settings.model_id == MODEL
    assert settings.first_audio_timeout_s == 1.0
    with pytest.raises(ConfigError, match=r"elevenlabs\.first_audio_timeout_s"):
        parse_config({**raw_project_config(), "elevenlabs": {"first_audio_timeout_s": "1s"}})


def raw_project_config() -> dict[str, Any]:
    return tomllib.loads((PROJECT_ROOT / "config.toml").read_text())
