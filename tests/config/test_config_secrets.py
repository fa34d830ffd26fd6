"""API keys come from the environment only, through the Config: a chosen cloud engine needs its
key, every missing key is named at once, and keys never reach a repr."""

from __future__ import annotations

import dataclasses
from typing import Any

import pydantic
import pytest

from receptionist.config import ENGINE_CHOICES, Config, Secrets, load_config, parse_config
from receptionist.engines.deepgram import build_deepgram_settings
from receptionist.errors import ConfigError
from receptionist.llm import build_llm
from tests.helpers.config import CONFIG_TOML, changed, problems

KEYS = {
    "DEEPGRAM_API_KEY": "dg-key",
    "OPENAI_API_KEY": "sk-key",
    "ELEVENLABS_API_KEY": "el-key",
    "TWILIO_AUTH_TOKEN": "tw-token",
    "RECEPTIONIST_STREAM_SECRET": "stream-secret",
}


def cloud(**engines: str) -> dict[str, Any]:
    return changed(engines=engines)


@pytest.mark.parametrize(
    ("engines", "expected"),
    [
        ({"stt": "deepgram"}, "engines.stt: 'deepgram' needs the DEEPGRAM_API_KEY environment"),
        ({"dialogue": "openai"}, "llm.api_key_env: 'openai' (engines.dialogue) needs the "
                                 "environment variable OPENAI_API_KEY"),
        ({"tts": "elevenlabs"}, "engines.tts: 'elevenlabs' needs the ELEVENLABS_API_KEY"),
    ],
)  # fmt: skip
def test_a_cloud_engine_without_its_key_is_an_error_at_load(
    engines: dict[str, str], expected: str
) -> None:
    (line,) = problems(cloud(**engines), environ={"UNRELATED": "x"})
    assert line.startswith(expected), line
    with pytest.raises(ConfigError, match=next(iter(engines))):
        load_config(CONFIG_TOML, [f"engines.{k}={v}" for k, v in engines.items()], environ={})


def test_every_missing_key_is_named_at_once() -> None:
    lines = problems(cloud(stt="deepgram", dialogue="openai", tts="elevenlabs"))
    assert [line.split(":")[0] for line in lines] == [
        "engines.stt",
        "llm.api_key_env",
        "engines.tts",
    ]


def test_the_keys_are_read_into_the_config_and_kept_out_of_its_repr() -> None:
    raw = cloud(stt="deepgram", dialogue="openai", tts="elevenlabs")
    config = parse_config(raw, environ={**KEYS, "DEEPGRAM_API_KEY": "  dg-key\n"})
    assert config.secrets == Secrets(
        deepgram_api_key="dg-key",
        llm_api_key="sk-key",
        elevenlabs_api_key="el-key",
        twilio_auth_token="tw-token",
        stream_secret="stream-secret",
    )
    settings = build_deepgram_settings(config)
    assert settings is not None
    assert settings.api_key == "dg-key"
    assert build_llm(config).api_key == "sk-key"
    for text in (repr(config), repr(config.secrets), str(config)):
        assert not any(value in text for value in KEYS.values())


def test_the_llm_key_is_the_variable_api_key_env_names() -> None:
    raw = changed(engines={"dialogue": "openai"}, llm={"api_key_env": "GROQ_API_KEY"})
    assert "GROQ_API_KEY" in problems(raw, environ={"OPENAI_API_KEY": "sk-key"})[0]
    assert parse_config(raw, environ={"GROQ_API_KEY": "gsk"}).secrets.llm_api_key == "gsk"
    local = changed(engines={"dialogue": "openai"}, llm={"api_key_env": ""})
    assert build_llm(parse_config(local)).api_key is None


def test_keys_never_come_from_the_file() -> None:
    assert problems(changed(secrets={"deepgram_api_key": "x"})) == [
        "secrets: keys are read from the environment only, never from a file"
    ]
    assert problems(changed(deepgram={"api_key": "x"})) == ["deepgram.api_key: unknown key"]


def test_a_config_built_in_code_still_needs_the_key() -> None:
    config = load_config(CONFIG_TOML, environ={})
    engines = dataclasses.replace(config.engines, tts="elevenlabs")
    with pytest.raises(pydantic.ValidationError, match="ELEVENLABS_API_KEY"):
        dataclasses.replace(config, engines=engines)
    keyed = dataclasses.replace(
        config, engines=engines, secrets=Secrets(elevenlabs_api_key="el-key")
    )
    assert keyed.engines.tts == "elevenlabs"


def test_engine_choices_are_the_configs_own() -> None:
    assert ENGINE_CHOICES == {
        "stt": ("offline", "deepgram"),
        "dialogue": ("offline", "openai"),
        "tts": ("offline", "elevenlabs"),
    }
    assert isinstance(load_config(CONFIG_TOML, environ={}), Config)


def test_a_calendar_without_its_secret_names_the_key_at_load() -> None:
    calendar = {"kind": "caldav", "url": "https://cal.example.com/dav/clinic/", "user": "clinic"}
    assert problems(changed(calendar=calendar)) == [
        "calendar.secret_env: the calendar's password must be in the environment variable"
        " CALENDAR_SECRET"
    ]
    google = {**calendar, "auth": "bearer", "oauth_token_url": "https://oauth.example/token",
              "oauth_client_id": "client"}  # fmt: skip
    assert [line.split(":")[0] for line in problems(changed(calendar=google))] == [
        "calendar.oauth_client_secret_env", "calendar.oauth_refresh_token_env"
    ]  # fmt: skip
    with_secret = changed(calendar=calendar)
    assert parse_config(with_secret, environ={"CALENDAR_SECRET": "pw"}).secrets.calendar == {
        "CALENDAR_SECRET": "pw"
    }


def test_a_database_password_is_refused_in_the_url_at_load() -> None:
    for url in ("postgresql://clinic:pw@db.example/clinic",
                "postgresql://clinic@db.example/clinic?password=pw"):  # fmt: skip
        (line,) = problems(changed(scheduler={"database": url}))
        assert line.startswith("scheduler.database: put the password in ")
    (line,) = problems(changed(scheduler={"database": "postgresql://clinic@[db/clinic"}))
    assert line.startswith("scheduler.database: not a PostgreSQL URL")
    url = "postgresql://clinic@db.example/clinic?sslmode=require"
    assert parse_config(changed(scheduler={"database": url})).scheduler.database == url
