"""Whole calls through the three cloud adapters, against their fakes on 127.0.0.1.

The real server, the real Twilio protocol (``TwilioCaller``), Deepgram, an OpenAI-style
model and ElevenLabs as fakes that speak their wire protocols, each scripted for
``tests/fixtures/booking_call``. Real clock, as in test_end_to_end: the local VAD and the
fallback voice run in worker threads. Then the faults a call must survive.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
import trio

from receptionist.config import Config
from receptionist.devtools.fakes.cloud import CloudFakes
from receptionist.devtools.fakes.elevenlabs import Fault
from receptionist.devtools.fakes.openai import Scripted
from receptionist.devtools.replay import replay_config
from receptionist.devtools.twilio_caller import CallerReport
from receptionist.engines.fallback import TRIP_AFTER_FAILURES
from receptionist.llm import FALLBACK
from receptionist.runtime import open_services
from receptionist.scheduling.store import AppointmentStore
from receptionist.server import serve_app
from tests.helpers.calls import NOW, TEST_LIMIT_S, call, capture_logs

# Whole calls on the real clock against three fakes. Causes of their flakiness found and
# fixed: the caller spoke after 0.5 s of quiet, into a reply still waiting on a tool round
# trip (REPLY_QUIET_S); the fake model took a preemptive guess withdrawn and restarted with
# the same words for a retry and gave it the next turn's reply, so the script ran a turn
# ahead and the call ended a turn short, "6 turns of 7" (fakes/openai.py; test:
# tests/devtools/test_fake_openai_points.py); a 60 s bound that a call outran on a machine
# loaded four times over (now TEST_LIMIT_S, 120 s). Still rerun: once in about 30 runs at
# that load, a Synthesizer step took 60 ms of CPU, over the loop budget; cause not found.
pytestmark = pytest.mark.flaky(reruns=2)

REPLY_QUIET_S = 1.5
"""How long the caller waits, after the agent's last audio, before taking its turn. The
offline tests' 0.5 s is too short here: "Let me check." is followed by the tool, a second
model request and its first sentence's synthesis, on the real clock; on a loaded machine
that gap passed 0.5 s, the caller spoke into the reply (a barge-in) and the call's turns
no longer matched the script (seen as 6 turns of 7). A 0.7 s delay on that reply
reproduces it every time with 0.5 s; this wait leaves room for twice that."""
TUESDAY = NOW.date().replace(day=1, month=12)
"""NOW is Tuesday 24 November; "next Tuesday" is the 1st of December."""


@pytest.fixture
def fakes() -> CloudFakes:
    return CloudFakes.for_booking_call(TUESDAY)


@pytest.fixture
def cloud_config(project_config: Config, tmp_path: Path) -> Config:
    return replay_config(project_config, tmp_path, fast=True)


async def booking_call(fakes: CloudFakes, config: Config) -> tuple[CallerReport, list]:  # type: ignore[type-arg]
    """Start the fakes and the server, place the booking call; the report and the log."""
    with capture_logs() as logs, trio.fail_after(TEST_LIMIT_S):
        async with trio.open_nursery() as nursery:
            await nursery.start(fakes.serve)
            config = fakes.configure(config)
            async with open_services(config, now=NOW) as services:
                server = (await nursery.start(serve_app, services, "127.0.0.1", 0))[0]
                report = await call(server, "booking_call.wav", reply_quiet_s=REPLY_QUIET_S)
            nursery.cancel_scope.cancel()
    return report, logs


def assert_booked(config: Config) -> None:
    (booking,) = AppointmentStore(config).appointments(include_past=True)
    assert booking.start.isoformat() == "2026-12-01T10:00:00-05:00"
    assert booking.service == "check-up"
    assert booking.name == "John Smith"
    assert booking.reason == "annual check-up"
    assert booking.phone == "+15551234567"


def said(logs: list) -> list[str]:  # type: ignore[type-arg]
    return [e["text"] for e in logs if e["event"] == "dialogue.said"]


async def test_a_whole_booking_call_through_the_cloud_engines(fakes, cloud_config):
    report, logs = await booking_call(fakes, cloud_config)

    assert report.closed_by_server, "the receptionist hangs up after its goodbye"
    assert_booked(cloud_config)
    heard = [e["caller_text"] for e in logs if e["event"] == "dialogue.said"][1:]
    assert heard[0].lower().startswith("i'd like to book a check up")
    assert said(logs)[-1] == "Thanks for calling. Goodbye!"
    # The model saw the tool results, and the booking's arguments came in fragments.
    tools = [e["tool"] for e in logs if e["event"] == "llm.tool_call"]
    assert tools == ["check_availability", "book_appointment", "end_call"]
    # Every word the caller heard is ElevenLabs' (the fake's tone), none the fallback's.
    assert not [e for e in logs if e["event"] == "tts.fallback"]
    greeting = cloud_config.clinic.greeting
    assert fakes.elevenlabs.audio_for(greeting)[:8000] in report.heard_ulaw
    assert len(fakes.elevenlabs.requests) >= len(said(logs))
    # One connection all call long, closed with CloseStream though it is the server
    # that hangs up (its socket closing no longer cancels the call at once).
    (connection,) = fakes.deepgram.connections
    assert connection.received[-1][1] == "CloseStream"
    turns = [e for e in logs if e["event"] == "turn" and e["total_ms"] is not None]
    assert len(turns) >= 7
    for turn in turns:
        # stt is Deepgram's last word end mapped onto our clock from the stream's first
        # frame: right for Twilio's real-time audio, meaningless for this unpaced caller.
        assert turn["stt_ms"] is not None
        # dialogue is negative when a preemptive guess was kept: the model was ahead.
        assert turn["dialogue_ms"] is not None, turn
        assert -1000 < turn["dialogue_ms"] < 1000, turn
        stages = [turn[f"{stage}_ms"] for stage in ("sentence", "tts", "send")]
        assert all(ms is not None and 0 <= ms < 1000 for ms in stages), turn


async def test_deepgram_dropping_mid_call_reconnects(fakes, cloud_config):
    fakes.deepgram.drop_after_s = 4.0  # in the greeting's silence or the first sentence
    fakes.deepgram.drop_connections = 1
    report, logs = await booking_call(fakes, cloud_config)

    assert report.closed_by_server
    assert_booked(cloud_config)
    first, second = fakes.deepgram.connections
    assert first.closed == (1011, "NET-0000")
    assert len(second.audio) > 0
    assert [e["event"] for e in logs if e["event"] == "deepgram.reconnecting"] == [
        "deepgram.reconnecting"
    ]


async def test_deepgram_dying_mid_call_switches_to_the_offline_recogniser(fakes, cloud_config):
    """Deepgram drops after "ten o'clock" and refuses every reconnect: the rest of the call
    is heard offline (the caller's audio since Deepgram's last final included), and the
    booking is made."""
    fakes.deepgram.down_after_s = 8.0  # the script's clock: "ten o'clock" ends at 7.7 s
    config = replace(cloud_config, deepgram=replace(cloud_config.deepgram, reconnect_attempts=2))
    report, logs = await booking_call(fakes, config)

    assert report.closed_by_server
    assert_booked(config)
    (connection,) = fakes.deepgram.connections
    assert connection.closed == (1011, "NET-0000")
    assert fakes.deepgram.refused == [503, 503]
    (fallback,) = [e for e in logs if e["event"] == "stt.fallback"]
    assert "2 reconnects failed" in fallback["error"]
    assert [e for e in logs if e["event"] == "listener.transcript"], "heard offline"
    assert not [e for e in logs if e["event"] == "call.crashed"]


@pytest.mark.parametrize("fault", [Fault.UNAUTHORIZED, Fault.SERVER_ERROR])
async def test_elevenlabs_failing_falls_back_to_the_offline_voice(fakes, cloud_config, fault):
    fakes.elevenlabs.fault = fault
    report, logs = await booking_call(fakes, cloud_config)

    assert report.closed_by_server
    assert_booked(cloud_config)
    # The call's breaker trips after TRIP_AFTER_FAILURES sentences: the rest go offline
    # at once, without asking ElevenLabs again.
    fallbacks = [e for e in logs if e["event"] == "tts.fallback"]
    assert [e["reason"] for e in fallbacks] == ["error"] * TRIP_AFTER_FAILURES
    assert [e["event"] for e in logs].count("tts.circuit_open") == 1
    assert len(fakes.elevenlabs.requests) == TRIP_AFTER_FAILURES
    assert len(report.heard_ulaw) > 8000 * 3, "the offline voice spoke every reply"


async def test_a_model_error_is_retried_once(fakes, cloud_config):
    fakes.openai.script.appendleft(Scripted(status=500))
    report, logs = await booking_call(fakes, cloud_config)

    assert report.closed_by_server
    assert_booked(cloud_config)
    assert len([e for e in logs if e["event"] == "llm.retry"]) == 1
    assert not [e for e in logs if e["event"] == "llm.fallback"]


async def test_a_model_down_for_a_turn_gets_the_fallback_line_and_the_call_goes_on(
    fakes, cloud_config
):
    """The first turn fails twice (with the retry): the caller hears FALLBACK, not silence,
    and the next turn gets the model's answer (the script runs one turn late from there)."""
    fakes.openai.script.extendleft([Scripted(status=500), Scripted(status=500)])
    report, logs = await booking_call(fakes, cloud_config)

    assert said(logs)[1:3] == [FALLBACK, "Of course. Which day would suit you?"]
    assert len([e for e in logs if e["event"] == "llm.fallback"]) == 1
    assert report.reply_latencies_ms[0] is not None, "the caller heard the fallback at once"
