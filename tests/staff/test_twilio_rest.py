"""The Twilio REST client against the fake Twilio REST API on 127.0.0.1."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator

import pytest
import trio

from receptionist.devtools.fakes.twilio_network import Phone
from receptionist.devtools.fakes.twilio_rest import FakeTwilioRest, Fault
from receptionist.errors import TwilioRejected, TwilioUnavailable
from receptionist.staff.twilio_rest import TwilioRest, retrying

CLINIC = "+15550001000"
STAFF = "+15550002000"
HANGUP = "<Response><Hangup/></Response>"


@pytest.fixture
async def fake(nursery: trio.Nursery) -> FakeTwilioRest:
    fake = FakeTwilioRest(phones={STAFF: Phone(answers_after_s=1.0)})
    await nursery.start(fake.serve)
    return fake


@pytest.fixture
async def rest(fake: FakeTwilioRest) -> AsyncIterator[TwilioRest]:
    async with TwilioRest(fake.base_url, fake.account_sid, fake.auth_token) as client:
        yield client


async def test_create_call_sends_the_form_with_basic_auth(fake, rest) -> None:
    call = await rest.create_call(
        to=STAFF, from_=CLINIC, twiml=HANGUP, timeout_s=20,
        status_callback="http://127.0.0.1:1/cb", status_callback_events=("answered", "completed"),
    )  # fmt: skip
    assert call.sid.startswith("CA")
    assert len(call.sid) == 34
    assert (call.status, call.to, call.from_) == ("queued", STAFF, CLINIC)
    request = fake.requests[0]
    assert request.path == f"/2010-04-01/Accounts/{fake.account_sid}/Calls.json"
    assert ("StatusCallbackEvent", "answered") in request.form
    assert ("StatusCallbackEvent", "completed") in request.form
    assert dict(request.form)["Timeout"] == "20"
    assert dict(request.form)["Twiml"] == HANGUP
    secret = base64.b64encode(f"{fake.account_sid}:{fake.auth_token}".encode()).decode()
    assert request.authorization == f"Basic {secret}"


async def test_update_call_gives_a_live_call_new_twiml(fake, rest) -> None:
    fake.add_inbound_call("CA" + "a" * 32, from_="+15551234567", to=CLINIC)
    call = await rest.update_call("CA" + "a" * 32, twiml=HANGUP)
    assert call.sid == "CA" + "a" * 32
    assert fake.forms("a" * 32 + ".json") == [{"Twiml": HANGUP}]
    assert fake.calls[call.sid].twiml == [HANGUP]


async def test_unknown_call_is_rejected_with_twilios_code(rest) -> None:
    with pytest.raises(TwilioRejected) as raised:
        await rest.update_call("CA" + "f" * 32, status="completed")
    assert (raised.value.code, raised.value.status, raised.value.retryable) == (20404, 404, False)


async def test_invalid_to_is_21211(rest) -> None:
    with pytest.raises(TwilioRejected) as raised:
        await rest.send_sms(to="12", from_=CLINIC, body="hi")
    assert raised.value.code == 21211


async def test_wrong_credentials_are_20003(fake) -> None:
    async with TwilioRest(fake.base_url, fake.account_sid, "wrong") as client:
        with pytest.raises(TwilioRejected) as raised:
            await client.send_sms(to=STAFF, from_=CLINIC, body="hi")
    assert (raised.value.code, raised.value.status) == (20003, 401)


async def test_send_sms_returns_the_message_sid(fake, rest) -> None:
    sid = await rest.send_sms(to=STAFF, from_=CLINIC, body="Booked: Tuesday 10:00.")
    assert sid.startswith("SM")
    assert fake.messages[0]["sid"] == sid
    assert (fake.messages[0]["to"], fake.messages[0]["from"]) == (STAFF, CLINIC)
    assert fake.messages[0]["body"] == "Booked: Tuesday 10:00."


async def test_server_errors_and_throttling_are_retryable(fake, rest) -> None:
    fake.faults.extend((Fault.SERVER_ERROR, Fault.RATE_LIMITED))
    for code in (20500, 20429):
        with pytest.raises(TwilioUnavailable) as raised:
            await rest.send_sms(to=STAFF, from_=CLINIC, body="hi")
        assert raised.value.retryable
        assert raised.value.code == code


async def test_a_malformed_answer_is_unavailable(fake, rest) -> None:
    fake.faults.append(Fault.MALFORMED)
    with pytest.raises(TwilioUnavailable, match="without a JSON object"):
        await rest.send_sms(to=STAFF, from_=CLINIC, body="hi")


async def test_retrying_an_update_gets_past_a_server_error(fake, rest, autojump_clock) -> None:
    fake.add_inbound_call("CA" + "b" * 32, from_="+15551234567", to=CLINIC)
    fake.faults.extend((Fault.SERVER_ERROR, Fault.MALFORMED))
    call = await retrying(lambda: rest.update_call("CA" + "b" * 32, twiml=HANGUP))
    assert call.sid == "CA" + "b" * 32
    assert len(fake.requests) == 3


async def test_retrying_stops_at_a_rejection(fake, rest) -> None:
    with pytest.raises(TwilioRejected):
        await retrying(lambda: rest.update_call("CA" + "c" * 32, twiml=HANGUP))
    assert len(fake.requests) == 1


async def test_a_stalled_request_ends_with_the_callers_timeout(fake, rest, autojump_clock) -> None:
    fake.faults.append(Fault.STALL)
    with trio.move_on_after(5) as scope:
        await rest.send_sms(to=STAFF, from_=CLINIC, body="hi")
    assert scope.cancelled_caught


async def test_participants_are_added_held_and_removed(fake, rest, autojump_clock) -> None:
    added = await rest.add_participant("call-CA1", to=STAFF, from_=CLINIC, timeout_s=20)
    assert added.status == "queued"
    assert added.conference_sid.startswith("CF")
    await fake.wait_until(lambda: added.call_sid in fake.conferences["call-CA1"]["members"])
    held = await rest.update_participant(added.conference_sid, added.call_sid, hold=True)
    assert held.call_sid == added.call_sid
    assert fake.forms(f"{added.call_sid}.json")[-1] == {"Hold": "true"}
    await rest.remove_participant(added.conference_sid, added.call_sid)
    await fake.wait_until(lambda: fake.calls[added.call_sid].resource["status"] == "completed")


async def test_a_busy_phone_ends_the_call_busy(fake, rest, autojump_clock) -> None:
    fake.phones[STAFF] = Phone(outcome="busy")
    call = await rest.create_call(to=STAFF, from_=CLINIC, twiml=HANGUP)
    await fake.wait_until(lambda: fake.calls[call.sid].resource["status"] == "busy")
