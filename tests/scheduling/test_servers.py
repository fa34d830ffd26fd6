"""The live servers' heartbeat rows (heartbeat.py), on each backend."""

from __future__ import annotations

from datetime import timedelta

import pytest

from receptionist.scheduling.store import AppointmentStore, utc_now
from tests.helpers.clinic import Clock, StoreFactory, clinic_config


def test_only_live_non_draining_others_are_peers(make_store: StoreFactory, clock: Clock) -> None:
    first, second = make_store(), make_store()
    first.heartbeat("first", draining=False, ttl_s=10)
    assert first.live_peers("first") == 0, "a server is not its own peer"
    second.heartbeat("second", draining=False, ttl_s=10)
    assert first.live_peers("first") == 1
    assert second.live_peers("second") == 1
    second.heartbeat("second", draining=True, ttl_s=10)
    assert first.live_peers("first") == 0, "a draining server takes no new calls"
    second.heartbeat("second", draining=False, ttl_s=0)
    assert first.live_peers("first") == 0, "a server that stopped beating has expired"
    second.heartbeat("second", draining=False, ttl_s=10)
    second.forget_server("second")
    assert first.live_peers("first") == 0


@pytest.mark.parametrize("database", ["postgres"], indirect=True)
@pytest.mark.parametrize("skew", [timedelta(minutes=-10), timedelta(minutes=10)])
def test_the_databases_clock_decides_expiry_whatever_the_servers_clocks(
    database: str, skew: timedelta
) -> None:
    """Servers on several machines share PostgreSQL, not a clock: a peer whose clock is
    minutes behind is live when it just beat; one minutes ahead expires on time."""
    config = clinic_config(database)
    skewed = AppointmentStore(config, outbox_clock=lambda: utc_now() + skew)
    right = AppointmentStore(config)
    with skewed, right:
        skewed.heartbeat("skewed", draining=False, ttl_s=30)
        assert right.live_peers("right") == 1
        skewed.heartbeat("skewed", draining=False, ttl_s=0)
        assert right.live_peers("right") == 0
        right.heartbeat("right", draining=False, ttl_s=30)
        assert skewed.live_peers("skewed") == 1
