"""The LLM brain's summary of a call, through the real client and the fake OpenAI server:
the model's words when it answers, the composed summary when it fails or is too slow, and
the recorder's report with either."""

from __future__ import annotations

from functools import partial
from pathlib import Path

import trio
from structlog.testing import capture_logs

from receptionist.devtools.fakes.openai import Scripted
from receptionist.messages import CallStarted, EndCall, EndReason, Transcript
from receptionist.records.recorder import run_recorder
from receptionist.scheduling.messages import Appointment, BookingConfirmed
from receptionist.staff.summary import INSTRUCTIONS, llm_summary
from tests.helpers.clinic import PHONE, TUESDAY, at, clinic_config
from tests.helpers.llm import openai_server
from tests.helpers.review import wait_for_record

SUMMARY = "Maria Garcia booked a check-up for Tuesday at 10:00. She asked about parking."
CALL_SID = "CA" + "9" * 32
TEN = at(TUESDAY, "10:00")
RECORD = {
    "call_sid": CALL_SID, "caller": PHONE, "started_at": 0.0, "ended_at": 70.0,
    "outcome": "completed",
    "lines": [{"who": "caller", "text": "a check-up on Tuesday at ten", "start_s": 2.0}],
    "bookings": [{"change": "booked", "id": 1, "start": TEN.isoformat(), "service": "check-up",
                  "name": "Maria Garcia", "reason": ""}],
}  # fmt: skip


async def test_the_models_two_sentences_from_the_facts_and_the_transcript() -> None:
    async with openai_server(Scripted(text=SUMMARY)) as (fake, client):
        assert await llm_summary(client, RECORD, timeout_s=2.0) == SUMMARY
    (request,) = fake.requests
    system, user = request.body["messages"]
    assert system == {"role": "system", "content": INSTRUCTIONS}
    assert "Outcome: booked." in user["content"]
    assert "caller: a check-up on Tuesday at ten" in user["content"]
    assert "tools" not in request.body


async def test_a_failing_or_slow_model_gives_no_summary() -> None:
    with capture_logs() as logs:
        async with openai_server(Scripted(status=500), Scripted(status=500)) as (_fake, client):
            assert await llm_summary(client, RECORD, timeout_s=2.0) == ""
        slow = Scripted(text=SUMMARY, first_token_delay_s=5.0)
        async with openai_server(slow) as (_fake, client):
            assert await llm_summary(client, RECORD, timeout_s=0.2) == ""
    failures = [line for line in logs if line["event"] == "report.summary_failed"]
    assert len(failures) == 2
    assert "within 0.2 s" in failures[1]["error"]


async def test_the_recorders_report_has_the_models_summary_or_the_composed_one(
    tmp_path: Path,
) -> None:
    failing = (Scripted(status=500), Scripted(status=500))  # retried once
    for replies, source in (((Scripted(text=SUMMARY),), "llm"), (failing, "facts")):
        config = clinic_config(tmp_path / f"{source}.sqlite3")
        async with openai_server(*replies) as (_fake, client), trio.open_nursery() as nursery:
            summarise = partial(llm_summary, client, timeout_s=2.0)
            recorder = await nursery.start(run_recorder, config, summarise)
            _booking_call(recorder.start_call())
            _summary, detail = await wait_for_record(config, CALL_SID)
            nursery.cancel_scope.cancel()
        report = detail["report"]
        assert report["summary_from"] == source
        assert report["outcome"] == "booked"
        if source == "llm":
            assert report["summary"] == SUMMARY
        else:
            assert report["summary"].startswith("Maria Garcia booked a check-up for Tuesday")
        assert "llm_summary" not in detail


def _booking_call(recording) -> None:  # type: ignore[no-untyped-def]
    recording.observe(CallStarted(CALL_SID, "MZ9", PHONE, at=0.0), at=0.0)
    recording.observe(Transcript("a check-up on tuesday at ten", True, 2.0, at=2.0), at=2.0)
    appointment = Appointment(1, TEN, TEN.replace(minute=30), "check-up", "Maria Garcia", PHONE, "")
    recording.observe(BookingConfirmed(1, appointment), at=3.0)
    recording.observe(EndCall(EndReason.COMPLETED), at=4.0)
    recording.finish(crashed=False)
