"""The heartbeat (heartbeat.py) when the database hangs: a server still stops at once.

A real PostgreSQL whose ``servers`` table another session keeps locked, as a stuck database
would: the heartbeat's writes wait on it. Stopping must not wait with them.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

import psycopg
import pytest
import trio

from receptionist.drain import Drain
from receptionist.heartbeat import FORGET_TIMEOUT_S, announce
from receptionist.scheduling.store import AppointmentStore
from tests.helpers.clinic import clinic_config, database_environ, query

HEARTBEAT_S = 1.0
RELEASE_AFTER_S = 5.0
"""Real seconds the lock is held at most: a server that waited this long did not stop at once."""


@contextmanager
def servers_locked(database: str) -> Iterator[threading.Event]:
    """Lock the servers table from another session until the block ends (or, at the
    latest, RELEASE_AFTER_S); the event tells whether the lock was released by then."""
    conn = psycopg.connect(database, password=database_environ()["RECEPTIONIST_DATABASE_PASSWORD"])
    conn.execute("LOCK TABLE servers IN ACCESS EXCLUSIVE MODE")
    released = threading.Event()
    release_lock = threading.Lock()

    def release() -> None:
        with release_lock:
            if not released.is_set():
                conn.rollback()
                released.set()

    timer = threading.Timer(RELEASE_AFTER_S, release)
    timer.start()
    try:
        yield released
    finally:
        timer.cancel()
        release()
        conn.close()


@pytest.mark.parametrize("database", ["postgres"], indirect=True)
async def test_a_stopping_server_does_not_wait_for_a_hung_database(
    database: str, autojump_clock: trio.abc.Clock
) -> None:
    store = AppointmentStore(clinic_config(database))
    drain = Drain("hung")
    try:
        with ExitStack() as stack:
            async with trio.open_nursery() as nursery:
                await nursery.start(announce, store, drain, HEARTBEAT_S)
                assert query(database, "SELECT server_id FROM servers") == [("hung",)]
                released = stack.enter_context(servers_locked(database))
                await trio.sleep(HEARTBEAT_S * 1.5)  # the next beat waits on the lock
                started = trio.current_time()
                nursery.cancel_scope.cancel()
            assert not released.is_set(), "stopping waited for the database"
            assert trio.current_time() - started <= FORGET_TIMEOUT_S
    finally:
        store.close()
