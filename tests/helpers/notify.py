"""Configs for the staff notifications' tests: texts through the fake Twilio REST API."""

from __future__ import annotations

from dataclasses import replace

from receptionist.config import Config
from receptionist.devtools.fakes.twilio_rest import FakeTwilioRest

CLINIC_NUMBER = "+15550001000"


def twilio_config(config: Config, fake: FakeTwilioRest, *, texts: bool = True) -> Config:
    """``config`` texting through ``fake``, with tens-of-milliseconds retries."""
    notify = replace(
        config.notify, sms_confirmations=texts, retry_initial_s=0.05, poll_s=0.02, timeout_s=2.0
    )
    twilio = replace(config.twilio, api_base_url=fake.base_url, phone_number=CLINIC_NUMBER)
    secrets = replace(
        config.secrets, twilio_account_sid=fake.account_sid, twilio_auth_token=fake.auth_token
    )
    return replace(config, notify=notify, twilio=twilio, secrets=secrets)
