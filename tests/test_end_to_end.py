"""Whole calls through the real server over real sockets, offline engines, as Twilio.

These run on the real clock: the recogniser and the voice run in worker threads, which a
mock clock would jump past. The caller is unpaced and the server's pacing is off (the
replay's --fast settings), so a whole booking call takes a few seconds.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from xml.etree import ElementTree

import httpx
import pytest
import trio
import trio_websocket

from receptionist.call import CallServices
from receptionist.config import Config, Secrets
from receptionist.devtools.replay import replay_config
from receptionist.devtools.twilio_caller import CallerReport, TwilioCaller
from receptionist.runtime import build_services
from receptionist.scheduling.store import AppointmentStore
from receptionist.server import serve_app
from stages.listener import ListenerEngines
from tests.helpers.calls import NOW, TEST_LIMIT_S, call, capture_logs, unchecked_call, utterances
from tests.helpers.loop_budget import no_step_longer_than


@pytest.fixture
def e2e_config(project_config: Config, tmp_path: Path) -> Config:
    return replay_config(project_config, tmp_path, fast=True)


@pytest.fixture
async def services(e2e_config: Config) -> CallServices:
    return await trio.to_thread.run_sync(lambda: build_services(e2e_config, now=NOW))


@pytest.fixture
async def server(services: CallServices, nursery: trio.Nursery) -> AsyncIterator[str]:
    binds = await nursery.start(serve_app, services, "127.0.0.1", 0)
    yield binds[0]
    nursery.cancel_scope.cancel()


async def test_a_whole_booking_call_books_the_appointment(server, e2e_config):
    with capture_logs() as logs, trio.fail_after(TEST_LIMIT_S):
        report = await call(server, "booking_call.wav")

    assert report.greeting_ms is not None
    assert report.greeting_ms < 1000, "the greeting starts within a second of the stream"
    assert len(report.heard_ulaw) > 8000 * 3, "the caller heard the greeting and replies"
    assert all(latency is not None for latency in report.reply_latencies_ms)
    assert report.closed_by_server, "the receptionist hangs up after its goodbye"

    (booking,) = AppointmentStore(e2e_config).appointments(include_past=True)
    assert booking.start.isoformat() == "2026-12-01T10:00:00-05:00"
    assert booking.service == "check-up"
    assert "check" in booking.reason
    assert booking.phone == "+15551234567"

    turns = [e for e in logs if e["event"] == "turn"]
    assert len(turns) >= 7
    assert all(e["call_sid"] and e["stream_sid"] for e in turns)
    replies = [t for t in turns if t["total_ms"] is not None]
    assert len(replies) >= 6, "turns that answer the caller carry their end-to-end latency"
    for turn in replies:
        assert all(turn[f"{stage}_ms"] is not None for stage in ("stt", "dialogue", "tts", "send"))


async def test_opening_hours_call(server, e2e_config):
    with capture_logs() as logs, trio.fail_after(TEST_LIMIT_S):
        report = await call(server, "hours_call.wav")
    said = " ".join(e["text"] for e in logs if e["event"] == "dialogue.said")
    assert "9 AM to 5 PM" in said
    assert report.closed_by_server
    assert AppointmentStore(e2e_config).appointments(include_past=True) == ()


async def test_a_crashing_call_does_not_touch_another(services, nursery):
    """The first call's pipeline fails to start; the second, at the same time, is served."""
    real_engines = services.new_listener_engines
    first_failed = trio.Event()

    async def fail_once() -> ListenerEngines:
        if not first_failed.is_set():
            first_failed.set()
            raise RuntimeError("recogniser exploded")
        return await real_engines()

    flaky = replace(services, new_listener_engines=fail_once)
    server = (await nursery.start(serve_app, flaky, "127.0.0.1", 0))[0]
    results: dict[str, CallerReport] = {}
    audio = utterances("hours_call.wav")

    async def place(name: str, call_sid: str) -> None:
        results[name] = await unchecked_call(server, audio, call_sid=call_sid)

    # The two emulated callers (this test's tasks) encode their audio on the loop too.
    no_hogs = no_step_longer_than(ignore=("tests.",))
    with capture_logs() as logs, trio.fail_after(TEST_LIMIT_S), no_hogs:
        async with trio.open_nursery() as calls:
            calls.start_soon(place, "crashed", "CA" + "1" * 32)
            await first_failed.wait()  # the second call starts while the first is failing
            calls.start_soon(place, "served", "CA" + "2" * 32)
    assert results["crashed"].closed_by_server
    assert not results["crashed"].heard_ulaw
    assert results["served"].heard_ulaw
    assert results["served"].closed_by_server
    crashes = [e for e in logs if e["event"] == "call.crashed"]
    assert [e["call_sid"] for e in crashes] == ["CA" + "1" * 32]
    # Twilio then asks what to do: our pipeline is down, so Twilio apologises itself.
    async with httpx.AsyncClient() as client:
        response = await client.post(f"{server}/call-ended", data={"CallSid": "CA" + "1" * 32})
    root = ElementTree.fromstring(response.text)
    assert root.find("Say") is not None
    assert root.find("Hangup") is not None
    nursery.cancel_scope.cancel()


async def test_a_stream_that_did_not_come_through_our_webhook_is_refused(server):
    url = server.replace("http://", "ws://") + "/media-stream"
    start = {
        "event": "start",
        "start": {
            "streamSid": "MZ1",
            "callSid": "CA1",
            "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
            "customParameters": {"token": "forged"},
        },
    }
    with trio.fail_after(10):
        async with trio_websocket.open_websocket_url(url) as ws:
            await ws.send_message(json.dumps(start))
            with pytest.raises(trio_websocket.ConnectionClosed) as closed:
                await ws.get_message()
    assert closed.value.reason.code == 1008


async def test_webhook_signature_is_enforced_when_a_token_is_set(services, nursery):
    config = replace(services.config, secrets=Secrets(twilio_auth_token="12345"))
    server = (await nursery.start(serve_app, replace(services, config=config), "127.0.0.1", 0))[0]
    good = TwilioCaller(server, auth_token="12345")
    stream_url, parameters = await good.answer_webhook()
    assert stream_url.endswith("/media-stream")
    assert parameters["token"]
    with pytest.raises(httpx.HTTPStatusError, match="403"):
        await TwilioCaller(server, auth_token="wrong").answer_webhook()
    nursery.cancel_scope.cancel()


async def test_a_stream_beyond_max_calls_is_refused(services, nursery):
    config = replace(services.config, server=replace(services.config.server, max_calls=0))
    server = (await nursery.start(serve_app, replace(services, config=config), "127.0.0.1", 0))[0]
    url = server.replace("http://", "ws://") + "/media-stream"
    with trio.fail_after(10):
        async with trio_websocket.open_websocket_url(url) as ws:
            with pytest.raises(trio_websocket.ConnectionClosed) as closed:
                await ws.get_message()
    assert closed.value.reason.code == 1013
    nursery.cancel_scope.cancel()
