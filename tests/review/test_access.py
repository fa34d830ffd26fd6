"""The review pages hold patients' calls: off without a password, and every route refuses
without a session. Login and logout are CSRF-safe."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import trio
from structlog.testing import capture_logs

from receptionist.config import Config
from receptionist.records.store import CallSummary, RecordStore, recordings_folder
from receptionist.review.lockout import FIRST_LOCK_S, PER_ADDRESS_TRIES
from receptionist.runtime import build_services
from receptionist.server import serve_app
from tests.helpers.review import NOW, PASSWORD, log_in, records_config

SID = "CA" + "7" * 32
ROUTES = ("/calls", f"/calls/{SID}", f"/calls/{SID}.json", f"/calls/{SID}/recording.wav")


async def _serve(config: Config, nursery: trio.Nursery) -> str:
    store = RecordStore(config)
    store.open()
    (recordings_folder(config) / "d").mkdir(parents=True)
    (recordings_folder(config) / "d/x.wav").write_bytes(b"RIFF....WAVE")
    started = time.time() - 3600  # within keep_days: the sweep at start-up keeps it
    summary = CallSummary(SID, "MZ1", "+15559876543", started, started + 20, "completed", 0,
                          "d/x.wav")  # fmt: skip
    store.save(summary, {"lines": [{"who": "caller", "text": "secret <b>", "start_s": 0,
                                    "end_s": 1, "heard": True, "cut_off": False}],
                         "turns": [], "bookings": [],
                         "events": [{"event": "llm.tool_call", "at_s": 3.5,
                                     "tool": "book_appointment", "outcome": "Book",
                                     "arguments": {"name": "<script>x</script>"},
                                     "result": {"booked": {"appointment_id": 9}}}]})  # fmt: skip
    services = await trio.to_thread.run_sync(lambda: build_services(config, now=NOW))
    return (await nursery.start(serve_app, services, "127.0.0.1", 0))[0]


@pytest.fixture
async def server(
    project_config: Config, tmp_path: Path, nursery: trio.Nursery
) -> AsyncIterator[str]:
    yield await _serve(records_config(project_config, tmp_path), nursery)
    nursery.cancel_scope.cancel()


async def test_every_route_refuses_without_a_session(server):
    async with httpx.AsyncClient(follow_redirects=False) as client:
        for route in ROUTES:
            response = await client.get(server + route)
            assert response.status_code in (302, 401), route
            assert "secret" not in response.text
            assert "9876543" not in response.text
            if response.status_code == 302:
                assert response.headers["location"] == "/calls/login"
        client.cookies.set("receptionist_session", "9" * 10 + ".x.y")
        assert (await client.get(server + ROUTES[1])).status_code == 302


async def test_a_session_opens_every_route_and_escapes_what_callers_said(server):
    async with httpx.AsyncClient(follow_redirects=False) as client:
        login = await log_in(client, server)
        assert login.status_code == 302
        cookie = login.headers["set-cookie"].lower()
        for attribute in ("httponly", "samesite=strict", "path=/calls"):
            assert attribute in cookie
        for route in ROUTES:
            response = await client.get(server + route)
            assert response.status_code == 200, route
            assert response.headers["cache-control"] == "no-store"
        page = await client.get(server + ROUTES[1])
        assert "secret &lt;b&gt;" in page.text
        # A tool call: what the model asked (escaped: a caller's words) and was answered.
        assert "&lt;script&gt;x&lt;/script&gt;" in page.text
        assert "<script>x" not in page.text
        assert "{&#34;booked&#34;: {&#34;appointment_id&#34;: 9}}" in page.text
        assert "*******6543" in page.text


async def test_login_refuses_a_wrong_password_a_missing_token_and_another_origin(server):
    async with httpx.AsyncClient(follow_redirects=False) as client:
        assert (await log_in(client, server, password="guess")).status_code == 403
        no_token = await client.post(f"{server}/calls/login", data={"password": PASSWORD})
        assert no_token.status_code == 403
        form = await client.get(f"{server}/calls/login")
        csrf = form.text.split('name="csrf" value="', 1)[1].split('"', 1)[0]
        cross = await client.post(
            f"{server}/calls/login", data={"csrf": csrf, "password": PASSWORD},
            headers={"Origin": "https://evil.example"},
        )  # fmt: skip
        assert cross.status_code == 403
        assert "receptionist_session" not in client.cookies


async def test_logout_needs_its_token_and_ends_the_session(server):
    async with httpx.AsyncClient(follow_redirects=False) as client:
        await log_in(client, server)
        assert (await client.post(f"{server}/calls/logout", data={})).status_code == 400
        page = await client.get(f"{server}/calls")
        token = page.text.split('name="csrf" value="', 1)[1].split('"', 1)[0]
        out = await client.post(f"{server}/calls/logout", data={"csrf": token})
        assert out.status_code == 302
        assert (await client.get(f"{server}/calls")).status_code == 302


async def test_without_a_password_the_pages_do_not_exist(
    project_config: Config, tmp_path: Path, nursery: trio.Nursery
):
    server = await _serve(records_config(project_config, tmp_path, password=""), nursery)
    async with httpx.AsyncClient(follow_redirects=False) as client:
        for route in (*ROUTES, "/calls/login"):
            assert (await client.get(server + route)).status_code == 404, route
        posted = await client.post(f"{server}/calls/login", data={"password": ""})
        assert posted.status_code == 404
    nursery.cancel_scope.cancel()


async def test_wrong_passwords_lock_the_login_out_even_for_the_right_one(server):
    async with httpx.AsyncClient(follow_redirects=False) as client:
        with capture_logs() as logs:
            for _ in range(PER_ADDRESS_TRIES):
                assert (await log_in(client, server, password="guess")).status_code == 403
            locked = await log_in(client, server)
    assert locked.status_code == 429
    assert int(locked.headers["retry-after"]) == FIRST_LOCK_S
    assert "try again in" in locked.text
    assert "receptionist_session" not in locked.headers.get("set-cookie", "")
    failures = [e for e in logs if e["event"] == "review.login_failed"]
    assert [e["lock_s"] for e in failures] == [0] * (PER_ADDRESS_TRIES - 1) + [FIRST_LOCK_S]
    assert [e["event"] for e in logs][-1] == "review.login_locked"
