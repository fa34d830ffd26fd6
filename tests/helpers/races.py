"""Attempts on the store released at the same instant from parallel threads."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from receptionist.scheduling.messages import Appointment
from receptionist.scheduling.store import AppointmentStore, Rejection

Attempt = Callable[[AppointmentStore], Appointment | Rejection]


def race(stores: list[AppointmentStore], attempts: list[Attempt]) -> list[Appointment | Rejection]:
    """Run ``attempts[i](stores[i])`` in parallel threads, all released at the same moment."""
    barrier = threading.Barrier(len(attempts))

    def attempt(i: int) -> Appointment | Rejection:
        barrier.wait()
        return attempts[i](stores[i])

    with ThreadPoolExecutor(len(attempts)) as pool:
        return list(pool.map(attempt, range(len(attempts))))
