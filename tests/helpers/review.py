"""Shared by the call records and review page tests: a server with records on, one call."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from pathlib import Path

import httpx
import trio

from receptionist.config import Config
from receptionist.devtools.replay import load_caller_audio, replay_config, split_utterances
from receptionist.devtools.twilio_caller import CallerReport, TwilioCaller
from receptionist.records.store import CallSummary, RecordStore
from tests.helpers.paths import PROJECT_ROOT

PASSWORD = "correct horse battery staple"
NOW = datetime.fromisoformat("2026-11-24T09:00:00-05:00")
RECORD_WAIT_S = 10.0


def records_config(project_config: Config, tmp_path: Path, *, password: str = PASSWORD) -> Config:
    config = replay_config(project_config, tmp_path, fast=True)
    return replace(config, secrets=replace(config.secrets, admin_password=password))


async def place_call(server: str, fixture: str, call_sid: str) -> CallerReport:
    audio = load_caller_audio(PROJECT_ROOT / "tests" / "fixtures" / fixture)
    caller = TwilioCaller(server, paced=False, reply_quiet_s=0.5, call_sid=call_sid)
    return await caller.run(split_utterances(audio))


async def wait_for_record(config: Config, call_sid: str) -> tuple[CallSummary, dict]:
    """The recorder writes after the call's end, off its path: poll until it has."""
    store = RecordStore(config)
    with trio.fail_after(RECORD_WAIT_S):
        while True:
            found = await trio.to_thread.run_sync(store.call, call_sid)
            if found is not None:
                return found
            await trio.sleep(0.05)


async def log_in(
    client: httpx.AsyncClient, server: str, password: str = PASSWORD
) -> httpx.Response:
    form = await client.get(f"{server}/calls/login")
    csrf = form.text.split('name="csrf" value="', 1)[1].split('"', 1)[0]
    return await client.post(f"{server}/calls/login", data={"csrf": csrf, "password": password})
