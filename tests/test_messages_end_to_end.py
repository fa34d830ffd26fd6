"""A whole call over the WebSocket that leaves a message for the clinic (issue 13): the
real server and Twilio protocol, Deepgram and ElevenLabs as their fakes (scripted with this
caller's words over booking_call.wav's speech), the offline receptionist. The message is in
the database, with its "clinic_message" outbox row, before the caller hears it was passed
on. Real clock, as in test_cloud_end_to_end."""

from __future__ import annotations

from collections import deque
from dataclasses import replace
from pathlib import Path

import pytest
import trio

from receptionist.config import Config
from receptionist.devtools.fakes.cloud import KEYS, CloudFakes
from receptionist.devtools.fakes.deepgram import FakeDeepgram
from receptionist.devtools.fakes.deepgram_script import load_script, utterance
from receptionist.devtools.fakes.elevenlabs import FakeElevenLabs
from receptionist.devtools.fakes.openai import FakeOpenAI
from receptionist.devtools.replay import replay_config
from receptionist.runtime import open_services
from receptionist.scheduling.outbox import CLINIC_MESSAGE_TOPIC
from receptionist.scheduling.store import AppointmentStore
from receptionist.server import serve_app
from tests.helpers.calls import NOW, TEST_LIMIT_S, capture_logs, unchecked_call, utterances
from tests.helpers.clinic import query
from tests.helpers.paths import PROJECT_ROOT

WORDS = ("can someone call me back please", "Jane Doe", "my test results", "yes")
"""What the caller says, over the first four utterances of booking_call.wav."""


def message_fakes() -> CloudFakes:
    booking = load_script(PROJECT_ROOT / "tests" / "fixtures" / "booking_call.json")
    script = [
        utterance(text, said.start, said.end) for said, text in zip(booking, WORDS, strict=False)
    ]
    return CloudFakes(
        FakeDeepgram(api_key=KEYS["DEEPGRAM_API_KEY"], script=script, follow_speech=True),
        FakeOpenAI(script=deque()),
        FakeElevenLabs(api_key=KEYS["ELEVENLABS_API_KEY"]),
    )


@pytest.fixture
def e2e_config(project_config: Config, tmp_path: Path) -> Config:
    return replay_config(project_config, tmp_path, fast=True)


async def test_can_someone_call_me_back_leaves_a_message(e2e_config: Config) -> None:
    fakes = message_fakes()
    with capture_logs() as logs, trio.fail_after(TEST_LIMIT_S):
        async with trio.open_nursery() as nursery:
            await nursery.start(fakes.serve)
            cloud = fakes.configure(e2e_config)
            config = replace(cloud, engines=replace(cloud.engines, dialogue="offline"))
            async with open_services(config, now=NOW) as services:
                server = (await nursery.start(serve_app, services, "127.0.0.1", 0))[0]
                audio = utterances("booking_call.wav")[: len(WORDS)]
                report = await unchecked_call(server, audio)
            nursery.cancel_scope.cancel()

    assert report.closed_by_server, "the receptionist hangs up after its goodbye"
    said = [e["text"] for e in logs if e["event"] == "dialogue.said"]
    assert "Shall we call you back on 5 5 5, 1 2 3, 4 5 6 7?" in said[-2]
    assert said[-1].startswith("Thank you. I've passed your message on")
    database = config.scheduler.database
    rows = query(database, "SELECT call_sid, name, phone, about, reason FROM clinic_messages")
    ((call_sid, *message),) = rows
    assert call_sid
    assert message == ["Jane Doe", "+15551234567", "my test results", "asked"]
    store = AppointmentStore(config)
    (item,) = store.outbox_claim(CLINIC_MESSAGE_TOPIC, limit=5, lease_s=60)
    assert item.payload["message"]["name"] == "Jane Doe"
    taken = [e for e in logs if e["event"] == "call.message_taken"]
    assert len(taken) == 1
