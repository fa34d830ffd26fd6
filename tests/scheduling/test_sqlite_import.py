"""``receptionist db import-sqlite``: a SQLite file made by the store, into a real PostgreSQL
database; idempotent, all or nothing, conflicts refused, a dry run that writes nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from receptionist.cli import main
from receptionist.config import Config
from receptionist.errors import ImportConflict, StoreUnavailable
from receptionist.records.store import CallSummary, RecordStore
from receptionist.scheduling.messages import (
    Appointment,
    LeaveMessage,
    MessageReason,
)
from receptionist.scheduling.slots import Rejection
from receptionist.scheduling.sqlite_import import import_sqlite
from receptionist.scheduling.store import AppointmentStore
from tests.helpers.clinic import OTHER_PHONE, PHONE, TUESDAY, Clock, at, book, clinic_config, query
from tests.helpers.paths import PROJECT_ROOT

TOPICS = ("calendar",)
NOW = at(TUESDAY, "08:00")


@pytest.fixture
def sqlite_file(tmp_path: Path) -> Path:
    """A clinic's file as the store leaves it: bookings (one moved, one cancelled), their
    outbox rows, a call outcome and a call record."""
    path = tmp_path / "data" / "appointments.sqlite3"
    config = clinic_config(path)
    with AppointmentStore(config, now=Clock(NOW), outbox_topics=TOPICS) as store:
        kept = book(store, at(TUESDAY, "10:00"))
        moved = book(store, at(TUESDAY, "11:00"), phone=OTHER_PHONE)
        cancelled = book(store, at(TUESDAY, "12:00"))
        assert isinstance(store.move(moved.id, OTHER_PHONE, at(TUESDAY, "14:00")), Appointment)
        assert isinstance(store.cancel(cancelled.id, PHONE), Appointment)
        store.outbox_done(1)
        store.save_outcome("CAoutcome", ("transfer", "+15550009999", None))
        left = LeaveMessage(1, "CAmessage", "Jane Doe", PHONE, "her results", MessageReason.ASKED)
        assert not isinstance(store.save_message(left), Rejection)
        assert kept.id == 1
    records = RecordStore(config)
    started = NOW.timestamp()
    records.save(
        CallSummary("CArecord", "MZ1", PHONE, started, started + 42, "completed", 1, "a.wav"),
        {"lines": [{"who": "caller", "text": "hello"}]},
    )
    records.close()
    return path


@pytest.fixture
def target(empty_postgres: str) -> Config:
    config = clinic_config(empty_postgres)
    store = AppointmentStore(config)
    store.upgrade()
    store.close()
    return config


def rows(config: Config, sql: str) -> list[tuple[object, ...]]:
    return query(config.scheduler.database, sql)


def test_everything_is_copied_once(sqlite_file: Path, target: Config) -> None:
    report = import_sqlite(sqlite_file, target)
    assert report.copied == {
        "appointments": 3, "outbox": 6, "call_outcomes": 1, "clinic_messages": 1, "calls": 1
    }  # fmt: skip

    again = import_sqlite(sqlite_file, target)  # a second run copies nothing twice
    assert sum(again.copied.values()) == 0
    assert again.already == report.copied

    with AppointmentStore(target, now=Clock(NOW), outbox_topics=TOPICS) as store:
        assert [(a.id, f"{a.start:%H:%M}") for a in store.appointments()] == [
            (1, "10:00"),
            (2, "14:00"),  # the moved one where it went; the cancelled gone
        ]
        # Ids kept, and the next booking gets a new one: the calendar names events by id.
        assert book(store, at(TUESDAY, "15:00")).id == 4
        assert store.take_outcome("CAoutcome") == ("transfer", "+15550009999", None)
        claimed = store.outbox_claim("calendar", limit=10, lease_s=30)
    assert [item.key for item in claimed] == ["appointment:2", "appointment:3", "appointment:4"]
    assert claimed[0].payload["appointment"]["id"] == 2  # the oldest undone of appointment 2
    assert rows(target, "SELECT count(*) FROM outbox WHERE done_at IS NOT NULL") == [(1,)]
    records = RecordStore(target)
    found = records.call("CArecord")
    records.close()
    assert found is not None
    assert found[0].seconds == 42
    assert found[1]["lines"][0]["text"] == "hello"


def test_a_row_moved_or_cancelled_since_is_still_the_same_row(
    sqlite_file: Path, target: Config
) -> None:
    import_sqlite(sqlite_file, target)
    with AppointmentStore(target, now=Clock(NOW)) as store:
        assert isinstance(store.move(1, PHONE, at(TUESDAY, "16:00")), Appointment)
    assert sum(import_sqlite(sqlite_file, target).copied.values()) == 0


def test_a_dry_run_counts_and_writes_nothing(sqlite_file: Path, target: Config) -> None:
    report = import_sqlite(sqlite_file, target, dry_run=True)
    assert report.copied["appointments"] == 3
    assert rows(target, "SELECT count(*) FROM appointments") == [(0,)]
    assert rows(target, "SELECT count(*) FROM calls") == [(0,)]
    assert import_sqlite(sqlite_file, target).copied == report.copied


def test_conflicting_rows_are_refused_and_nothing_is_written(
    sqlite_file: Path, target: Config
) -> None:
    with AppointmentStore(target, now=Clock(NOW)) as store:
        book(store, at(TUESDAY, "09:00"), service="consultation")  # another booking as id 1
        query(target.scheduler.database,
              "SELECT setval(pg_get_serial_sequence('appointments', 'id'), 9)")  # fmt: skip
        book(store, at(TUESDAY, "14:15"))  # id 10, over the file's 14:00 (id 2, moved there)
    with pytest.raises(ImportConflict) as refused:
        import_sqlite(sqlite_file, target)
    message = str(refused.value)
    assert "appointments 1: a different row has this id" in message
    assert "overlaps an active appointment" in message
    assert rows(target, "SELECT count(*) FROM appointments") == [(2,)]
    assert rows(target, "SELECT count(*) FROM outbox") == [(0,)]
    assert rows(target, "SELECT count(*) FROM calls") == [(0,)]


def test_an_old_file_or_a_sqlite_target_is_refused(
    sqlite_file: Path, target: Config, tmp_path: Path
) -> None:
    query(
        str(sqlite_file),
        "DELETE FROM schema_version WHERE version = (SELECT max(version) FROM schema_version)",
    )
    with pytest.raises(StoreUnavailable, match="db upgrade"):
        import_sqlite(sqlite_file, target)
    with pytest.raises(StoreUnavailable, match="into a PostgreSQL store"):
        import_sqlite(sqlite_file, clinic_config(tmp_path / "other.sqlite3"))


def test_the_command(sqlite_file: Path, target: Config, capsys: pytest.CaptureFixture[str]) -> None:
    url = target.scheduler.database
    command = ["--config", str(PROJECT_ROOT / "config.toml"), "db", "import-sqlite",
               str(sqlite_file), "--set", f"scheduler.database={url}"]  # fmt: skip
    assert main([*command, "--dry-run"]) == 0
    assert main(command) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "appointments: 3 copied, 0 already there"
    assert out[5] == f"dry run: nothing written to {url}"
    assert out[-1] == f"imported {sqlite_file} into {url}"
    assert rows(target, "SELECT count(*) FROM appointments") == [(3,)]
