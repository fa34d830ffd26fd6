"""A small clinic and a settable clock, shared by the scheduling tests."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable
from datetime import date, datetime, time
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import psycopg

from receptionist.config import Config, parse_config
from receptionist.config.environment import DATABASE_PASSWORDS
from receptionist.scheduling.messages import Appointment, RejectReason
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


def database_environ() -> dict[str, str]:
    """The PostgreSQL password the ``postgres_cluster`` fixture put in the environment."""
    return {name: os.environ[name] for name in DATABASE_PASSWORDS if name in os.environ}


def clinic_config(
    database: Path | str,
    *,
    practitioners: list[dict[str, object]] | None = None,
    environ: dict[str, str] | None = None,
    **scheduler: object,
) -> Config:
    """The test clinic, its appointments in ``database`` (a SQLite path or PostgreSQL URL),
    with ``practitioners`` if given; the password from ``environ`` (default: the fixture's)."""
    return parse_config(
        {
            **({"practitioners": practitioners} if practitioners else {}),
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
        },
        environ=database_environ() if environ is None else environ,
    )


PRACTITIONERS: list[dict[str, object]] = [
    {"name": "Dr. Patel", "services": ["check-up", "consultation"]},
    {"name": "Dr. Chen", "services": ["check-up", "vaccination"],
     "hours": {"tuesday": "13:00-17:00", "wednesday": "09:00-17:00"}},
]  # fmt: skip
"""Two practitioners for the test clinic: both do check-ups; on Tuesdays Dr. Chen works
only the afternoon."""


def book_in_turns(
    database: str, now: datetime, days: list[date], barrier: Barrier, results: Queue[object],
    hhmm: str = "10:00", *, staffed: bool = False, practitioner: str = "",
) -> None:  # fmt: skip
    """In a child process: book ``hhmm`` on each day (with PRACTITIONERS configured when
    ``staffed``; with ``practitioner`` if named), waiting at ``barrier`` before each; puts
    (day, the outcome's type, the practitioner booked)."""
    config = clinic_config(database, practitioners=PRACTITIONERS if staffed else None)
    with AppointmentStore(config, now=Clock(now)) as store:
        for day in days:
            barrier.wait()
            outcome = store.book(
                "check-up", at(day, hhmm), "Proc", PHONE, practitioner=practitioner
            )
            who = outcome.practitioner if isinstance(outcome, Appointment) else ""
            results.put((day, type(outcome).__name__, who))


def query(database: str, sql: str) -> list[tuple[Any, ...]]:
    """Run ``sql`` straight on the database, behind the store's back; its rows, if any."""
    if database.startswith("postgresql://"):
        password = os.environ["RECEPTIONIST_DATABASE_PASSWORD"]  # set by postgres_cluster
        with psycopg.connect(database, password=password) as conn:
            cursor = conn.execute(sql)
            return cursor.fetchall() if cursor.description else []
    with sqlite3.connect(database) as conn:
        return conn.execute(sql).fetchall()


def book(
    store: AppointmentStore, start: datetime, service: str = "check-up", phone: str = PHONE
) -> Appointment:
    booked = store.book(service, start, "John Smith", phone, "annual")
    assert isinstance(booked, Appointment), booked
    return booked


def reason_of(outcome: object) -> RejectReason:
    assert isinstance(outcome, Rejection), outcome
    return outcome.reason


def hhmm(slots: object) -> list[str]:
    assert isinstance(slots, tuple), slots
    return [f"{s:%H:%M}" for s in slots]


def claim_all(
    database: str, now: datetime, topic: str, barrier: Barrier, results: Queue[object]
) -> None:
    """In a child process: claim ``topic``'s items a few at a time until none are left,
    marking each done; put the ids claimed."""
    clock = Clock(now)
    with AppointmentStore(clinic_config(database), now=clock, outbox_clock=clock) as store:
        barrier.wait()
        claimed: list[int] = []
        while items := store.outbox_claim(topic, limit=2, lease_s=60):
            for item in items:
                claimed.append(item.id)
                store.outbox_done(item.id)
        results.put(claimed)


StoreFactory = Callable[..., AppointmentStore]
"""Makes stores on one test's database, as other processes would (the ``make_store`` fixture)."""
