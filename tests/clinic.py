"""A small clinic and a settable clock, shared by the scheduling tests."""

from __future__ import annotations

from datetime import date, datetime, time
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier
from pathlib import Path
from zoneinfo import ZoneInfo

from receptionist.config import Config, parse_config
from receptionist.messages import Appointment, RejectReason
from receptionist.scheduling.store import AppointmentStore, Rejection

TZ = ZoneInfo("America/New_York")
TUESDAY = date(2026, 12, 1)
"""Open 09:00-17:00; 'now' is 08:00 that morning, so with an hour's notice 09:00 is bookable."""
WEDNESDAY = date(2026, 12, 2)
FRIDAY = date(2026, 12, 4)
"""Open 09:00-12:00 only."""
SATURDAY = date(2026, 12, 5)
"""Closed."""
PHONE = "+15551234567"
OTHER_PHONE = "+15559876543"


def at(day: date, hhmm: str) -> datetime:
    """A clinic-local aware datetime."""
    return datetime.combine(day, time.fromisoformat(hhmm), TZ)


class Clock:
    """A settable ``now`` for the store."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def clinic_config(database: Path | str, **scheduler: object) -> Config:
    """The test clinic, its appointments in ``database`` (a SQLite path or PostgreSQL URL)."""
    return parse_config(
        {
            "clinic": {
                "timezone": "America/New_York",
                "hours": {
                    "monday": "09:00-17:00",
                    "tuesday": "09:00-17:00",
                    "wednesday": "09:00-17:00",
                    "thursday": "09:00-17:00",
                    "friday": "09:00-12:00",
                },
            },
            "services": [
                {"name": "check-up", "minutes": 30},
                {"name": "consultation", "minutes": 20},
                {"name": "vaccination", "minutes": 15},
            ],
            "scheduler": {
                "database": str(database),
                "slot_minutes": 15,
                "horizon_days": 60,
                "min_notice_minutes": 60,
                **scheduler,
            },
        }
    )


def book_in_turns(
    database: str, now: datetime, days: list[date], barrier: Barrier, results: Queue[object]
) -> None:
    """In a child process: book 10:00 on each day, waiting at ``barrier`` before each."""
    with AppointmentStore(clinic_config(database), now=Clock(now)) as store:
        for day in days:
            barrier.wait()
            outcome = store.book("check-up", at(day, "10:00"), "Proc", PHONE)
            results.put((day, type(outcome).__name__))


def book(
    store: AppointmentStore, start: datetime, service: str = "check-up", phone: str = PHONE
) -> Appointment:
    booked = store.book(service, start, "John Smith", phone, "annual")
    assert isinstance(booked, Appointment), booked
    return booked


def reason_of(outcome: object) -> RejectReason:
    assert isinstance(outcome, Rejection), outcome
    return outcome.reason
