"""A whole booking call over the WebSocket (offline engines, Twilio's signatures checked),
then what the clinic gets: the report kept with the call's record, shown on its review page,
and POSTed to the clinic's webhook (a real receiver on 127.0.0.1 that verifies the
signature) by the outbox worker; and what the caller gets: a confirmation text, through the
fake Twilio REST API."""

from __future__ import annotations

from collections import deque
from dataclasses import replace
from pathlib import Path

import httpx
import trio

from receptionist.call import CallServices
from receptionist.config import Config
from receptionist.devtools.fakes.twilio_rest import FakeTwilioRest
from receptionist.devtools.replay import load_caller_audio, split_utterances
from receptionist.devtools.twilio_caller import TwilioCaller
from receptionist.runtime import build_services
from receptionist.server import serve_app
from receptionist.staff.sms import serve_sms
from receptionist.staff.webhook import serve_webhook
from tests.helpers.notify import twilio_config
from tests.helpers.paths import PROJECT_ROOT
from tests.helpers.review import NOW, log_in, records_config, wait_for_record
from tests.helpers.webhook_receiver import WebhookReceiver

CALL_SID = "CA" + "6" * 32
SECRET = "whsec_end_to_end"
TEST_LIMIT_S = 120


async def test_a_booking_calls_report_is_kept_shown_delivered_signed_and_texted(
    project_config: Config, tmp_path: Path
) -> None:
    receiver = WebhookReceiver(SECRET, deque(["500"]))
    twilio = FakeTwilioRest()
    with trio.fail_after(TEST_LIMIT_S):
        async with trio.open_nursery() as nursery:
            url = await nursery.start(receiver.serve)
            await nursery.start(twilio.serve)
            config = twilio_config(records_config(project_config, tmp_path), twilio)
            config = _notify(config, url)
            services: CallServices = await trio.to_thread.run_sync(
                lambda: build_services(config, now=NOW)
            )
            (server,) = await nursery.start(serve_app, services, "127.0.0.1", 0)
            await nursery.start(serve_webhook, services.store, config)
            await nursery.start(serve_sms, services.store, config)

            audio = load_caller_audio(PROJECT_ROOT / "tests" / "fixtures" / "booking_call.wav")
            caller = TwilioCaller(
                server, paced=False, reply_quiet_s=0.5, call_sid=CALL_SID,
                auth_token=twilio.auth_token,
            )  # fmt: skip
            await caller.run(split_utterances(audio))
            _summary, detail = await wait_for_record(config, CALL_SID)
            await receiver.until(2)  # a 500 first, then taken from the outbox again
            await twilio.wait_until(lambda: len(twilio.messages) == 1)
            async with httpx.AsyncClient() as client:
                await log_in(client, server)
                page = (await client.get(f"{server}/calls/{CALL_SID}")).text
            nursery.cancel_scope.cancel()

    report = detail["report"]
    assert report["outcome"] == "booked"
    assert report["caller"] == "+15551234567"
    (booking,) = report["bookings"]
    assert (booking["change"], booking["service"]) == ("booked", "check-up")
    assert booking["start"] == "2026-12-01T10:00:00-05:00"
    assert report["summary_from"] == "facts"
    first, second = report["summary"].split(". ", 1)
    assert first.endswith("booked a check-up for Tuesday 1 December at 10:00")
    assert second.startswith("The call from +15551234567 lasted ")
    assert report["transcript"][0]["who"] == "receptionist"
    assert any("check" in line["text"].lower() for line in report["transcript"])
    assert report["started_at"] < report["ended_at"]

    assert all(request.signature_valid for request in receiver.requests)
    (delivered,) = receiver.accepted.values()
    assert delivered.id == f"report:call:{CALL_SID}"
    assert delivered.envelope["type"] == "call.report"
    assert delivered.envelope["data"] == report
    assert report["summary"] in page

    (text,) = twilio.messages
    assert text["to"] == "+15551234567"
    assert text["body"] == (
        f"{config.clinic.name}: your check-up is booked for Tuesday 1 December at 10:00."
        " Call us to change it."
    )


def _notify(config: Config, url: str) -> Config:
    notify = replace(config.notify, webhook_url=url, retry_initial_s=0.05, poll_s=0.05)
    return replace(config, notify=notify, secrets=replace(config.secrets, webhook_secret=SECRET))
