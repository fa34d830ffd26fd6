"""The [records] section: what is kept of each call (receptionist/records), and for how long."""

from __future__ import annotations

from pydantic.dataclasses import dataclass

from receptionist.config.values import SECTION, Bool, Count, PositiveInt, Text


@dataclass(frozen=True, slots=True, config=SECTION)
class RecordsConfig:
    enabled: Bool = True
    """Keep a record of every call (transcript, timings, bookings) in the database."""
    record_audio: Bool = True
    """Keep each call's recording (stereo WAV: caller left, agent right)."""
    keep_days: Count = 30
    """Records and recordings older than this are deleted by the daily sweep; 0 keeps them."""
    folder: Text = ""
    """Where recordings go; "" is a ``recordings`` folder beside the SQLite database
    (``data/recordings`` with PostgreSQL)."""
    max_recording_minutes: PositiveInt = 30
    """A recording stops growing after this long (about 1.9 MB a minute)."""
    queue: PositiveInt = 256
    """Messages waiting for the recorder; when full, a call's record drops (and counts) them."""
