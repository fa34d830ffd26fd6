"""config.toml into a Config: every mistake is a ConfigError naming its key, one line each;
API keys come from the environment only, and a chosen cloud engine needs its key."""

from __future__ import annotations

import copy
import dataclasses
import tomllib
from datetime import time
from pathlib import Path
from typing import Any

import pydantic
import pytest

from receptionist.config import (
    ENGINE_CHOICES,
    Config,
    OpeningHours,
    Secrets,
    load_config,
    parse_config,
)
from receptionist.engines.deepgram import build_deepgram_settings
from receptionist.errors import ConfigError
from receptionist.llm import build_llm
from tests.helpers.paths import PROJECT_ROOT

CONFIG_TOML = PROJECT_ROOT / "config.toml"
RAW = tomllib.loads(CONFIG_TOML.read_text(encoding="utf-8"))
KEYS = {
    "DEEPGRAM_API_KEY": "dg-key",
    "OPENAI_API_KEY": "sk-key",
    "ELEVENLABS_API_KEY": "el-key",
    "TWILIO_AUTH_TOKEN": "tw-token",
    "RECEPTIONIST_STREAM_SECRET": "stream-secret",
}


def changed(**tables: Any) -> dict[str, Any]:
    """config.toml with these tables' keys replaced (a non-table value replaces the table)."""
    raw = copy.deepcopy(RAW)
    for name, value in tables.items():
        raw[name] = {**raw.get(name, {}), **value} if isinstance(value, dict) else value
    return raw


def problems(raw: dict[str, Any], environ: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(ConfigError) as error:
        parse_config(raw, environ=environ or {})
    return str(error.value).splitlines()


# --- config.toml ----------------------------------------------------------------------------


def test_config_toml_loads_as_the_rest_of_the_code_reads_it() -> None:
    config = load_config(CONFIG_TOML, environ={})
    assert config.clinic.tz.key == "America/New_York"
    assert config.clinic.hours[0] == OpeningHours(time(9), time(17))
    assert config.escalation.failed_recognitions == 3
    assert "ridiculous" in config.escalation.angry_words
    assert config.clinic.hours[3] == OpeningHours(time(9), time(19))
    assert config.clinic.hours[5] is None
    assert config.clinic.hours[6] is None
    assert len(config.clinic.hours) == 7
    assert [s.name for s in config.services] == [
        "check-up", "consultation", "vaccination", "blood test",
    ]  # fmt: skip
    vaccination = config.service("vaccination")
    assert vaccination is not None
    assert vaccination.minutes == 15
    assert "flu shot" in vaccination.words
    assert config.service("massage") is None
    assert config.scheduler.database == "data/appointments.sqlite3"
    assert (config.engines.stt, config.engines.dialogue, config.engines.tts) == ("offline",) * 3
    assert config.secrets == Secrets()


def test_a_config_is_frozen_and_replace_checks_again() -> None:
    config = load_config(CONFIG_TOML, environ={})
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.scheduler.slot_minutes = 7  # type: ignore[misc]
    moved = dataclasses.replace(config.scheduler, slot_minutes=30)
    assert moved.slot_minutes == 30
    with pytest.raises(pydantic.ValidationError, match="must divide 60"):
        dataclasses.replace(config.scheduler, slot_minutes=7)


def test_a_missing_file_or_bad_toml_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "absent.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[server\nport = 1\n")
    with pytest.raises(ConfigError, match="is not valid TOML"):
        load_config(bad)


# --- Values that crashed or slipped through before ------------------------------------------


@pytest.mark.parametrize(
    ("tables", "expected"),
    [
        ({"scheduler": {"slot_minutes": 0}}, "scheduler.slot_minutes: must divide 60"),
        ({"scheduler": {"slot_minutes": 7}}, "scheduler.slot_minutes: must divide 60"),
        ({"services": [1]}, "services[0]: must be a table, got 1"),
        ({"dialogue": {"reprompt_after_s": -1.0}}, "dialogue.reprompt_after_s: must be greater"),
        ({"dialogue": {"max_reprompts": -1}}, "dialogue.max_reprompts: must be at least 0"),
        ({"vad": {"threshold": 7}}, "vad.threshold: must be at most 1, got 7"),
        ({"vad": {"webrtc_mode": 4}}, "vad.webrtc_mode: must be at most 3"),
        ({"buffers": {"sentences": 0}}, "buffers.sentences: must be greater than 0"),
        ({"deepgram": {"keepalive_s": 12.0}}, "deepgram.keepalive_s: must be less than 10"),
        ({"deepgram": {"base_url": "https://x"}}, "deepgram.base_url: must start with wss://"),
        ({"llm": {"base_url": "api.openai.com"}}, "llm.base_url: must start with https://"),
        ({"llm": {"max_tokens": 0}}, "llm.max_tokens: must be greater than 0"),
        ({"llm": {"api_key_env": "MY KEY"}}, "llm.api_key_env: must be an environment"),
        ({"elevenlabs": {"voice_id": " "}}, "elevenlabs.voice_id: must not be empty"),
        ({"server": {"public_url": "example.com"}}, "server.public_url: must start with"),
        ({"server": {"port": 70000}}, "server.port: must be at most 65535"),
        ({"logging": {"level": "loud"}}, "logging.level: must be debug, info"),
        ({"clinic": {"timezone": "Mars/Olympus"}}, "clinic.timezone: unknown timezone"),
        ({"engines": {"stt": "whisper"}}, "engines.stt: must be 'offline' or 'deepgram'"),
        ({"escalation": {"failed_recognitions": 0}}, "escalation.failed_recognitions: must be"),
        ({"escalation": {"angry_words": ["rude", " "]}}, "escalation.angry_words: an angry"),
        ({"escalation": {"repeated_noes": "2"}}, "escalation.repeated_noes: must be"),
    ],
)
def test_a_bad_value_names_its_key(tables: dict[str, Any], expected: str) -> None:
    (line,) = problems(changed(**tables))
    assert line.startswith(expected), line


def test_opening_hours_are_checked_day_by_day() -> None:
    hours = {"monday": "9-5", "tuesday": "17:00-09:00", "wednesday": 9, "funday": "09:00-17:00"}
    raw = changed()
    raw["clinic"]["hours"] = hours
    assert problems(raw) == [
        "clinic.hours.monday: must look like '09:00-17:00', got '9-5'",
        "clinic.hours.tuesday: closes at 09:00, before it opens",
        "clinic.hours.wednesday: must look like '09:00-17:00', got 9",
        "clinic.hours.funday: unknown key",
    ]
    raw["clinic"]["hours"] = {"monday": "", "saturday": ""}
    assert problems(raw) == ["clinic.hours: the clinic is never open"]


def test_services_must_exist_and_be_distinct() -> None:
    assert problems(changed(services=[])) == [
        "services: at least one [[services]] entry is needed to book appointments"
    ]
    raw = changed()
    del raw["services"]
    assert problems(raw) == ["services: required"]
    twice = [{"name": "check-up", "minutes": 30}, {"name": "check-up", "minutes": 20}]
    assert problems(changed(services=twice)) == [
        "services[1].name: 'check-up' is already services[0]"
    ]
    assert problems(changed(services=[{"name": "x", "minutes": -5}])) == [
        "services[0].minutes: must be greater than 0, got -5"
    ]


def test_keys_across_a_section_are_checked_together() -> None:
    raw = changed(deepgram={"utterance_end_ms": 1000, "interim_results": False})
    assert problems(raw) == ["deepgram.utterance_end_ms: needs deepgram.interim_results = true"]


def test_every_problem_is_reported_on_its_own_line() -> None:
    raw = changed(scheduler={"slot_minutes": 0}, vad={"threshold": 7}, dialogue={"typo": 1})
    assert problems(raw) == [
        "scheduler.slot_minutes: must divide 60 (5, 10, 15, 20, 30...), got 0",
        "vad.threshold: must be at most 1, got 7",
        "dialogue.typo: unknown key",
    ]


# --- Unknown keys and wrong types -----------------------------------------------------------


def test_unknown_keys_and_sections_are_errors() -> None:
    assert problems(changed(sever={"port": 1})) == ["sever: unknown key"]
    assert problems(changed(vad={"treshold": 0.5})) == ["vad.treshold: unknown key"]
    service = {"name": "x", "minutes": 10, "wrods": ["x"]}
    assert problems(changed(services=[service])) == ["services[0].wrods: unknown key"]


@pytest.mark.parametrize(
    ("tables", "expected"),
    [
        ({"server": {"port": "8080"}}, "server.port: must be an integer, got '8080'"),
        ({"server": {"port": 80.5}}, "server.port: must be an integer, got 80.5"),
        ({"buffers": {"hints": True}}, "buffers.hints: must be an integer, got True"),
        ({"deepgram": {"smart_format": 1}}, "deepgram.smart_format: must be true or false"),
        ({"elevenlabs": {"stall_timeout_s": "2s"}}, "elevenlabs.stall_timeout_s: must be a num"),
        ({"clinic": {"name": 5}}, "clinic.name: must be a string, got 5"),
        ({"scheduler": {"database": 3}}, "scheduler.database: must be a string"),
        ({"services": "check-up"}, "services: must be an array, got 'check-up'"),
        ({"tts": 165}, "tts: must be a table, got 165"),
    ],
)
def test_a_wrong_type_names_its_key(tables: dict[str, Any], expected: str) -> None:
    (line,) = problems(changed(**tables))
    assert line.startswith(expected), line


def test_a_whole_number_is_a_float() -> None:
    config = parse_config(changed(deepgram={"keepalive_s": 5}))
    assert config.deepgram.keepalive_s == 5.0


# --- --set overrides ------------------------------------------------------------------------


def test_overrides_replace_the_files_values() -> None:
    config = load_config(
        CONFIG_TOML,
        [
            "scheduler.slot_minutes=30",
            "turn_taking.preemptive_generation=false",
            "deepgram.base_url=ws://127.0.0.1:9000",  # a bare string
            'clinic.name="Hillside"',
            "dialogue.reprompt_after_s=5",
        ],
        environ={},
    )
    assert config.scheduler.slot_minutes == 30
    assert config.turn_taking.preemptive_generation is False
    assert config.deepgram.base_url == "ws://127.0.0.1:9000"
    assert config.clinic.name == "Hillside"
    assert config.dialogue.reprompt_after_s == 5.0


def test_bad_overrides_name_the_setting() -> None:
    with pytest.raises(ConfigError, match=r"expected section\.key=value"):
        load_config(CONFIG_TOML, ["slot_minutes=30"], environ={})
    with pytest.raises(ConfigError, match=r"\[services\] is not a table"):
        load_config(CONFIG_TOML, ["services.minutes=3"], environ={})
    with pytest.raises(ConfigError, match=r"^scheduler\.slot_minutes: must divide 60"):
        load_config(CONFIG_TOML, ["scheduler.slot_minutes=0"], environ={})
    with pytest.raises(ConfigError, match=r"^server\.prot: unknown key"):
        load_config(CONFIG_TOML, ["server.prot=1"], environ={})


# --- Secrets from the environment -----------------------------------------------------------


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
