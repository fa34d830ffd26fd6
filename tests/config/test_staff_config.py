"""The keys for staff in the loop: ``[twilio]``'s REST API and number, and the account SID."""

from __future__ import annotations

import tomllib
from typing import Any

import pytest

from receptionist.config import parse_config
from receptionist.errors import ConfigError
from tests.helpers.paths import PROJECT_ROOT

RAW = tomllib.loads((PROJECT_ROOT / "config.toml").read_text(encoding="utf-8"))


def with_table(name: str, **keys: Any) -> dict[str, Any]:
    return {**RAW, name: {**RAW.get(name, {}), **keys}}


def test_twilio_rest_defaults_to_twilios_api_and_no_number() -> None:
    config = parse_config(RAW)
    assert config.twilio.api_base_url == "https://api.twilio.com"
    assert config.twilio.phone_number == ""


def test_the_clinic_number_must_be_e164() -> None:
    assert parse_config(with_table("twilio", phone_number="+15550001000")).twilio.phone_number
    with pytest.raises(ConfigError, match=r"twilio\.phone_number: .*E\.164"):
        parse_config(with_table("twilio", phone_number="555-0100"))
    with pytest.raises(ConfigError, match=r"twilio\.api_base_url: must start with"):
        parse_config(with_table("twilio", api_base_url="api.twilio.com"))


def test_the_account_sid_comes_from_the_environment() -> None:
    environ = {"TWILIO_ACCOUNT_SID": " AC123\n", "TWILIO_AUTH_TOKEN": "tok"}
    config = parse_config(RAW, environ=environ)
    assert (config.secrets.twilio_account_sid, config.secrets.twilio_auth_token) == ("AC123", "tok")
    assert "AC123" not in repr(config)


def test_transfers_are_warm_with_a_twenty_second_ring_by_default() -> None:
    clinic = parse_config(RAW).clinic
    assert (clinic.transfer_mode, clinic.transfer_timeout_s, clinic.hold_music_url) == (
        "warm",
        20,
        "",
    )


def test_transfer_keys_are_checked() -> None:
    with pytest.raises(ConfigError) as raised:
        parse_config(with_table(
            "clinic", transfer_mode="lukewarm", transfer_timeout_s=1, hold_music_url="music.mp3"
        ))  # fmt: skip
    lines = str(raised.value).splitlines()
    assert [line.split(":")[0] for line in lines] == [
        "clinic.transfer_mode",
        "clinic.transfer_timeout_s",
        "clinic.hold_music_url",
    ]
