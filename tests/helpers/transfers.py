"""Warm transfers on 127.0.0.1: our server and the fake Twilio REST API configured for each
other, and Twilio's side of the webhooks (signed as Twilio signs them)."""

from __future__ import annotations

from dataclasses import replace
from xml.etree import ElementTree

import httpx

from receptionist.config import Config
from receptionist.devtools.fakes.twilio_rest import FakeTwilioRest
from receptionist.telephony.webhooks import twilio_signature

CLINIC_NUMBER = "+15550001000"
STAFF = "+15550002000"
CALLER = "+15551234567"
CALL_SID = "CA" + "1" * 32


def transfer_config(config: Config, fake: FakeTwilioRest, **clinic: object) -> Config:
    """``config`` transferring warm to STAFF through ``fake`` (``clinic``: other settings)."""
    return replace(
        config,
        clinic=replace(config.clinic, transfer_number=STAFF, **clinic),  # type: ignore[arg-type]
        twilio=replace(config.twilio, api_base_url=fake.base_url, phone_number=CLINIC_NUMBER),
        secrets=replace(
            config.secrets,
            twilio_account_sid=fake.account_sid,
            twilio_auth_token=fake.auth_token,
        ),
    )


async def twilio_posts(url: str, params: dict[str, str], auth_token: str) -> httpx.Response:
    """A webhook request as Twilio sends it: form-encoded, with X-Twilio-Signature."""
    signature = twilio_signature(auth_token, url, params.items())
    async with httpx.AsyncClient(timeout=None) as client:  # the test's own limits apply
        return await client.post(url, data=params, headers={"X-Twilio-Signature": signature})


def stream_of(twiml: str) -> tuple[str, dict[str, str]]:
    """The <Connect><Stream> URL and <Parameter>s of a TwiML document."""
    stream = ElementTree.fromstring(twiml).find("Connect/Stream")
    assert stream is not None, twiml
    parameters = {p.get("name", ""): p.get("value", "") for p in stream.findall("Parameter")}
    return stream.get("url", ""), parameters
