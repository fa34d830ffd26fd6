"""The live servers' heartbeat rows (heartbeat.py), on each backend."""

from __future__ import annotations

from datetime import timedelta

from tests.helpers.clinic import Clock, StoreFactory


def test_only_live_non_draining_others_are_peers(make_store: StoreFactory, clock: Clock) -> None:
    first, second = make_store(), make_store()
    first.heartbeat("first", draining=False, ttl_s=10)
    assert first.live_peers("first") == 0, "a server is not its own peer"
    second.heartbeat("second", draining=False, ttl_s=10)
    assert first.live_peers("first") == 1
    assert second.live_peers("second") == 1
    second.heartbeat("second", draining=True, ttl_s=10)
    assert first.live_peers("first") == 0, "a draining server takes no new calls"
    second.heartbeat("second", draining=False, ttl_s=10)
    clock.now += timedelta(seconds=11)
    assert first.live_peers("first") == 0, "a server that stopped beating has expired"
    second.heartbeat("second", draining=False, ttl_s=10)
    second.forget_server("second")
    assert first.live_peers("first") == 0
