"""The listing behind ``receptionist bookings``: one line per booked appointment."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from receptionist.config import Config
from receptionist.scheduling.messages import Appointment
from receptionist.scheduling.store import AppointmentStore, utc_now


def format_booking(appointment: Appointment) -> str:
    """Date, 24-hour start (clinic time), type, name and phone, two spaces apart.

    For example ``2026-12-01  10:00  check-up  John Smith  +15551234567``.
    """
    start = appointment.start
    fields = (appointment.service, appointment.name, appointment.phone)
    return "  ".join((f"{start:%Y-%m-%d}", f"{start:%H:%M}", *fields))


def list_bookings_lines(
    config: Config, *, include_past: bool = False, now: Callable[[], datetime] = utc_now
) -> list[str]:
    """The booked (not cancelled) appointments as ``format_booking`` lines, by start.

    Only appointments not yet over, unless ``include_past``. Creates nothing: a database
    that does not exist yet has no bookings.

    Raises:
        StoreUnavailable: the database exists but cannot be read.
    """
    store = AppointmentStore(config, now=now)
    try:
        if not store.exists():
            return []
        return [format_booking(a) for a in store.appointments(include_past=include_past)]
    finally:
        store.close()
