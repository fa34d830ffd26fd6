"""A whole call that asks for a person, through the real server, the emulated Twilio caller
and the fake Twilio REST API, over real sockets; offline engines, on the real clock (as
test_end_to_end.py: the recogniser and the voice run in worker threads)."""

from __future__ import annotations

from pathlib import Path

import pytest
import trio

from receptionist.config import Config
from receptionist.devtools.fakes.twilio_network import Phone
from receptionist.devtools.fakes.twilio_rest import FakeTwilioRest
from receptionist.devtools.replay import replay_config
from receptionist.devtools.twilio_caller import TwilioCaller
from receptionist.runtime import build_services
from receptionist.server import serve_app
from tests.helpers.calls import NOW, TEST_LIMIT_S, capture_logs, utterances
from tests.helpers.clinic import query
from tests.helpers.transfers import STAFF, stream_of, transfer_config, twilio_posts


@pytest.fixture
async def fake(nursery: trio.Nursery) -> FakeTwilioRest:
    fake = FakeTwilioRest(phones={STAFF: Phone(outcome="busy")})
    await nursery.start(fake.serve)
    return fake


@pytest.fixture
async def server(
    project_config: Config, tmp_path: Path, fake: FakeTwilioRest, nursery: trio.Nursery
) -> str:
    config = transfer_config(replay_config(project_config, tmp_path, fast=True), fake)
    services = await trio.to_thread.run_sync(lambda: build_services(config, now=NOW))
    return (await nursery.start(serve_app, services, "127.0.0.1", 0))[0]


async def test_a_caller_nobody_can_take_is_back_with_the_receptionist(server, fake) -> None:
    caller = TwilioCaller(server, paced=False, reply_quiet_s=0.5, auth_token=fake.auth_token)
    sid = caller.call_sid
    with capture_logs() as logs, trio.fail_after(TEST_LIMIT_S):
        first = await caller.run(utterances("transfer_call.wav"))
        assert first.closed_by_server, "the receptionist hands over and leaves"
        # Twilio: the stream has ended, what next? Then it runs our answer.
        ended = await twilio_posts(f"{server}/call-ended", {"CallSid": sid}, fake.auth_token)
        fake.add_inbound_call(sid, from_=caller.caller, to="+15550000000")
        fake.run_twiml(sid, ended.text)
        await fake.wait_until(lambda: len(fake.calls[sid].twiml) == 2)  # the line was busy
        back = TwilioCaller(
            server, call_sid=sid, paced=False, reply_quiet_s=0.5, auth_token=fake.auth_token
        )
        again = await back.run([], stream=stream_of(fake.calls[sid].twiml[-1]))

    said = " ".join(e["text"] for e in logs if e["event"] == "dialogue.said")
    assert "put you through" in said
    (dial,) = fake.forms("/Calls.json")
    assert dial["To"] == STAFF
    assert "can i talk to someone" in dial["Twiml"].lower()
    starts = [e for e in logs if e["event"] == "call.start"]
    assert [e["resume"] for e in starts] == [None, "transfer-unanswered"]
    assert [e["call_sid"] for e in starts] == [sid, sid]
    assert again.heard_ulaw, "the receptionist speaks to the caller again"


async def test_a_caller_nobody_can_take_leaves_a_message_on_the_stream_they_come_back_on(
    server: str, fake: FakeTwilioRest, tmp_path: Path
) -> None:
    """Busy staff: back with the receptionist, who apologises and takes a message (name,
    what about, the caller ID confirmed), written with reason transfer_unanswered."""
    booking = utterances("booking_call.wav")
    name, about, yes = booking[3], booking[0], booking[4]  # "John Smith", a sentence, "yes"
    caller = TwilioCaller(server, paced=False, reply_quiet_s=0.5, auth_token=fake.auth_token)
    sid = caller.call_sid
    with capture_logs() as logs, trio.fail_after(TEST_LIMIT_S):
        await caller.run(utterances("transfer_call.wav"))
        ended = await twilio_posts(f"{server}/call-ended", {"CallSid": sid}, fake.auth_token)
        fake.add_inbound_call(sid, from_=caller.caller, to="+15550000000")
        fake.run_twiml(sid, ended.text)
        await fake.wait_until(lambda: len(fake.calls[sid].twiml) == 2)  # the line was busy
        back = TwilioCaller(
            server, call_sid=sid, paced=False, reply_quiet_s=0.5, auth_token=fake.auth_token
        )
        again = await back.run([name, about, yes], stream=stream_of(fake.calls[sid].twiml[-1]))

    assert again.closed_by_server, "the receptionist says goodbye once the message is written"
    said = [e["text"] for e in logs if e["event"] == "dialogue.said"]
    resumed = said.index(next(s for s in said if s.startswith("Sorry, nobody could take")))
    assert any("call you back on 5 5 5, 1 2 3, 4 5 6 7" in s for s in said[resumed:])
    assert said[-1].startswith("Thank you. I've passed your message on")
    database = str(tmp_path / "appointments.sqlite3")  # replay_config's, in the server fixture
    rows = query(database, "SELECT call_sid, phone, reason FROM clinic_messages")
    assert rows == [(sid, "+15551234567", "transfer_unanswered")]
