"""Past one process: health and metrics, a stream on another server than its webhook,
``serve --workers`` (the drain: test_drain.py).

Real servers on 127.0.0.1 with the offline engines, on the real clock (the recogniser and
the voice run in worker threads), as in test_end_to_end.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import httpx
import pytest
import trio

from receptionist.call import CallServices
from receptionist.config import Config
from receptionist.devtools.twilio_caller import TwilioCaller
from receptionist.server import serve_app
from stages.listener import ListenerEngines
from tests.helpers.paths import PROJECT_ROOT
from tests.helpers.servers import (
    METRICS_TOKEN,
    TEST_LIMIT_S,
    call,
    capture_logs,
    configured,
    hours_call,
    services_for,
    until_event,
)


@pytest.fixture
async def services(project_config: Config, tmp_path: Path) -> CallServices:
    return await services_for(configured(project_config, tmp_path))


@pytest.fixture
async def server(services: CallServices, nursery: trio.Nursery) -> AsyncIterator[str]:
    binds = await nursery.start(serve_app, services, "127.0.0.1", 0)
    yield binds[0]
    nursery.cancel_scope.cancel()


# --- health and metrics ------------------------------------------------------------------


async def test_healthz_and_readyz(server: str) -> None:
    async with httpx.AsyncClient() as client:
        assert (await client.get(f"{server}/healthz")).json() == {"status": "ok"}
        ready = await client.get(f"{server}/readyz")
    assert ready.status_code == 200
    assert ready.json()["status"] == "ready"


async def test_readyz_fails_when_the_database_is_unreachable(
    project_config: Config, tmp_path: Path, nursery: trio.Nursery
) -> None:
    services = await services_for(configured(project_config, tmp_path))
    database = trio.Path(services.config.scheduler.database)
    server = (await nursery.start(serve_app, services, "127.0.0.1", 0))[0]
    await database.unlink()
    await database.mkdir()  # no SQLite file can be opened there any more
    async with httpx.AsyncClient() as client:
        ready = await client.get(f"{server}/readyz")
    assert ready.status_code == 503
    assert ready.json()["problems"] == ["database unreachable"]
    nursery.cancel_scope.cancel()


async def test_metrics_need_the_token(server: str) -> None:
    async with httpx.AsyncClient() as client:
        anonymous = await client.get(f"{server}/metrics")
        wrong = await client.get(f"{server}/metrics", headers={"Authorization": "Bearer no"})
        with capture_logs() as logs, trio.fail_after(TEST_LIMIT_S):
            await call(server)
            # The caller is done when the agent hangs up; the server logs (and counts)
            # call.end a moment later. Counted only while the capture installs the processor.
            await until_event(logs, "call.end")
        scraped = await client.get(
            f"{server}/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}
        )
    assert anonymous.status_code == wrong.status_code == 401
    assert scraped.status_code == 200
    assert scraped.headers["content-type"].startswith("text/plain")
    text = scraped.text
    assert "receptionist_calls_active" in text
    assert 'receptionist_calls_total{outcome="' in text  # completed, or hung_up: who hangs up first
    assert "receptionist_turn_latency_seconds_count" in text
    assert "receptionist_frames_total" in text


async def test_metrics_are_off_without_a_token(
    project_config: Config, tmp_path: Path, nursery: trio.Nursery
) -> None:
    config = configured(project_config, tmp_path)
    config = replace(config, secrets=replace(config.secrets, metrics_token=""))
    server = (await nursery.start(serve_app, await services_for(config), "127.0.0.1", 0))[0]
    async with httpx.AsyncClient() as client:
        assert (await client.get(f"{server}/metrics")).status_code == 404
    nursery.cancel_scope.cancel()


# --- a stream on another server than its webhook ------------------------------------------


class WebhookElsewhere(TwilioCaller):
    """Twilio asks the webhook of one server and opens the stream on another."""

    def __init__(self, webhook_server: str, stream_server: str, **options: Any) -> None:
        super().__init__(stream_server, paced=False, reply_quiet_s=0.5, **options)
        self.webhook_server = webhook_server

    async def answer_webhook(self) -> tuple[str, dict[str, str]]:
        stream_server, self.base_url = self.base_url, self.webhook_server
        try:
            return await super().answer_webhook()
        finally:
            self.base_url = stream_server


async def test_a_stream_lands_on_another_server_than_its_webhook(
    project_config: Config, tmp_path: Path, nursery: trio.Nursery
) -> None:
    """Two servers share only the secret and the database; the second one's pipeline fails,
    and the first one, asked /call-ended, knows it from the database: Twilio apologises."""
    config = configured(project_config, tmp_path)
    first = (await nursery.start(serve_app, await services_for(config), "127.0.0.1", 0))[0]

    async def broken() -> ListenerEngines:
        raise RuntimeError("recogniser exploded")

    second_services = replace(await services_for(config), new_listener_engines=broken)
    second = (await nursery.start(serve_app, second_services, "127.0.0.1", 0))[0]
    with capture_logs() as logs, trio.fail_after(TEST_LIMIT_S):
        await WebhookElsewhere(first, second).run(hours_call())
    events = [e["event"] for e in logs]
    assert "call.rejected" not in events, "the second server accepts the first one's token"
    assert "call.crashed" in events
    async with httpx.AsyncClient() as client:
        ended = await client.post(
            f"{first}/call-ended", data={"CallSid": TwilioCaller(first).call_sid}
        )
    twiml = ElementTree.fromstring(ended.text)
    assert twiml.find("Say") is not None, "the first server knows the call failed on the second"
    nursery.cancel_scope.cancel()


async def test_a_server_with_another_secret_refuses_the_stream(
    project_config: Config, tmp_path: Path, nursery: trio.Nursery
) -> None:
    config = configured(project_config, tmp_path)
    first = (await nursery.start(serve_app, await services_for(config), "127.0.0.1", 0))[0]
    other = replace(config, secrets=replace(config.secrets, stream_secret="another"))
    second = (await nursery.start(serve_app, await services_for(other), "127.0.0.1", 0))[0]
    with capture_logs() as logs, trio.fail_after(TEST_LIMIT_S):
        report = await WebhookElsewhere(first, second).run(hours_call())
    assert report.closed_by_server
    assert not report.heard_ulaw
    assert any(e["event"] == "call.rejected" for e in logs)
    nursery.cancel_scope.cancel()


# --- serve --workers ---------------------------------------------------------------------


def test_serve_with_two_workers_answers_and_stops_on_sigterm(tmp_path: Path) -> None:
    database = json.dumps(str(tmp_path / "appointments.sqlite3"))
    command = [sys.executable, "-m", "receptionist.cli", "serve", "--workers", "2", "--host",
               "127.0.0.1", "--port", "0", "--set", f"scheduler.database={database}"]  # fmt: skip
    env = {k: v for k, v in os.environ.items() if k != "RECEPTIONIST_STREAM_SECRET"}
    parent = subprocess.Popen(
        command, cwd=PROJECT_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True,
    )  # fmt: skip
    try:
        assert parent.stdout is not None
        lines: list[str] = []
        address = None
        running = 0
        for line in parent.stdout:
            lines.append(line)
            if "workers.started" in line:
                address = json.loads(line)["address"]
            running += "Running on" in line
            if running == 2:
                break
        assert address is not None, "".join(lines)
        assert any("workers.stream_secret_generated" in line for line in lines)
        response = httpx.get(f"http://{address[0]}:{address[1]}/healthz", timeout=10)
        assert response.json() == {"status": "ok"}
        parent.send_signal(signal.SIGTERM)
        rest = parent.communicate(timeout=90)[0]
        # Each worker drained; its exit status is not asserted: on a loaded machine the
        # recogniser's worker processes may outlast their exit grace and be killed.
        assert rest.count('"server.drained"') == 2, rest
        assert rest.count('"workers.exited"') == 2, rest
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()
