"""The webhook, from the outbox to a real receiver on 127.0.0.1 that verifies signatures.

The report's outbox row is written with the call's record, in one transaction, on each
backend. Delivery runs on the real clock: the store runs in worker threads and the receiver
is a socket, and a mock clock that jumps whenever every task waits would fire the request's
timeout while the receiver is still answering. Backoffs and polls are tens of milliseconds.
"""

from __future__ import annotations

from collections import deque
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import trio
from structlog.testing import capture_logs

from receptionist.config import Config
from receptionist.records.collector import CallFinished
from receptionist.records.recorder import RecordWriter
from receptionist.records.store import RecordStore
from receptionist.scheduling.database import open_backend
from receptionist.scheduling.store import AppointmentStore
from receptionist.staff.webhook import MESSAGE_TOPIC, REPORT_TOPIC, serve_webhook
from tests.helpers.clinic import PHONE, TUESDAY, at, clinic_config
from tests.helpers.webhook_receiver import Answer, WebhookReceiver

SECRET = "whsec_test_0123456789"
CALL_SID = "CA" + "8" * 32
TEST_LIMIT_S = 20


def notify_config(database: str, webhook_url: str = "https://clinic.example/hooks") -> Config:
    config = clinic_config(database)
    notify = replace(
        config.notify, webhook_url=webhook_url, retry_initial_s=0.05, retry_max_s=0.2,
        poll_s=0.02, timeout_s=0.5, lease_s=5.0,
    )  # fmt: skip
    return replace(config, notify=notify, secrets=replace(config.secrets, webhook_secret=SECRET))


def booking_record(call_sid: str = CALL_SID) -> dict[str, Any]:
    started = at(TUESDAY, "08:00").timestamp()
    return {
        "call_sid": call_sid, "stream_sid": "MZ1", "caller": PHONE, "started_at": started,
        "ended_at": started + 62, "outcome": "completed", "turns": [], "barge_ins": [],
        "events": [], "lines": [{"who": "caller", "text": "a check-up please", "start_s": 2.0}],
        "bookings": [{"change": "booked", "id": 3, "start": "2026-12-01T10:00:00-05:00",
                      "end": "2026-12-01T10:30:00-05:00", "service": "check-up",
                      "name": "Maria Garcia", "reason": "a chipped tooth"}],
    }  # fmt: skip


@pytest.fixture
def records(database: str, tmp_path: Path) -> Iterator[tuple[Config, RecordStore]]:
    config = notify_config(database)
    store = RecordStore(config)
    store.open()
    store.delete_before(float("inf"))  # PostgreSQL's database is shared by the tests in turn
    yield config, store
    store.close()


def test_a_report_is_in_the_outbox_exactly_when_its_record_is_kept(records, tmp_path):
    config, store = records
    writer = RecordWriter(store, tmp_path, report_topic=REPORT_TOPIC)
    writer.write(CallFinished(CALL_SID, booking_record()))
    writer.write(CallFinished(CALL_SID, booking_record()))  # written twice: kept once

    found = store.call(CALL_SID)
    assert found is not None
    report = found[1]["report"]
    assert report["outcome"] == "booked"
    with AppointmentStore(config) as appointments:
        (item,) = appointments.outbox_claim(REPORT_TOPIC, limit=5, lease_s=5)
    assert item.key == f"call:{CALL_SID}"
    assert dict(item.payload) == report


def test_without_a_webhook_the_report_is_kept_locally_only(records, tmp_path):
    config, store = records
    RecordWriter(store, tmp_path).write(CallFinished(CALL_SID, booking_record()))
    found = store.call(CALL_SID)
    assert found is not None
    assert found[1]["report"]["outcome"] == "booked"
    with AppointmentStore(config) as appointments:
        assert appointments.outbox_waiting(REPORT_TOPIC) == 0


@asynccontextmanager
async def receiving(*answers: Answer) -> AsyncIterator[tuple[WebhookReceiver, str]]:
    receiver = WebhookReceiver(SECRET, deque(answers))
    async with trio.open_nursery() as nursery:
        url = await nursery.start(receiver.serve)
        yield receiver, url
        nursery.cancel_scope.cancel()


@pytest.mark.parametrize("second_failure", ["drop", "stall"])
async def test_fails_twice_then_accepts_once_across_a_restart_signature_verified(
    tmp_path: Path, second_failure: Answer
) -> None:
    database = str(tmp_path / "data" / "appointments.sqlite3")
    with trio.fail_after(TEST_LIMIT_S):
        async with receiving("500", second_failure) as (receiver, url):
            config = notify_config(database, url)
            store = RecordStore(config)
            writer = RecordWriter(store, tmp_path, report_topic=REPORT_TOPIC)
            await trio.to_thread.run_sync(writer.write, CallFinished(CALL_SID, booking_record()))
            outbox = AppointmentStore(config)

            with capture_logs() as logs:
                async with trio.open_nursery() as first_worker:
                    await first_worker.start(serve_webhook, outbox, config)
                    await receiver.until(1)
                    await _logged(logs, "notify.delivery_failed", 1)
                    first_worker.cancel_scope.cancel()  # the process restarts

                async with trio.open_nursery() as second_worker:
                    await second_worker.start(serve_webhook, outbox, config)
                    await _logged(logs, "notify.delivered", 1)
                    second_worker.cancel_scope.cancel()

    assert [answer.signature_valid for answer in receiver.requests] == [True, True, True]
    assert {answer.id for answer in receiver.requests} == {f"report:call:{CALL_SID}"}
    (accepted,) = receiver.accepted.values()
    envelope = accepted.envelope
    assert envelope["type"] == "call.report"
    assert envelope["clinic"] == config.clinic.name
    assert envelope["data"]["outcome"] == "booked"
    assert envelope["data"]["caller"] == PHONE
    failures = [line for line in logs if line["event"] == "notify.delivery_failed"]
    assert [line["attempts"] for line in failures] == [1, 2]
    assert "500" in failures[0]["error"]
    assert outbox.outbox_waiting(REPORT_TOPIC) == 0


async def test_a_message_for_the_clinic_goes_on_its_own_and_gives_up_after_max_attempts(
    tmp_path: Path,
) -> None:
    database = str(tmp_path / "data" / "appointments.sqlite3")
    with trio.fail_after(TEST_LIMIT_S):
        async with receiving("500", "500", "500") as (receiver, url):
            config = notify_config(database, url)
            config = replace(config, notify=replace(config.notify, max_attempts=2))
            outbox = AppointmentStore(config)
            outbox.open()
            message = {"name": "Maria Garcia", "phone": PHONE, "about": "insurance",
                       "reason": "no answer", "call_sid": CALL_SID}  # fmt: skip
            backend = open_backend(database, config)
            with backend.transaction(write=True) as tx:
                tx.add_outbox(MESSAGE_TOPIC, f"call:{CALL_SID}", message, datetime.now(UTC))
            with capture_logs() as logs:
                async with trio.open_nursery() as worker:
                    await worker.start(serve_webhook, outbox, config)
                    await _logged(logs, "notify.gave_up", 1)
                    worker.cancel_scope.cancel()

    assert len(receiver.requests) == 2
    assert receiver.requests[0].envelope["type"] == "clinic.message"
    assert receiver.requests[0].envelope["data"] == message
    assert outbox.outbox_waiting(MESSAGE_TOPIC) == 0
    (gave_up,) = [line for line in logs if line["event"] == "notify.gave_up"]
    assert gave_up["log_level"] == "error"
    assert gave_up["attempts"] == 2


async def _logged(logs: list[dict[str, Any]], event: str, count: int) -> None:
    """The worker logs after the outbox has the outcome: poll until it has."""
    while True:
        if sum(line["event"] == event for line in logs) >= count:
            return
        await trio.sleep(0.01)
