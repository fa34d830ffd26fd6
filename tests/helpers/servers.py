"""Real servers on 127.0.0.1 for the several-servers and drain tests (offline engines, the
real clock; see tests/test_several_servers.py)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import trio
from structlog.contextvars import merge_contextvars
from structlog.testing import capture_logs as _capture_logs

from receptionist import metrics
from receptionist.call import CallServices
from receptionist.config import Config
from receptionist.devtools.replay import load_caller_audio, replay_config, split_utterances
from receptionist.devtools.twilio_caller import CallerReport, TwilioCaller
from receptionist.runtime import build_services
from tests.helpers.calls import NOW
from tests.helpers.paths import PROJECT_ROOT

FIXTURES = PROJECT_ROOT / "tests" / "fixtures"
TEST_LIMIT_S = 120
SHARED_SECRET = "a secret every server of the clinic shares"
METRICS_TOKEN = "scrape-me"


def capture_logs():  # type: ignore[no-untyped-def]
    """Captured events, counted into the metrics as ``configure_logging`` has them counted."""
    return _capture_logs(processors=[merge_contextvars, metrics.observe])


def configured(config: Config, tmp_path: Path, **server: Any) -> Config:
    config = replay_config(config, tmp_path, fast=True)
    secrets = replace(config.secrets, stream_secret=SHARED_SECRET, metrics_token=METRICS_TOKEN)
    return replace(config, server=replace(config.server, **server), secrets=secrets)


async def services_for(config: Config) -> CallServices:
    return await trio.to_thread.run_sync(lambda: build_services(config, now=NOW))


def hours_call() -> list[bytes]:
    return split_utterances(load_caller_audio(FIXTURES / "hours_call.wav"))


async def call(server: str, **caller: Any) -> CallerReport:
    twilio = TwilioCaller(server, paced=False, reply_quiet_s=0.5, **caller)
    return await twilio.run(hours_call())


async def until_event(logs: list[dict[str, Any]], name: str) -> None:
    with trio.fail_after(30):
        while not any(e["event"] == name for e in logs):  # noqa: ASYNC110 (a log, no event)
            await trio.sleep(0.01)


def start_message(call_sid: str, parameters: dict[str, str]) -> dict[str, Any]:
    start = {
        "streamSid": "MZ" + call_sid[2:],
        "callSid": call_sid,
        "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
        "customParameters": parameters,
    }
    return {"event": "start", "start": start}


async def append(reports: list[CallerReport], report: Any) -> None:
    reports.append(await report)
