"""Call records: written during a real call over the WebSocket and read back; the stereo
recording; the retention sweep; the CLI listing. Real clock, like test_end_to_end."""

from __future__ import annotations

import json
import time
import wave
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import trio

from receptionist.call import CallServices
from receptionist.config import Config
from receptionist.records.listing import list_call_lines
from receptionist.records.recorder import RecordWriter
from receptionist.records.store import CallSummary, RecordStore, recordings_folder
from receptionist.runtime import build_services
from receptionist.server import serve_app

from .review_helpers import NOW, log_in, place_call, records_config, wait_for_record

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


def _save(store: RecordStore, folder: Path, call_sid: str, started_at: float) -> Path:
    relative = f"day/{call_sid}.wav"
    (folder / "day").mkdir(parents=True, exist_ok=True)
    (folder / relative).write_bytes(b"RIFF")
    summary = CallSummary(call_sid, "MZ1", "+15550001111", started_at, started_at + 30,
                          "completed", 0, relative)  # fmt: skip
    store.save(summary, {"lines": [], "turns": []})
    return folder / relative


def test_the_sweep_deletes_records_and_recordings_older_than_keep_days(config):
    store = RecordStore(config)
    store.open()
    folder = recordings_folder(config)
    now = time.time()
    old = _save(store, folder, "CAold", now - 31 * 86400)
    recent = _save(store, folder, "CArecent", now - 29 * 86400)

    swept = RecordWriter(store, folder).sweep(now - config.records.keep_days * 86400)

    assert swept == 1
    assert not old.exists()
    assert recent.exists()
    assert [s.call_sid for s in store.calls()] == ["CArecent"]
    assert store.call("CAold") is None


def test_listing_filters_by_day_and_outcome_newest_first(config):
    store = RecordStore(config)
    store.open()
    folder = recordings_folder(config)
    day = 1764000000.0  # 2025-11-24 in the clinic's timezone
    for n, outcome in enumerate(("completed", "hung up", "completed")):
        summary = CallSummary(f"CA{n}", "MZ", "", day + n * 60, day + n * 60 + 5, outcome, 0, "")
        store.save(summary, {})
    _save(store, folder, "CAnextday", day + 86400)

    found = store.calls(day=store.local_day(day), outcome="completed")
    assert [s.call_sid for s in found] == ["CA2", "CA0"]
    assert [s.call_sid for s in store.calls(limit=2, offset=1)] == ["CA2", "CA1"]
