"""Whole calls over the real WebSocket: the emulated Twilio caller, logs with the call's context."""

from __future__ import annotations

from datetime import datetime

from structlog.contextvars import merge_contextvars
from structlog.testing import capture_logs as _capture_logs

from receptionist.devtools.replay import load_caller_audio, split_utterances
from receptionist.devtools.twilio_caller import CallerReport, TwilioCaller
from tests.helpers.loop_budget import no_step_longer_than
from tests.helpers.paths import PROJECT_ROOT

FIXTURES = PROJECT_ROOT / "tests" / "fixtures"


def capture_logs():  # type: ignore[no-untyped-def]
    """Captured log events with the call's bound context (call_sid, stream_sid) merged in."""
    return _capture_logs(processors=[merge_contextvars])


NOW = datetime.fromisoformat("2026-11-24T09:00:00-05:00")
"""A Tuesday morning: "next Tuesday" is the 1st of December."""
TEST_LIMIT_S = 120


def utterances(fixture: str) -> list[bytes]:
    return split_utterances(load_caller_audio(FIXTURES / fixture))


async def call(server: str, fixture: str, **caller: object) -> CallerReport:
    """One whole call; it fails if any task step (the server's included) held the loop."""
    audio = utterances(fixture)  # the caller's own work, before the clock starts
    with no_step_longer_than():
        return await unchecked_call(server, audio, **caller)


async def unchecked_call(server: str, audio: list[bytes], **caller: object) -> CallerReport:
    """``caller``: TwilioCaller's options; unpaced, and a reply is over after 0.5 s of quiet
    unless ``reply_quiet_s`` says otherwise."""
    options: dict[str, object] = {"paced": False, "reply_quiet_s": 0.5, **caller}
    twilio = TwilioCaller(server, **options)  # type: ignore[arg-type]
    return await twilio.run(audio)
