"""``[notify]``: the webhook's URL (https, or plain HTTP only to 127.0.0.1), its secret from
the environment, and what start-up says when half of it is set."""

from __future__ import annotations

import tomllib
from typing import Any

import pytest
from structlog.testing import capture_logs

from receptionist.config import parse_config
from receptionist.errors import ConfigError
from receptionist.staff.sms import sms_enabled
from receptionist.staff.webhook import webhook_configured, webhook_enabled
from tests.helpers.paths import PROJECT_ROOT

RAW = tomllib.loads((PROJECT_ROOT / "config.toml").read_text(encoding="utf-8"))


def notify(**keys: Any) -> dict[str, Any]:
    return {**RAW, "notify": {**RAW["notify"], **keys}}


def test_the_webhook_is_off_and_texts_on_by_default() -> None:
    config = parse_config(RAW)
    assert config.notify.webhook_url == ""
    assert config.notify.sms_confirmations
    assert not webhook_configured(config)


@pytest.mark.parametrize(
    "url", ["https://clinic.example/hooks", "http://127.0.0.1:8080/hook", "http://127.0.0.1/h"]
)
def test_an_https_or_local_url_is_taken(url: str) -> None:
    assert parse_config(notify(webhook_url=url)).notify.webhook_url == url


@pytest.mark.parametrize(
    "url", ["http://clinic.example/hooks", "http://127.0.0.1.evil.example/", "https://", "ftp://x"]
)
def test_plain_http_elsewhere_or_junk_is_refused(url: str) -> None:
    with pytest.raises(ConfigError, match=r"notify\.webhook_url: .*https://"):
        parse_config(notify(webhook_url=url))


def test_the_secret_comes_from_the_environment_and_stays_out_of_reprs() -> None:
    environ = {"RECEPTIONIST_WEBHOOK_SECRET": " whsec_1\n"}
    config = parse_config(notify(webhook_url="https://clinic.example/h"), environ=environ)
    assert config.secrets.webhook_secret == "whsec_1"
    assert "whsec_1" not in repr(config)
    assert webhook_enabled(config)


def test_a_url_without_its_secret_turns_the_webhook_off_with_a_warning() -> None:
    config = parse_config(notify(webhook_url="https://clinic.example/h"))
    with capture_logs() as logs:
        assert not webhook_enabled(config)
    (warning,) = logs
    assert (warning["event"], warning["log_level"]) == ("notify.webhook_off", "warning")
    assert "RECEPTIONIST_WEBHOOK_SECRET" in warning["hint"]


def test_texts_need_the_clinic_number_and_twilio_credentials() -> None:
    with capture_logs() as logs:
        assert not sms_enabled(parse_config(RAW))
    assert "[twilio] phone_number" in logs[0]["reason"]
    environ = {"TWILIO_ACCOUNT_SID": "AC1", "TWILIO_AUTH_TOKEN": "tok"}
    raw = {**RAW, "twilio": {**RAW["twilio"], "phone_number": "+15550001000"}}
    assert sms_enabled(parse_config(raw, environ=environ))
    assert not sms_enabled(
        parse_config({**raw, **notify(sms_confirmations=False)}, environ=environ)
    )
