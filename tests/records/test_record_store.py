"""The call-record store on both backends: its retention sweep, listing, and a failed write
logged with the next one written."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from receptionist.config import Config
from receptionist.records.collector import AudioChunk, CallFinished
from receptionist.records.recorder import RecordWriter
from receptionist.records.store import CallSummary, RecordStore, recordings_folder


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
