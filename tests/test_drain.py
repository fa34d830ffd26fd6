"""The drain on SIGTERM: calls in progress finish, new ones go to a live peer, or else to
the clinic's number or a polite line; never back onto the draining server (heartbeat.py).

Real servers on 127.0.0.1 with the offline engines, on the real clock. SIGTERM is sent to
this very process: each server under test here catches it with trio's signal receiver, as
in production; a peer is a real ``receptionist serve`` process on the same PostgreSQL.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from xml.etree import ElementTree

import httpx
import pytest
import trio
import trio_websocket

from receptionist.call import CallServices
from receptionist.config import Config
from receptionist.devtools.twilio_caller import CallerReport, TwilioCaller
from receptionist.drain import CALL_BACK, GOING_AWAY, redirect_twiml
from receptionist.scheduling.store import AppointmentStore
from receptionist.server import serve_app
from tests.helpers.clinic import database_environ, query
from tests.helpers.paths import PROJECT_ROOT
from tests.helpers.servers import (
    SHARED_SECRET,
    TEST_LIMIT_S,
    append,
    call,
    capture_logs,
    configured,
    services_for,
    start_message,
    until_event,
)

HEARTBEAT_S = 0.2
CLINIC_NUMBER = "+15550001111"


@pytest.fixture
async def services(project_config: Config, tmp_path: Path) -> CallServices:
    return await services_for(configured(project_config, tmp_path))


async def test_sigterm_lets_the_call_in_progress_finish_and_turns_new_calls_away(
    services: CallServices,
) -> None:
    reports: list[CallerReport] = []
    with capture_logs() as logs, trio.fail_after(TEST_LIMIT_S):
        async with trio.open_nursery() as nursery:
            server = (await nursery.start(serve_app, services, "127.0.0.1", 0))[0]
            late_sid = "CA" + "8" * 32
            _url, late_parameters = await TwilioCaller(server, call_sid=late_sid).answer_webhook()
            nursery.start_soon(lambda: append(reports, call(server)))
            await until_event(logs, "call.start")
            os.kill(os.getpid(), signal.SIGTERM)
            await until_event(logs, "server.draining")

            async with httpx.AsyncClient() as client:
                webhook = await client.post(
                    f"{server}/incoming-call", data={"CallSid": "CA" + "9" * 32}
                )
                ready = await client.get(f"{server}/readyz")
            # Alone on its SQLite file, with no clinic number: no redirect onto itself.
            twiml = ElementTree.fromstring(webhook.text)
            assert twiml.find("Connect") is None
            assert twiml.find("Redirect") is None
            assert twiml.findtext("Say") == CALL_BACK
            assert twiml.find("Hangup") is not None
            assert ready.status_code == 503
            assert ready.json()["problems"] == ["draining"]

            # A stream whose webhook another server answered: refused, and Twilio's
            # /call-ended (on any server) then starts the call again at /incoming-call.
            url = server.replace("http://", "ws://") + "/media-stream"
            async with trio_websocket.open_websocket_url(url) as ws:
                await ws.send_message(json.dumps(start_message(late_sid, late_parameters)))
                with pytest.raises(trio_websocket.ConnectionClosed) as closed:
                    await ws.get_message()
            assert closed.value.reason.code == GOING_AWAY
            async with httpx.AsyncClient() as client:
                ended = await client.post(f"{server}/call-ended", data={"CallSid": late_sid})
            assert ElementTree.fromstring(ended.text).findtext("Say") == CALL_BACK
        # serve_app returned by itself: the drain was over.

    (report,) = reports
    assert report.closed_by_server, "the receptionist said goodbye and hung up, as usual"
    assert all(latency is not None for latency in report.reply_latencies_ms)
    (end,) = [e for e in logs if e["event"] == "call.end"]
    assert end["outcome"] == "completed"


async def test_at_the_drain_deadline_a_call_is_ended_politely(
    project_config: Config, tmp_path: Path
) -> None:
    services = await services_for(configured(project_config, tmp_path, drain_timeout_s=0.2))
    reports: list[CallerReport] = []
    with capture_logs() as logs, trio.fail_after(TEST_LIMIT_S):
        async with trio.open_nursery() as nursery:
            server = (await nursery.start(serve_app, services, "127.0.0.1", 0))[0]
            nursery.start_soon(lambda: append(reports, call(server)))
            await until_event(logs, "call.start")
            os.kill(os.getpid(), signal.SIGTERM)

    (report,) = reports
    assert report.closed_by_server
    (end,) = [e for e in logs if e["event"] == "call.end"]
    assert end["outcome"] == "drained"
    assert any(e["event"] == "server.drain_deadline" for e in logs)
    async with httpx.AsyncClient() as client, trio.open_nursery() as nursery:
        after = (await nursery.start(serve_app, services, "127.0.0.1", 0))[0]
        ended = await client.post(f"{after}/call-ended", data={"CallSid": report.call_sid})
        nursery.cancel_scope.cancel()
    assert ElementTree.fromstring(ended.text).find("Hangup") is not None


def test_the_twiml_of_a_draining_server() -> None:
    url = "https://clinic.example/incoming-call"
    redirect = ElementTree.fromstring(redirect_twiml(url, 0, CLINIC_NUMBER, peer=True))
    assert redirect.findtext("Redirect") == f"{url}?redirects=1"
    alone = ElementTree.fromstring(redirect_twiml(url, 0, CLINIC_NUMBER, peer=False))
    assert alone.findtext("Dial") == CLINIC_NUMBER
    assert alone.find("Redirect") is None
    tried = ElementTree.fromstring(redirect_twiml(url, 5, None, peer=True))
    assert tried.findtext("Say") == CALL_BACK
    assert tried.find("Redirect") is None


# --- a peer in another process, on PostgreSQL ----------------------------------------------


@pytest.fixture
def shared_database(postgres_migrated: str) -> str:
    query(postgres_migrated, "DELETE FROM servers")
    return postgres_migrated


def start_peer(database: str, tmp_path: Path) -> subprocess.Popen[str]:
    """``receptionist serve`` in a process of its own, beating every HEARTBEAT_S; its log in
    tmp_path (shown by pytest's tmp_path on failure)."""
    log = (tmp_path / f"peer-{len(list(tmp_path.glob('peer-*.log')))}.log").open("w")
    settings = [f"scheduler.database={json.dumps(database)}", f"server.heartbeat_s={HEARTBEAT_S}",
                f"records.folder={json.dumps(str(tmp_path / 'peer-records'))}"]  # fmt: skip
    command = [sys.executable, "-m", "receptionist.cli", "serve", "--host", "127.0.0.1",
               "--port", "0", *(arg for s in settings for arg in ("--set", s))]  # fmt: skip
    env = {**os.environ, "RECEPTIONIST_STREAM_SECRET": SHARED_SECRET}
    return subprocess.Popen(
        command, cwd=PROJECT_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip


@pytest.fixture
def peers(shared_database: str, tmp_path: Path) -> Iterator[list[subprocess.Popen[str]]]:
    started: list[subprocess.Popen[str]] = []
    yield started
    for process in started:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=30)


async def live_peers(store: AppointmentStore, me: str) -> int:
    return await trio.to_thread.run_sync(store.live_peers, me)


async def until_peers(store: AppointmentStore, me: str, count: int) -> None:
    with trio.fail_after(60):  # a new process loads its engines first
        while await live_peers(store, me) != count:  # noqa: ASYNC110 (another process)
            await trio.sleep(HEARTBEAT_S / 2)


async def new_call_answer(server: str) -> ElementTree.Element:
    async with httpx.AsyncClient() as client:
        webhook = await client.post(f"{server}/incoming-call", data={"CallSid": "CA" + "7" * 32})
    return ElementTree.fromstring(webhook.text)


async def answer_once_alone(server: str) -> ElementTree.Element:
    """The answer to a new call once the server sees no live peer (within its expiry)."""
    with trio.fail_after(10):
        while (answer := await new_call_answer(server)).find("Redirect") is not None:  # noqa: ASYNC110
            await trio.sleep(HEARTBEAT_S / 2)
    return answer


async def test_a_draining_server_redirects_only_while_a_live_peer_serves(
    project_config: Config, tmp_path: Path, shared_database: str,
    peers: list[subprocess.Popen[str]],
) -> None:  # fmt: skip
    config = configured(project_config, tmp_path, drain_timeout_s=60.0, heartbeat_s=HEARTBEAT_S)
    config = replace(
        config,
        clinic=replace(config.clinic, transfer_number=CLINIC_NUMBER),
        scheduler=replace(config.scheduler, database=shared_database),
        secrets=replace(config.secrets, database_password=database_environ().popitem()[1]),
    )
    services = await services_for(config)
    watcher = AppointmentStore(config)  # of the same clinic as the servers
    peers.append(start_peer(shared_database, tmp_path))
    with capture_logs() as logs, trio.fail_after(TEST_LIMIT_S):
        async with trio.open_nursery() as nursery:
            server = (await nursery.start(serve_app, services, "127.0.0.1", 0))[0]
            await until_peers(watcher, "the test", 2)  # this server and the peer
            # A call in progress keeps this server draining while the test goes on.
            url, parameters = await TwilioCaller(server).answer_webhook()
            async with trio_websocket.open_websocket_url(url) as ws:
                await ws.send_message(json.dumps({"event": "connected"}))
                await ws.send_message(json.dumps(start_message(TwilioCaller(server).call_sid,
                                                               parameters)))  # fmt: skip
                await until_event(logs, "call.start")
                os.kill(os.getpid(), signal.SIGTERM)
                await until_event(logs, "server.draining")
                await until_peers(watcher, "the test", 1)  # announced as draining at once

                assert (await new_call_answer(server)).findtext("Redirect") is not None

                peers[0].send_signal(signal.SIGTERM)  # the peer drains too: nobody left
                assert (await answer_once_alone(server)).findtext("Dial") == CLINIC_NUMBER

                peers.append(start_peer(shared_database, tmp_path))
                await until_peers(watcher, "the test", 1)
                assert (await new_call_answer(server)).findtext("Redirect") is not None
                peers[1].kill()  # a crashed machine: its heartbeat expires
                assert (await answer_once_alone(server)).findtext("Dial") == CLINIC_NUMBER
    watcher.close()
    redirected = [e for e in logs if e["event"] == "webhook.redirected_draining"]
    assert redirected[0]["peer"] is True
    assert redirected[-1]["peer"] is False
