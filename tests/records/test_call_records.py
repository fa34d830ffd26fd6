"""Call records: written during a real call over the WebSocket and read back; the stereo
recording as heard; the store on both backends, its retention sweep and listing; the
recorder never waits and survives failed writes; logged events kept."""

from __future__ import annotations

import json
import time
import wave
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from pathlib import Path

import httpx
import pytest
import structlog
import trio
from structlog.contextvars import merge_contextvars
from structlog.testing import capture_logs

from receptionist.call import CallServices
from receptionist.config import Config
from receptionist.messages import (
    FRAME_BYTES,
    SAMPLE_RATE,
    ULAW_SILENCE,
    CallStarted,
    ClearAudio,
    InboundAudio,
    MarkPlayed,
    OutboundAudio,
    OutboundMark,
    TurnTimings,
)
from receptionist.records.collector import (
    AudioChunk,
    CallFinished,
    CallRecording,
    RecorderMessage,
    current_recording,
    record_call_events,
    tool_call_detail,
)
from receptionist.records.listing import list_call_lines
from receptionist.records.recorder import Recorder, RecordWriter
from receptionist.records.store import CallSummary, RecordStore, recordings_folder
from receptionist.runtime import build_services
from receptionist.server import serve_app
from tests.helpers.clinic import clinic_config
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


@pytest.fixture
def record_config(database: str, tmp_path: Path) -> Config:
    """The test clinic on each backend (SQLite, PostgreSQL), recordings in tmp_path."""
    config = clinic_config(database)
    return replace(config, records=replace(config.records, folder=str(tmp_path / "rec")))


@pytest.fixture
def store(record_config: Config) -> Iterator[RecordStore]:
    store = RecordStore(record_config)
    store.open()
    store.delete_before(float("inf"))  # PostgreSQL's database is shared by the tests in turn
    yield store
    store.close()


def _save(store: RecordStore, folder: Path, call_sid: str, started_at: float) -> Path:
    relative = f"day/{call_sid}.wav"
    (folder / "day").mkdir(parents=True, exist_ok=True)
    (folder / relative).write_bytes(b"RIFF")
    summary = CallSummary(call_sid, "MZ1", "+15550001111", started_at, started_at + 30,
                          "completed", 0, relative)  # fmt: skip
    store.save(summary, {"lines": [], "turns": []})
    return folder / relative


def test_the_sweep_deletes_records_and_recordings_older_than_keep_days(store, record_config):
    folder = recordings_folder(record_config)
    now = time.time()
    old = _save(store, folder, "CAold", now - 31 * 86400)
    recent = _save(store, folder, "CArecent", now - 29 * 86400)

    swept = RecordWriter(store, folder).sweep(now - record_config.records.keep_days * 86400)

    assert swept == 1
    assert not old.exists()
    assert recent.exists()
    assert [s.call_sid for s in store.calls()] == ["CArecent"]
    assert store.call("CAold") is None


def test_listing_filters_by_day_and_outcome_newest_first(store, record_config):
    day = 1764000000.0  # 2025-11-24 in the clinic's timezone
    for n, outcome in enumerate(("completed", "hung up", "completed")):
        summary = CallSummary(f"CA{n}", "MZ", "", day + n * 60, day + n * 60 + 5, outcome, 0, "")
        store.save(summary, {"n": n})
    _save(store, recordings_folder(record_config), "CAnextday", day + 86400)

    found = store.calls(day=store.local_day(day), outcome="completed")
    assert [s.call_sid for s in found] == ["CA2", "CA0"]
    assert [s.call_sid for s in store.calls(limit=2, offset=1)] == ["CA2", "CA1"]
    assert store.call("CA1") == (
        CallSummary("CA1", "MZ", "", day + 60, day + 65, "hung up", 0, ""),
        {"n": 1},
    )
    assert [d["n"] for d in store.details_of_day(store.local_day(day))] == [0, 1, 2]


def test_a_failed_write_is_logged_and_the_next_one_is_written(store, tmp_path):
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the recordings folder should be")
    writer = RecordWriter(store, blocked)
    with capture_logs() as logs:
        writer.write(AudioChunk("CAbad", b"\xff" * 160, b"\xff" * 160))
        writer.write(CallFinished("CAgood", _record("CAgood")))
    assert [e["event"] for e in logs] == ["records.write_failed", "records.saved"]
    assert store.call("CAgood") is not None


def _record(call_sid: str) -> dict:
    return {"call_sid": call_sid, "stream_sid": "MZ", "caller": "", "started_at": 1.0,
            "ended_at": 2.0, "outcome": "completed", "bookings": [], "lines": []}  # fmt: skip


def _frame(byte: int) -> bytes:
    return bytes([byte]) * FRAME_BYTES


def test_the_recording_is_what_the_caller_heard_a_clear_drops_what_had_not_played():
    sent: list[object] = []
    recording = CallRecording(lambda m: sent.append(m) or True, record_audio=True,
                              max_samples=10 * SAMPLE_RATE)  # fmt: skip
    recording.observe(CallStarted("CA1", "MZ1", "+15551234567", at=0.0), 0.0)
    timings = TurnTimings()
    for n in range(10):  # the caller's first 200 ms
        recording.observe(InboundAudio(_frame(0x11), at=n * 0.02), n * 0.02)
    for _ in range(20):  # 400 ms of agent audio sent ahead of playback: 200 ms have played
        recording.observe(OutboundAudio(1, _frame(0x22), timings), 0.2)
    for n in range(10, 20):
        recording.observe(InboundAudio(_frame(0x11), at=n * 0.02), n * 0.02)
    recording.observe(OutboundMark(1, "m1", "Hello there."), 0.2)
    recording.observe(ClearAudio(1, at=0.4), 0.4)  # barge-in: the last 200 ms never play
    recording.observe(MarkPlayed("m1", at=0.41), 0.41)  # Twilio echoes cleared marks too
    recording.finish(crashed=False)

    chunks = [m for m in sent if isinstance(m, AudioChunk)]
    caller = b"".join(c.caller for c in chunks)
    agent = b"".join(c.agent for c in chunks)
    assert caller == _frame(0x11) * 20
    assert agent == ULAW_SILENCE * FRAME_BYTES * 10 + _frame(0x22) * 10
    (finished,) = [m for m in sent if isinstance(m, CallFinished)]
    (line,) = finished.record["lines"]
    assert (line["text"], line["heard"], line["cut_off"]) == ("Hello there.", False, True)
    assert finished.record["barge_ins"] == [{"turn_id": 1, "at_s": 0.4, "reaction_ms": None}]
    assert finished.record["outcome"] == "hung up"
    assert finished.record["audio_seconds"] == 0.4


async def test_a_full_recorder_queue_drops_and_counts_never_waits(record_config):
    send, receive = trio.open_memory_channel[RecorderMessage](1)
    recorder = Recorder(record_config, send)
    recording = recorder.start_call()
    recording.observe(CallStarted("CA1", "MZ1", None, at=0.0), 0.0)
    for n in range(3 * SAMPLE_RATE // FRAME_BYTES):  # three chunks' worth, room for one
        recording.observe(InboundAudio(_frame(0x11), at=n * 0.02), n * 0.02)
    recording.finish(crashed=True)
    assert recorder.dropped == 3
    assert recording.dropped == 3
    assert isinstance(receive.receive_nowait(), AudioChunk)


async def test_logged_tool_calls_fallbacks_and_guesses_reach_the_calls_record():
    sent: list[object] = []
    recording = CallRecording(lambda m: sent.append(m) or True, record_audio=False,
                              max_samples=SAMPLE_RATE)  # fmt: skip
    recording.observe(CallStarted("CA1", "MZ1", None, at=trio.current_time()))
    log = structlog.get_logger()
    with capture_logs(processors=[merge_contextvars, record_call_events]):
        log.info("llm.tool_call", tool="book_slot", outcome="BookSlot")  # no call: not kept
        token = current_recording.set(recording)
        try:
            log.info("llm.tool_call", tool="book_slot", outcome="BookSlot")
            log.info("dialogue.preemptive", kept=False, guessed="next tuesday")
            log.info("dialogue.heard", text="not an event a record keeps")
        finally:
            current_recording.reset(token)
    recording.finish(crashed=False)
    (finished,) = sent
    assert isinstance(finished, CallFinished)
    events = [(e["event"], e.get("tool"), e.get("kept")) for e in finished.record["events"]]
    assert events == [("llm.tool_call", "book_slot", None), ("dialogue.preemptive", None, False)]


async def test_a_tool_calls_arguments_and_result_reach_the_record_but_no_log_line():
    sent: list[object] = []
    recording = CallRecording(lambda m: sent.append(m) or True, record_audio=False,
                              max_samples=SAMPLE_RATE)  # fmt: skip
    recording.observe(CallStarted("CA1", "MZ1", None, at=trio.current_time()))
    detail = tool_call_detail('{"name": "Jo", "phone": "+15551234567"}', {"booked": {"id": 9}})
    token = current_recording.set(recording)
    try:
        with capture_logs(processors=[merge_contextvars, record_call_events]) as lines:
            structlog.get_logger().info("llm.tool_call", tool="book_appointment", **detail)
    finally:
        current_recording.reset(token)
    recording.finish(crashed=False)
    assert "record_only" not in lines[0]
    assert "+15551234567" not in json.dumps(lines)
    (finished,) = sent
    assert isinstance(finished, CallFinished)
    (event,) = finished.record["events"]
    assert event["arguments"] == {"name": "Jo", "phone": "+15551234567"}
    assert event["result"] == {"booked": {"id": 9}}
    assert tool_call_detail("{not json", {})["record_only"]["arguments"] == "{not json"


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
