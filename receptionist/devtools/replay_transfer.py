"""A replay's transfers: the fake Twilio REST API plays Twilio and the clinic's staff phone.

A replayed caller who asks for a person ends their stream with a transfer; the replay then
does what Twilio would: asks ``/call-ended``, runs its TwiML (the caller into the
conference), and the fake rings the staff phone, which answers, hears the briefing and
joins (or does as ``STAFF_PHONE`` says). The report lists each step from the server's log.
A replay never reaches a real phone: the staff number, when the config has none, is a
fictional one, and every REST request goes to the fake.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import httpx
import trio

from receptionist.config import Config
from receptionist.devtools.fakes.twilio_network import Phone
from receptionist.devtools.fakes.twilio_rest import FakeTwilioRest
from receptionist.telephony.webhooks import twilio_signature

REPLAY_STAFF = "+15550100199"
REPLAY_CLINIC = "+15550100100"
"""Fictional (555-01xx) numbers, used when the config names none."""
STAFF_PHONE = Phone(answers_after_s=2.0)
SAY_S = 3.0
SETTLE_TIMEOUT_S = 60.0
"""The longest a replay waits for a transfer to end in a join or a return."""
STEPS = ("transfer.after_hours", "transfer.dialled", "transfer.dial_failed", "transfer.status",
         "transfer.moved", "transfer.brought_back", "transfer.bring_back_failed")  # fmt: skip


def transfer_fake() -> FakeTwilioRest:
    return FakeTwilioRest(say_s=SAY_S)


def with_fake_twilio(config: Config, fake: FakeTwilioRest) -> Config:
    """``config`` sending its REST requests (and transfers) to ``fake``."""
    clinic = config.clinic
    fake.phones.setdefault(clinic.transfer_number or REPLAY_STAFF, STAFF_PHONE)
    return replace(
        config,
        clinic=replace(clinic, transfer_number=clinic.transfer_number or REPLAY_STAFF),
        twilio=replace(
            config.twilio,
            api_base_url=fake.base_url,
            phone_number=config.twilio.phone_number or REPLAY_CLINIC,
        ),
        secrets=replace(
            config.secrets, twilio_account_sid=fake.account_sid, twilio_auth_token=fake.auth_token
        ),
    )


async def follow_transfer(server: str, fake: FakeTwilioRest, call_sid: str, caller: str) -> None:
    """Twilio's part once the stream has ended: /call-ended, then its TwiML, until the staff
    joined or the caller is back (at most SETTLE_TIMEOUT_S)."""
    url = f"{server}/call-ended"
    form = {"CallSid": call_sid, "From": caller}
    signature = twilio_signature(fake.auth_token, url, form.items())
    async with httpx.AsyncClient(timeout=None) as client:  # bounded by the scope below
        with trio.move_on_after(SETTLE_TIMEOUT_S):
            response = await client.post(url, data=form, headers={"X-Twilio-Signature": signature})
            fake.add_inbound_call(call_sid, from_=caller, to=REPLAY_CLINIC)
            fake.run_twiml(call_sid, response.text)
            await fake.wait_until(lambda: _settled(fake, call_sid))


def _settled(fake: FakeTwilioRest, call_sid: str) -> bool:
    """Our server has heard the staff join, or the caller is back, or there was no
    conference at all (cold, after hours)."""
    twiml = fake.calls[call_sid].twiml
    joined = any(
        params.get("StatusCallbackEvent") == "participant-join" and params["CallSid"] != call_sid
        for _url, params, _status in fake.callbacks
    )
    return joined or len(twiml) > 1 or "<Conference" not in twiml[0]


def transfer_lines(events: list[dict[str, Any]]) -> str:
    """The transfer's steps, as the server logged them."""
    return "\n".join(f"  {_step(e)}" for e in events if e.get("event") in STEPS) or "  (none)"


def _step(event: dict[str, Any]) -> str:
    match event["event"]:
        case "transfer.dialled":
            return (f"staff {event['to']} dialled ({event['staff_call_sid']});"
                    f" briefing: {event['briefing']}")  # fmt: skip
        case "transfer.status":
            what = event.get("callback") or event.get("status")
            return f"Twilio: {what}" + ("" if event.get("acts") else " (nothing to do)")
        case "transfer.moved":
            return f"transfer {event['state']} ({event['then'].replace('_', ' ')})"
        case "transfer.brought_back":
            return "caller back with the receptionist (resume=transfer-unanswered)"
        case "transfer.after_hours":
            return "after hours: no transfer, back to the receptionist for a message"
        case other:
            return f"{other}: {event.get('error', '')}"
