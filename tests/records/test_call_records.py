"""Call records of whole calls: a booking call over the WebSocket, recorded and read back
(record, stereo recording, listing, the served JSON and WAV); a barge-in through the real
supervisor."""

from __future__ import annotations

import json
import wave
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import trio

from receptionist.call import CallServices
from receptionist.config import Config
from receptionist.messages import SAMPLE_RATE
from receptionist.records.collector import CallFinished, CallRecording
from receptionist.records.listing import list_call_lines
from receptionist.records.store import recordings_folder
from receptionist.runtime import build_services
from receptionist.server import serve_app
from tests.helpers.pipeline import GREETING, HOURS, pipeline
from tests.helpers.review import NOW, log_in, place_call, records_config, wait_for_record

CALL_SID = "CA" + "5" * 32
TEST_LIMIT_S = 120


@pytest.fixture
def config(project_config: Config, tmp_path: Path) -> Config:
    return records_config(project_config, tmp_path)


@pytest.fixture
async def server(config: Config, nursery: trio.Nursery) -> AsyncIterator[str]:
    services: CallServices = await trio.to_thread.run_sync(lambda: build_services(config, now=NOW))
    binds = await nursery.start(serve_app, services, "127.0.0.1", 0)
    yield binds[0]
    nursery.cancel_scope.cancel()


async def test_a_booking_call_is_recorded_and_read_back(server, config):
    with trio.fail_after(TEST_LIMIT_S):
        report = await place_call(server, "booking_call.wav", CALL_SID)
        summary, detail = await wait_for_record(config, CALL_SID)

    assert report.closed_by_server
    assert summary.caller == "+15551234567"
    assert summary.outcome == "completed"
    assert summary.bookings == 1
    assert 0 < summary.seconds < TEST_LIMIT_S
    assert detail["stream_sid"] == summary.stream_sid != ""
    (booking,) = detail["bookings"]
    assert booking["change"] == "booked"
    assert booking["start"] == "2026-12-01T10:00:00-05:00"

    callers = [line for line in detail["lines"] if line["who"] == "caller"]
    agents = [line for line in detail["lines"] if line["who"] == "agent"]
    assert len(callers) >= 5
    assert any("check" in line["text"].lower() for line in callers)
    assert agents
    assert all(line["heard"] and not line["cut_off"] for line in agents)
    starts = [line["start_s"] for line in detail["lines"] if line["who"] == "agent"]
    assert starts == sorted(starts)

    turns = detail["turns"]
    assert len(turns) >= 7
    assert turns[0]["total_ms"] is None, "the greeting answers no speech"
    replies = [turn for turn in turns if turn["total_ms"] is not None]
    assert len(replies) >= 6
    assert all(turn["stt_ms"] is not None and turn["send_ms"] is not None for turn in replies)
    assert detail["dropped"] == 0

    path = recordings_folder(config) / summary.recording
    with wave.open(str(path)) as recording:
        assert (recording.getnchannels(), recording.getframerate()) == (2, 8000)
        assert recording.getnframes() / 8000 == pytest.approx(detail["audio_seconds"], abs=0.01)
        assert recording.getnframes() > 8000 * 3

    (line,) = list_call_lines(config)
    assert "*******4567  " in line
    assert "  completed  1 booking  " in line
    assert CALL_SID in line

    async with httpx.AsyncClient(follow_redirects=False) as client:
        assert (await log_in(client, server)).status_code == 302
        served = await client.get(f"{server}/calls/{CALL_SID}.json")
        assert served.json() == json.loads(json.dumps({**detail}))
        wav = await client.get(f"{server}/calls/{CALL_SID}/recording.wav")
        assert wav.status_code == 200
        assert wav.content[:4] == b"RIFF"
        assert wav.headers["content-type"] == "audio/wav"


async def test_a_barge_in_through_the_real_supervisor_is_in_the_record(
    autojump_clock: trio.abc.Clock,
) -> None:
    sent: list[object] = []
    recording = CallRecording(lambda m: sent.append(m) or True, record_audio=True,
                              max_samples=60 * SAMPLE_RATE)  # fmt: skip
    async with pipeline(recording) as call:
        await call.twilio.wait_echoed("turn1-s0")  # the first sentence has played
        await call.caller_starts()
        await call.caller_stops(HOURS)
        await trio.sleep(1)
    recording.finish(crashed=False)

    (finished,) = [m for m in sent if isinstance(m, CallFinished)]
    record = finished.record
    (barge_in,) = record["barge_ins"]
    assert barge_in["turn_id"] == 1
    assert barge_in["reaction_ms"] < 200, "first voiced frame to the clear"
    lines = record["lines"]
    assert (lines[0]["text"], lines[0]["heard"]) == (GREETING[0], True)
    caller = [line for line in lines if line["who"] == "caller"]
    assert [line["text"] for line in caller] == [HOURS]
    first_turn = [line for line in lines if line.get("turn_id") == 1]
    assert all(line["cut_off"] for line in first_turn[1:])
    assert not any(line["heard"] for line in first_turn[1:])
    answers = [line for line in lines if line["who"] == "agent" and line["turn_id"] > 1]
    assert answers[0]["text"].startswith("We're open")
    assert [turn["turn_id"] for turn in record["turns"]] == [1, 2]
    assert record["turns"][1]["total_ms"] is not None
