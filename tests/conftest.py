"""Fixtures shared by the whole suite: the project's config, the stores on SQLite and a
throwaway PostgreSQL cluster, a Radicale CalDAV server. Helpers live in tests/helpers/."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from receptionist.config import Config, load_config
from receptionist.config.calendar import CalendarConfig
from receptionist.devtools.postgres_cluster import (
    HOW_TO_ENABLE,
    Cluster,
    running_cluster,
    server_binaries,
)
from receptionist.scheduling.store import AppointmentStore
from tests.helpers.calendar_helpers import calendar_settings
from tests.helpers.calendar_outbox import StoreOutbox
from tests.helpers.clinic import TUESDAY, Clock, StoreFactory, at, clinic_config
from tests.helpers.paths import PROJECT_ROOT
from tests.helpers.radicale_server import RadicaleServer

BACKENDS = ("sqlite", "postgres")


@pytest.fixture(scope="session")
def project_config() -> Config:
    """The config.toml users start from (no keys: tests never read the environment)."""
    return load_config(PROJECT_ROOT / "config.toml", environ={})


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """Every test skipped for want of PostgreSQL is listed under one line (-ra), not one
    line per test."""
    report = yield
    longrepr = report.longrepr
    if report.skipped and isinstance(longrepr, tuple) and HOW_TO_ENABLE in str(longrepr[2]):
        report.longrepr = (__file__, 0, longrepr[2])
    return report


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[Cluster]:
    """A PostgreSQL server for the whole run, reached the way a deployment reaches one: a
    URL without the password, which is in RECEPTIONIST_DATABASE_PASSWORD (so processes the
    tests start find it too)."""
    binaries = server_binaries()
    if binaries is None:
        pytest.skip(HOW_TO_ENABLE)
    with running_cluster(binaries) as cluster:
        os.environ["RECEPTIONIST_DATABASE_PASSWORD"] = cluster.password
        try:
            yield cluster
        finally:
            del os.environ["RECEPTIONIST_DATABASE_PASSWORD"]


@pytest.fixture(scope="session")
def postgres_migrated(postgres_cluster: Cluster) -> str:
    """The URL of a database at this release's schema, shared by the tests in turn."""
    name = "receptionist_tests"
    with postgres_cluster.admin() as conn:
        conn.execute(f"CREATE DATABASE {name}")
    store = AppointmentStore(clinic_config(postgres_cluster.url(name)))
    store.upgrade()
    store.close()
    return postgres_cluster.url(name)


@pytest.fixture
def empty_postgres(postgres_cluster: Cluster) -> Iterator[str]:
    """The URL of a new database with no schema, dropped after the test."""
    with postgres_cluster.fresh_database() as url:
        yield url


@pytest.fixture(params=BACKENDS)
def database(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """``[scheduler] database`` for a test, on each backend: a SQLite path whose folder does
    not exist yet, or the URL of a PostgreSQL database at this release's schema, emptied
    (TRUNCATE: a new database per test costs half a second here)."""
    if request.param == "sqlite":
        return str(tmp_path / "data" / "appointments.sqlite3")
    cluster: Cluster = request.getfixturevalue("postgres_cluster")
    url: str = request.getfixturevalue("postgres_migrated")
    with psycopg.connect(url, password=cluster.password, autocommit=True) as conn:
        conn.execute("TRUNCATE appointments, outbox, servers RESTART IDENTITY")
    return url


@pytest.fixture
def clock() -> Clock:
    return Clock(at(TUESDAY, "08:00"))


@pytest.fixture
def make_store(database: str, clock: Clock) -> Iterator[StoreFactory]:
    """New stores on the test's database (each as another process would have), closed after."""
    stores: list[AppointmentStore] = []

    def make(**options: Any) -> AppointmentStore:
        # One clock for the clinic and the outbox, so a test moves leases and backoffs on.
        options.setdefault("outbox_clock", clock)
        stores.append(AppointmentStore(clinic_config(database), now=clock, **options))
        return stores[-1]

    yield make
    for store in stores:
        store.close()


@pytest.fixture
def store(make_store: StoreFactory) -> AppointmentStore:
    return make_store()


@pytest.fixture(scope="session")
def radicale(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """A CalDAV server (Radicale) on 127.0.0.1 for the whole session."""
    server = RadicaleServer(tmp_path_factory.mktemp("radicale"))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def settings(radicale: RadicaleServer) -> CalendarConfig:
    """A fresh, empty calendar on the session's Radicale."""
    return calendar_settings(radicale.new_calendar())


@pytest.fixture
def outbox(tmp_path: Path) -> Iterator[StoreOutbox]:
    """The real store's outbox on a fresh SQLite file."""
    store_outbox = StoreOutbox(tmp_path / "outbox.sqlite3")
    yield store_outbox
    store_outbox.close()
