"""Warm transfers through our server and the fake Twilio REST API, on 127.0.0.1.

Each test starts where the receptionist's stream has ended with a transfer: the supervisor
has saved the outcome with its briefing, and Twilio asks /call-ended what to do. The fake
runs the TwiML we answer (the caller into the conference), rings the staff phone, and sends
the signed status callbacks Twilio would.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from xml.etree import ElementTree

import pytest
import trio
import trio.testing

from receptionist.call import CallServices
from receptionist.call_outcomes import save_outcome
from receptionist.config import Config
from receptionist.devtools.fakes.twilio_network import Phone
from receptionist.devtools.fakes.twilio_rest import FakeTwilioRest, Fault
from receptionist.devtools.replay import replay_config
from receptionist.messages import EndCall, EndReason, TransferBrief
from receptionist.runtime import build_services
from receptionist.server import serve_app
from receptionist.staff.transfer import DIAL_TIMEOUT_S
from tests.helpers.calls import NOW
from tests.helpers.transfers import (
    CALL_SID,
    CALLER,
    CLINIC_NUMBER,
    STAFF,
    stream_of,
    transfer_config,
    twilio_posts,
)

BRIEF = TransferBrief(
    caller=CALLER,
    name="Maria Garcia",
    done=("a cleaning booked for Tuesday 1 December at 10:00",),
    why="I have a question about my insurance",
)
WAIT_LIMIT_S = 300
EVENING = datetime.fromisoformat("2026-11-24T20:00:00-05:00")


@pytest.fixture
def autojump_clock() -> trio.testing.MockClock:
    """Autojump only once the loop has been idle a while: the store works in a thread, and
    an idle loop waiting on it must not jump past the time boxes around it."""
    return trio.testing.MockClock(autojump_threshold=0.3)


@pytest.fixture
async def fake(nursery: trio.Nursery) -> FakeTwilioRest:
    fake = FakeTwilioRest(phones={STAFF: Phone(answers_after_s=4.0)}, say_s=6.0)
    await nursery.start(fake.serve)
    fake.add_inbound_call(CALL_SID, from_=CALLER, to=CLINIC_NUMBER)
    return fake


async def start_server(
    nursery: trio.Nursery, config: Config, now: datetime = NOW
) -> tuple[str, CallServices]:
    services = await trio.to_thread.run_sync(lambda: build_services(config, now=now))
    binds = await nursery.start(serve_app, services, "127.0.0.1", 0)
    return binds[0], services


@pytest.fixture
def config(project_config: Config, tmp_path: Path, fake: FakeTwilioRest) -> Config:
    return transfer_config(replay_config(project_config, tmp_path, fast=True), fake)


@pytest.fixture
async def server(nursery: trio.Nursery, config: Config) -> tuple[str, CallServices]:
    return await start_server(nursery, config)


async def stream_ends_in_transfer(server: str, services: CallServices, fake: FakeTwilioRest) -> str:
    """The supervisor's save, then Twilio's /call-ended and what it does with our answer."""
    end = EndCall(EndReason.TRANSFER, transfer_to=STAFF, brief=BRIEF)
    await save_outcome(services.store, CALL_SID, end)
    response = await twilio_posts(f"{server}/call-ended", {"CallSid": CALL_SID}, fake.auth_token)
    assert response.status_code == 200
    fake.run_twiml(CALL_SID, response.text)
    return response.text


def staff_call_sid(fake: FakeTwilioRest) -> str:
    (staff,) = [sid for sid, call in fake.calls.items() if call.resource["to"] == STAFF]
    return staff


async def until(fake: FakeTwilioRest, predicate: Callable[[], bool]) -> None:
    """Wait for ``predicate``, at most WAIT_LIMIT_S of the mock clock's time."""
    with trio.fail_after(WAIT_LIMIT_S):
        await fake.wait_until(predicate)


def members(fake: FakeTwilioRest) -> list[str]:
    room = fake.conferences.get(f"transfer-{CALL_SID}")
    return list(room["members"]) if room else []


def connects(twiml: str) -> bool:
    return ElementTree.fromstring(twiml).find("Connect/Stream") is not None


def brought_back(fake: FakeTwilioRest) -> bool:
    return connects(fake.calls[CALL_SID].twiml[-1])


async def test_an_answered_transfer_briefs_the_staff_and_joins_them(
    server, fake, autojump_clock
) -> None:
    url, services = server
    twiml = await stream_ends_in_transfer(url, services, fake)

    conference = ElementTree.fromstring(twiml).find("Dial/Conference")
    assert conference is not None
    assert conference.text == f"transfer-{CALL_SID}"
    assert conference.get("startConferenceOnEnter") == "false"
    assert conference.get("endConferenceOnExit") == "true"
    (dial,) = fake.forms("/Calls.json")
    assert (dial["To"], dial["From"], dial["Timeout"]) == (STAFF, CLINIC_NUMBER, "20")
    say = ElementTree.fromstring(dial["Twiml"]).findtext("Say") or ""
    assert "Maria Garcia, calling from (555) 123-4567" in say
    assert "a cleaning booked for Tuesday 1 December at 10:00" in say
    assert "question about my insurance" in say
    await until(fake, lambda: members(fake) == [CALL_SID, staff_call_sid(fake)])
    await trio.sleep(200)  # past every deadline: the caller stays with the staff
    assert not brought_back(fake)
    assert all(status == 204 for _url, _params, status in fake.callbacks)


async def test_an_unanswered_transfer_brings_the_caller_back(server, fake, autojump_clock) -> None:
    url, services = server
    fake.phones[STAFF] = Phone(outcome="no-answer")
    await stream_ends_in_transfer(url, services, fake)
    await until(fake, lambda: brought_back(fake))
    assert 20 <= trio.current_time() < 25, "Twilio's no-answer after transfer_timeout_s"
    assert fake.calls[staff_call_sid(fake)].resource["status"] == "no-answer"
    stream_url, parameters = stream_of(fake.calls[CALL_SID].twiml[-1])
    assert stream_url.endswith("/media-stream")
    assert parameters["resume"] == "transfer-unanswered"
    assert (parameters["callSid"], parameters["caller"]) == (CALL_SID, CALLER)
    assert services.stream_tokens.redeem(CALL_SID, parameters), "a fresh, valid stream token"
    assert members(fake) == []


async def test_a_busy_line_brings_the_caller_back_at_once(server, fake, autojump_clock) -> None:
    url, services = server
    fake.phones[STAFF] = Phone(outcome="busy", answers_after_s=2)
    await stream_ends_in_transfer(url, services, fake)
    await until(fake, lambda: brought_back(fake))
    assert trio.current_time() < 3
    assert stream_of(fake.calls[CALL_SID].twiml[-1])[1]["resume"] == "transfer-unanswered"


async def test_a_line_busy_at_once_brings_the_caller_back_too(server, fake, autojump_clock) -> None:
    """Busy before /call-ended has answered: whichever of the answer and the callback
    comes second, the caller is back once, never left in an empty conference."""
    url, services = server
    fake.phones[STAFF] = Phone(outcome="busy", answers_after_s=0)
    await stream_ends_in_transfer(url, services, fake)
    await until(fake, lambda: brought_back(fake))
    await trio.sleep(100)
    assert sum(connects(twiml) for twiml in fake.calls[CALL_SID].twiml) == 1


async def test_lost_callbacks_leave_it_to_the_deadline(server, fake, autojump_clock) -> None:
    """No word from Twilio: at transfer_timeout_s (and a margin) the caller is brought back
    and the staff leg, answered but still hearing the briefing, is hung up."""
    url, services = server
    fake.lose_callbacks = True
    fake.phones[STAFF] = Phone(answers_after_s=10)
    fake.say_s = 1000
    await stream_ends_in_transfer(url, services, fake)
    await until(fake, lambda: brought_back(fake))
    assert 25 <= trio.current_time() < 26
    await until(fake, lambda: fake.calls[staff_call_sid(fake)].resource["status"] == "completed")


async def test_a_caller_who_hangs_up_while_waiting_stops_the_ringing(
    server, fake, autojump_clock
) -> None:
    url, services = server
    fake.phones[STAFF] = Phone(answers_after_s=15)
    await stream_ends_in_transfer(url, services, fake)
    await trio.sleep(2)
    fake.hang_up(CALL_SID)
    await until(fake, lambda: fake.calls[staff_call_sid(fake)].resource["status"] == "canceled")
    assert trio.current_time() < 15


async def test_after_hours_there_is_no_transfer(nursery, config, fake, autojump_clock) -> None:
    url, services = await start_server(nursery, config, now=EVENING)
    twiml = await stream_ends_in_transfer(url, services, fake)
    assert stream_of(twiml)[1]["resume"] == "transfer-unanswered"
    assert fake.forms("/Calls.json") == []


async def test_a_failed_dial_falls_back_to_a_cold_transfer(server, fake, autojump_clock) -> None:
    url, services = server
    fake.faults.append(Fault.SERVER_ERROR)
    twiml = await stream_ends_in_transfer(url, services, fake)
    assert ElementTree.fromstring(twiml).findtext("Dial") == STAFF


async def test_a_stalled_dial_falls_back_in_time(server, fake, autojump_clock) -> None:
    url, services = server
    fake.faults.append(Fault.STALL)
    twiml = await stream_ends_in_transfer(url, services, fake)
    assert ElementTree.fromstring(twiml).findtext("Dial") == STAFF
    assert DIAL_TIMEOUT_S <= trio.current_time() < DIAL_TIMEOUT_S + 1


async def test_bringing_back_is_retried_past_a_server_error(server, fake, autojump_clock) -> None:
    url, services = server
    fake.phones[STAFF] = Phone(outcome="busy", answers_after_s=2)
    await stream_ends_in_transfer(url, services, fake)
    fake.faults.extend((Fault.SERVER_ERROR, Fault.MALFORMED))  # the next two requests
    await until(fake, lambda: brought_back(fake))
    assert len(fake.forms(f"/Calls/{CALL_SID}.json")) == 3


async def test_cold_mode_dials_without_rest(nursery, config, fake, autojump_clock) -> None:
    cold = replace(config, clinic=replace(config.clinic, transfer_mode="cold"))
    url, services = await start_server(nursery, cold)
    twiml = await stream_ends_in_transfer(url, services, fake)
    assert ElementTree.fromstring(twiml).findtext("Dial") == STAFF
    assert fake.requests == []


async def test_a_forged_status_callback_is_refused(server, fake, autojump_clock) -> None:
    url, services = server
    fake.phones[STAFF] = Phone(answers_after_s=10)
    await stream_ends_in_transfer(url, services, fake)
    forged = {"CallSid": staff_call_sid(fake), "CallStatus": "busy"}
    callback = f"{url}/transfer-status?call={CALL_SID}"
    response = await twilio_posts(callback, forged, "not-the-auth-token")
    assert response.status_code == 403
    await until(fake, lambda: members(fake) == [CALL_SID, staff_call_sid(fake)])
    assert not brought_back(fake)


async def test_a_second_transfer_keeps_its_own_deadline(server, fake, autojump_clock) -> None:
    """Brought back after a busy line, the caller asks again 10 s later: the first
    transfer's deadline (25 s) must not cut the second short."""
    url, services = server
    fake.phones[STAFF] = Phone(outcome="busy")
    await stream_ends_in_transfer(url, services, fake)
    await until(fake, lambda: brought_back(fake))
    await trio.sleep(10)
    fake.phones[STAFF] = Phone(answers_after_s=18)  # answers just before its own timeout
    fake.say_s = 6
    await stream_ends_in_transfer(url, services, fake)
    second = [sid for sid in fake.calls if fake.calls[sid].resource["to"] == STAFF][-1]
    await until(fake, lambda: members(fake) == [CALL_SID, second])
    assert not brought_back(fake), "not brought back again"
