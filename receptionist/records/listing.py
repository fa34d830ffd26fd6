"""The listing behind ``receptionist calls``: the records the review pages show, one a line."""

from __future__ import annotations

from datetime import date, datetime

from receptionist.config import Config
from receptionist.logs import mask_phone
from receptionist.records.store import CallSummary, RecordStore
from receptionist.scheduling.database import open_backend


def format_call(summary: CallSummary, config: Config) -> str:
    """``2026-12-01 10:02:03  ********4567  41.2 s  completed  1 booking  CA...``"""
    started = datetime.fromtimestamp(summary.started_at, config.clinic.tz)
    bookings = f"{summary.bookings} booking" + ("" if summary.bookings == 1 else "s")
    fields = (f"{started:%Y-%m-%d %H:%M:%S}", mask_phone(summary.caller) or "unknown",
              f"{summary.seconds} s", summary.outcome, bookings, summary.call_sid)  # fmt: skip
    return "  ".join(fields)


def list_call_lines(
    config: Config, *, day: date | None = None, outcome: str = "", limit: int = 50
) -> list[str]:
    """Newest first. Creates nothing: no database yet, no calls."""
    backend = open_backend(config.scheduler.database, config)
    if not backend.exists():
        return []
    store = RecordStore(config, backend)
    try:
        return [format_call(s, config) for s in store.calls(day=day, outcome=outcome, limit=limit)]
    finally:
        store.close()
