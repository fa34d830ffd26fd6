"""Live servers announce themselves, so a draining one knows where its new calls can go.

Each server process writes a heartbeat row (its id, whether it drains, an expiry
``HEARTBEAT_LIVES`` beats ahead) in the shared database every ``[server] heartbeat_s``, and
again at once when its drain begins; it deletes the row as it stops. A draining server
redirects a new call only while another live, non-draining server exists; else it hands the
caller to the clinic's number, or says a polite line (drain.py): never a redirect onto
itself. With SQLite (one machine, usually one process) there is rarely a peer: the call
goes to the clinic's number. A server killed outright stays "live" until its row expires.
"""

from __future__ import annotations

import os
import secrets
import socket

import structlog
import trio

from receptionist.drain import Drain
from receptionist.errors import StoreUnavailable
from receptionist.scheduling.store import AppointmentStore

log = structlog.get_logger()

HEARTBEAT_LIVES = 3
"""A row expires after this many missed beats: a slow write is not a death."""
PEER_CHECK_TIMEOUT_S = 1.0
"""A webhook waits this long at most to learn whether a peer is live (Twilio waits 15 s)."""
FORGET_TIMEOUT_S = 2.0


def new_server_id() -> str:
    """Unique across machines and restarts: host, process and a random part."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"


async def announce(
    store: AppointmentStore, drain: Drain, interval_s: float,
    *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:  # fmt: skip
    """Beat every ``interval_s`` (and when the drain begins) until cancelled; then forget
    this server, shielded and time-boxed. A failed beat is logged and tried again."""
    ttl_s = interval_s * HEARTBEAT_LIVES
    try:
        await _beat(store, drain, ttl_s)
        task_status.started()
        while True:
            with trio.move_on_after(interval_s):
                if not drain.draining:
                    await drain.began.wait()
            await _beat(store, drain, ttl_s)
            if drain.draining:  # announced as draining: only the expiry matters now
                await trio.sleep(interval_s)
    finally:
        with trio.move_on_after(FORGET_TIMEOUT_S, shield=True):
            try:
                await trio.to_thread.run_sync(
                    store.forget_server, drain.server_id, abandon_on_cancel=True
                )
            except StoreUnavailable as exc:
                log.warning("server.heartbeat_failed", during="forget", error=str(exc))


async def _beat(store: AppointmentStore, drain: Drain, ttl_s: float) -> None:
    # Abandoned when cancelled: a hung database must not hold up the server's stop. Should
    # an abandoned beat land after forget_server, its row just expires like a killed one's.
    try:
        await trio.to_thread.run_sync(
            lambda: store.heartbeat(drain.server_id, draining=drain.draining, ttl_s=ttl_s),
            abandon_on_cancel=True,
        )
    except StoreUnavailable as exc:
        log.warning("server.heartbeat_failed", error=str(exc))


async def live_peer_exists(store: AppointmentStore, server_id: str) -> bool | None:
    """Whether another server is live and not draining; None when the database does not
    say in time (the caller then decides)."""
    with trio.move_on_after(PEER_CHECK_TIMEOUT_S):
        try:
            peers = await trio.to_thread.run_sync(
                store.live_peers, server_id, abandon_on_cancel=True
            )
        except StoreUnavailable as exc:
            log.warning("server.peers_unknown", error=str(exc))
            return None
        return peers > 0
    log.warning("server.peers_unknown", error="timed out")
    return None
