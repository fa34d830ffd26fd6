"""Schemas on each backend: ``receptionist db upgrade`` from nothing and from version 1,
idempotent; a store refuses a schema that is not its own; PostgreSQL's own guarantees."""

from __future__ import annotations

import sqlite3
import threading
from datetime import datetime
from pathlib import Path

import psycopg
import pytest

from receptionist.cli import main
from receptionist.devtools.postgres_cluster import Cluster
from receptionist.errors import ConfigError, StoreUnavailable
from receptionist.scheduling.messages import Appointment
from receptionist.scheduling.migrations import LATEST, STEPS
from receptionist.scheduling.store import AppointmentStore
from tests.helpers.clinic import PHONE, TUESDAY, Clock, at, clinic_config, query
from tests.helpers.paths import PROJECT_ROOT

NOW = Clock(at(TUESDAY, "08:00"))


def version_1_sqlite(path: Path) -> None:
    """A file as releases before the outbox left it, with one booking."""
    path.parent.mkdir(parents=True)
    with sqlite3.connect(path) as conn:
        for statement in STEPS[0].sqlite:
            conn.execute(statement)
        conn.execute(
            "INSERT INTO appointments (start_ts, end_ts, service, name, phone, created_at)"
            " VALUES (?, ?, 'check-up', 'Old Booking', ?, 0)",
            (int(at(TUESDAY, "10:00").timestamp()), int(at(TUESDAY, "10:30").timestamp()), PHONE),
        )
        conn.execute("PRAGMA user_version = 1")


def version_1_postgres(url: str) -> None:
    query(url, "CREATE TABLE schema_version (version integer PRIMARY KEY,"
               " description text NOT NULL, applied_at timestamptz NOT NULL)")  # fmt: skip
    for statement in STEPS[0].postgres:
        query(url, statement)
    query(url, "INSERT INTO schema_version VALUES (1, 'appointments', now())")
    query(url, "INSERT INTO appointments (clinic, start_at, end_at, service, name, phone,"
               f" created_at) VALUES ('the clinic', '{at(TUESDAY, '10:00').isoformat()}',"
               f" '{at(TUESDAY, '10:30').isoformat()}', 'check-up', 'Old Booking', '{PHONE}',"
               " now())")  # fmt: skip


@pytest.fixture(params=["sqlite", "postgres"])
def empty(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A database with no schema: a SQLite path with no file, or an empty PostgreSQL one."""
    if request.param == "sqlite":
        return str(tmp_path / "data" / "appointments.sqlite3")
    url: str = request.getfixturevalue("empty_postgres")
    return url


def upgrade(database: str) -> tuple[int, int]:
    store = AppointmentStore(clinic_config(database))
    try:
        return store.upgrade()
    finally:
        store.close()


def test_upgrade_from_nothing_is_idempotent(empty: str) -> None:
    assert upgrade(empty) == (0, LATEST)
    assert upgrade(empty) == (LATEST, LATEST)
    rows = query(empty, "SELECT version, description FROM schema_version ORDER BY version")
    assert rows == [(step.version, step.description) for step in STEPS]
    with AppointmentStore(clinic_config(empty), now=NOW) as store:
        assert isinstance(store.book("check-up", at(TUESDAY, "10:00"), "Jo", PHONE), Appointment)


def test_upgrade_from_version_1_keeps_the_bookings(empty: str) -> None:
    if empty.startswith("postgresql://"):
        version_1_postgres(empty)
    else:
        version_1_sqlite(Path(empty))
    older = f"older than this release's {LATEST}: run `receptionist"
    with pytest.raises(StoreUnavailable, match=older):
        AppointmentStore(clinic_config(empty), now=NOW).open()
    assert upgrade(empty) == (1, LATEST)
    with AppointmentStore(clinic_config(empty), now=NOW, outbox_topics=("calendar",)) as store:
        (old,) = store.appointments()
        assert (old.name, old.start) == ("Old Booking", at(TUESDAY, "10:00"))
        assert isinstance(store.cancel(old.id, PHONE), Appointment)
        (item,) = store.outbox_claim("calendar", limit=1, lease_s=60)
        assert item.payload["action"] == "delete"


def test_a_new_sqlite_file_gets_the_schema_without_an_upgrade(tmp_path: Path) -> None:
    path = tmp_path / "new" / "appointments.sqlite3"
    with AppointmentStore(clinic_config(path)) as store:
        assert store.appointments() == ()
    assert upgrade(str(path)) == (LATEST, LATEST)


def test_an_empty_postgres_database_needs_an_upgrade(empty_postgres: str) -> None:
    store = AppointmentStore(clinic_config(empty_postgres))
    with pytest.raises(StoreUnavailable, match=r"version 0, older .* `receptionist db upgrade`"):
        store.find_bookings(PHONE)
    store.close()


def test_a_newer_postgres_schema_is_refused(empty_postgres: str) -> None:
    upgrade(empty_postgres)
    query(empty_postgres, f"INSERT INTO schema_version VALUES ({LATEST + 1}, 'future', now())")
    refused = AppointmentStore(clinic_config(empty_postgres))
    for attempt in (refused.open, lambda: upgrade(empty_postgres)):
        with pytest.raises(StoreUnavailable, match="newer than this release's"):
            attempt()


def test_two_upgrades_at_once_take_turns(empty_postgres: str) -> None:
    outcomes: list[tuple[int, int]] = []
    barrier = threading.Barrier(2)

    def run() -> None:
        barrier.wait()
        outcomes.append(upgrade(empty_postgres))

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == [(0, LATEST), (LATEST, LATEST)]


def test_the_db_upgrade_command(empty: str, capsys: pytest.CaptureFixture[str]) -> None:
    command = ["--config", str(PROJECT_ROOT / "config.toml"), "db", "upgrade",
               "--set", f"scheduler.database={empty}"]  # fmt: skip
    assert main(command) == 0
    assert main(command) == 0
    assert capsys.readouterr().out.splitlines() == [
        f"{empty}: schema upgraded from version 0 to {LATEST}",
        f"{empty}: 0 phone numbers rewritten in E.164 (US)",
        f"{empty}: schema already at version {LATEST}",
        f"{empty}: 0 phone numbers rewritten in E.164 (US)",
    ]


# --- PostgreSQL: the constraint, the password ----------------------------------------------


def insert(url: str, resource: str | None, start: str, end: str) -> None:
    def iso(hhmm: str) -> str:
        return at(TUESDAY, hhmm).isoformat()

    resource_sql = "NULL" if resource is None else f"'{resource}'"
    query(url, "INSERT INTO appointments (clinic, resource, start_at, end_at, service, name,"
               f" phone, created_at) VALUES ('c', {resource_sql}, '{iso(start)}', '{iso(end)}',"
               " 'check-up', 'Jo', '+1', now())")  # fmt: skip


def test_the_constraint_refuses_an_overlap_whoever_writes_it(empty_postgres: str) -> None:
    upgrade(empty_postgres)
    insert(empty_postgres, "chair 1", "10:00", "10:30")
    insert(empty_postgres, "chair 1", "10:30", "11:00")  # back to back
    insert(empty_postgres, "chair 2", "10:00", "10:30")  # another chair
    insert(empty_postgres, None, "11:00", "11:30")  # the clinic as a whole
    for resource in ("chair 1", "chair 2", None):
        with pytest.raises(psycopg.errors.ExclusionViolation):
            insert(empty_postgres, resource, "10:15", "10:45")
        with pytest.raises(psycopg.errors.ExclusionViolation):  # the whole clinic's time
            insert(empty_postgres, resource, "11:15", "11:45")
    query(empty_postgres, "UPDATE appointments SET cancelled_at = now() WHERE resource IS NULL")
    insert(empty_postgres, "chair 2", "11:15", "11:45")  # cancelled ones free their slot


def test_a_password_in_the_url_is_refused(postgres_cluster: Cluster) -> None:
    url = f"postgresql://receptionist:secret@127.0.0.1:{postgres_cluster.port}/postgres"
    with pytest.raises(ConfigError, match="RECEPTIONIST_DATABASE_PASSWORD") as caught:
        AppointmentStore(clinic_config(url))
    assert "secret" not in str(caught.value)


@pytest.mark.parametrize("variable", ["PGPASSWORD", "RECEPTIONIST_DATABASE_PASSWORD"])
def test_the_password_comes_from_the_environment(
    postgres_migrated: str, postgres_cluster: Cluster, variable: str
) -> None:
    environ = {variable: postgres_cluster.password}
    with AppointmentStore(clinic_config(postgres_migrated, environ=environ)) as store:
        store.find_bookings(PHONE)
    wrong = AppointmentStore(clinic_config(postgres_migrated, environ={variable: "wrong"}))
    with pytest.raises(StoreUnavailable, match="password authentication failed") as caught:
        wrong.open()
    assert "wrong" not in str(caught.value).replace("password authentication failed", "")


def test_an_unreachable_server_is_unavailable_at_once(postgres_cluster: Cluster) -> None:
    url = "postgresql://receptionist@127.0.0.1:1/receptionist"
    started = datetime.now()
    with pytest.raises(StoreUnavailable, match=url):
        AppointmentStore(clinic_config(url)).open()
    assert (datetime.now() - started).total_seconds() < 2  # not the pool's 5 s timeout


def test_pool_sizes_are_checked() -> None:
    with pytest.raises(ConfigError, match="pool_min_size"):
        clinic_config("x.sqlite3", pool_min_size=5, pool_max_size=4)
    with pytest.raises(ConfigError, match="pool_max_size"):
        clinic_config("x.sqlite3", pool_min_size=0, pool_max_size=0)
