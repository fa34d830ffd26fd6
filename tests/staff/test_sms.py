"""Confirmation texts: the words (nothing clinical), the outbox row written with the booking
by the runtime's store only when texts are on, and their sending through the fake Twilio
REST API, retried after a failure. Real clock: the store runs in worker threads and Twilio's
fake is a server on 127.0.0.1 (see test_webhook.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import trio
from structlog.testing import capture_logs

from receptionist.devtools.fakes.twilio_rest import FakeTwilioRest, Fault
from receptionist.runtime import build_services
from receptionist.scheduling.messages import Appointment
from receptionist.scheduling.outbox import appointment_payload
from receptionist.staff.sms import SMS_TOPIC, confirmation_text, serve_sms
from tests.helpers.clinic import PHONE, TUESDAY, at, clinic_config
from tests.helpers.notify import CLINIC_NUMBER, twilio_config

TEST_LIMIT_S = 20
TEN = at(TUESDAY, "10:00")
NOW = at(TUESDAY, "08:00")


def test_the_text_says_clinic_type_date_and_time_and_nothing_clinical() -> None:
    appointment = Appointment(
        4, TEN, at(TUESDAY, "10:30"), "check-up", "Maria Garcia", PHONE, "painful wisdom tooth"
    )
    booked = confirmation_text(appointment_payload("upsert", appointment), "Smile Dental")
    cancelled = confirmation_text(appointment_payload("delete", appointment), "Smile Dental")
    assert booked == (
        "Smile Dental: your check-up is booked for Tuesday 1 December at 10:00."
        " Call us to change it."
    )
    assert cancelled == "Smile Dental: your check-up on Tuesday 1 December at 10:00 is cancelled."
    for text in (booked, cancelled):
        assert "tooth" not in text
        assert "Maria" not in text
        assert PHONE not in text


@asynccontextmanager
async def fake_twilio() -> AsyncIterator[FakeTwilioRest]:
    fake = FakeTwilioRest()
    async with trio.open_nursery() as nursery:
        await nursery.start(fake.serve)
        yield fake
        nursery.cancel_scope.cancel()


async def test_a_booking_is_texted_once_after_twilio_fails_once(tmp_path: Path) -> None:
    with trio.fail_after(TEST_LIMIT_S):
        async with fake_twilio() as fake:
            config = twilio_config(clinic_config(tmp_path / "db.sqlite3"), fake)
            services = await trio.to_thread.run_sync(lambda: build_services(config, now=NOW))
            store = services.store
            booked = store.book("check-up", TEN, "Maria Garcia", PHONE, "painful wisdom tooth")
            assert isinstance(booked, Appointment)
            fake.faults.append(Fault.SERVER_ERROR)
            with capture_logs() as logs:
                async with trio.open_nursery() as worker:
                    await worker.start(serve_sms, store, config)
                    await _logged(logs, "notify.delivered")
                    worker.cancel_scope.cancel()

    (message,) = fake.messages
    assert (message["to"], message["from"]) == (PHONE, CLINIC_NUMBER)
    assert "Tuesday 1 December at 10:00" in message["body"]
    assert "tooth" not in message["body"]
    assert "Maria" not in message["body"]
    (failed,) = [line for line in logs if line["event"] == "notify.delivery_failed"]
    assert failed["topic"] == SMS_TOPIC
    assert store.outbox_waiting(SMS_TOPIC) == 0


async def test_opted_out_a_booking_adds_no_text(tmp_path: Path) -> None:
    async with fake_twilio() as fake:
        config = twilio_config(clinic_config(tmp_path / "db.sqlite3"), fake, texts=False)
        services = await trio.to_thread.run_sync(lambda: build_services(config, now=NOW))
        booked = services.store.book("check-up", TEN, "Maria Garcia", PHONE)
    assert isinstance(booked, Appointment)
    assert services.store.outbox_waiting(SMS_TOPIC) == 0
    assert fake.messages == []


async def _logged(logs: list[dict[str, Any]], event: str) -> None:
    while True:
        if any(line["event"] == event for line in logs):
            return
        await trio.sleep(0.01)
