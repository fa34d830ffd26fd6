"""config.toml into a Config: every mistake is a ConfigError naming its key, one line each
(values, unknown keys, wrong types, --set overrides)."""

from __future__ import annotations

import dataclasses
from datetime import time
from pathlib import Path
from typing import Any

import pydantic
import pytest

from receptionist.config import OpeningHours, Secrets, load_config, parse_config
from receptionist.errors import ConfigError
from tests.helpers.config import CONFIG_TOML, changed, problems


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
