"""The appointments store: one API over two backends, SQLite (the default) and PostgreSQL.

``AppointmentStore`` holds everything that does not depend on the database: checking a
request against the clinic's hours and grid (slots.py), spans blocked by something outside
the store (the clinic's calendar), and the outbox rows each change adds (outbox.py); its
changes (book, cancel, move) are in appointment_changes.py, the rows besides appointments
in shared_rows.py. Its
``Backend``, chosen by ``[scheduler] database`` (a path: sqlite_store; a ``postgresql://``
URL: postgres_store), runs each request as one transaction and guarantees that two
overlapping appointments of one resource are never both active: SQLite serialises writers
and checks under the lock, PostgreSQL enforces an exclusion constraint. A resource is a
``[[practitioners]]`` entry (practitioners.py: a booking is with the one asked for, or the
first free one doing the service), or with none configured the clinic as a whole. Either
way the loser of a race gets ``Rejection(SLOT_TAKEN)``, and a change and its outbox rows
are written together or not at all.

Blocking, safe to share between threads; each process opens its own. Times come back as
aware datetimes in the clinic's timezone. Cancelled appointments are kept (``cancelled_at``)
and no longer hold their slot. Every driver error is mapped by the backend to
``StoreUnavailable``; a request that cannot be met is not an error but a ``Rejection``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

from receptionist.config import Config
from receptionist.scheduling.appointment_changes import AppointmentChanges
from receptionist.scheduling.database import open_backend
from receptionist.scheduling.messages import Appointment, RejectReason
from receptionist.scheduling.outbox import OutboxItem
from receptionist.scheduling.phone_migration import PhoneMigration, normalise_phones
from receptionist.scheduling.practitioners import candidates, free_for, share_time
from receptionist.scheduling.slots import (
    Rejection,
    Span,
    bookable_starts,
    check_day,
    end_of,
    offered,
)

__all__ = ["AppointmentStore", "OutboxItem", "Rejection", "utc_now"]


def utc_now() -> datetime:
    return datetime.now(UTC)


class AppointmentStore(AppointmentChanges):
    """Appointments of one clinic; see the module docstring.

    Args:
        config: opening hours, timezone, services and the scheduler settings.
        database: a path or ``postgresql://`` URL; default ``config.scheduler.database``.
        now: the current time (aware); injectable so tests and replays are deterministic.
        outbox_topics: each booking, move and cancellation adds one outbox row per topic.
        outbox_clock: the time of the outbox's rows, leases and retries. Real time by default,
            not ``now``: a pinned clinic clock (a replay, a test) would make a retry, due a
            few seconds "later", never due, and would set the rows' times apart from those of
            another process sharing the store.
    """

    def __init__(
        self,
        config: Config,
        database: str | Path | None = None,
        *,
        now: Callable[[], datetime] = utc_now,
        outbox_topics: tuple[str, ...] = (),
        outbox_clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._backend = open_backend(
            str(database) if database is not None else config.scheduler.database, config
        )
        self._config = config
        self._now = now
        self._tz = config.clinic.tz
        self._outbox_topics = outbox_topics
        self._outbox_clock = outbox_clock

    @property
    def location(self) -> str:
        return self._backend.location

    @property
    def tz(self) -> ZoneInfo:
        """The clinic's timezone: of every time the store returns, and of its days."""
        return self._tz

    def open(self) -> None:
        """Connect and check the schema now rather than on the first request."""
        self._backend.open()

    def close(self) -> None:
        """Release the connections (PostgreSQL's pool); the store is not used after."""
        self._backend.close()

    def __enter__(self) -> AppointmentStore:
        self.open()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def exists(self) -> bool:
        return self._backend.exists()

    def ping(self) -> None:
        """One cheap read: raises StoreUnavailable when the database cannot be reached."""
        now = self._now()
        with self._backend.transaction(write=False) as tx:
            tx.busy_spans(now, now)

    def upgrade(self) -> tuple[int, int]:
        """Bring the schema to this release's version (``receptionist db upgrade``)."""
        return self._backend.upgrade()

    def normalise_phones(self) -> PhoneMigration:
        """Rewrite stored numbers in E.164 with the clinic's country (phone_migration.py)."""
        with self._backend.transaction(write=True) as tx:
            return normalise_phones(tx, self._config.clinic.country)

    def is_open_on(self, day: date) -> bool:
        return self._config.clinic.hours[day.weekday()] is not None

    def free_slots(
        self,
        service: str,
        day: date,
        *,
        earliest: time | None = None,
        limit: int = 3,
        near: time | None = None,
        blocked: Sequence[Span] = (),
        practitioner: str = "",
    ) -> tuple[datetime, ...] | Rejection:
        """Up to ``limit`` free starts for ``service`` on ``day`` (from ``earliest``), in
        order, avoiding bookings and the ``blocked`` spans (aware datetimes): those nearest
        ``near`` when the caller asked for a time, else spread over the day (``offered``).
        A start is free when ``practitioner`` (or, unnamed, anyone doing ``service``) is."""
        known = self._config.service(service)
        if known is None:
            return Rejection(RejectReason.UNKNOWN_SERVICE, service)
        resources = candidates(self._config, service, practitioner)
        if isinstance(resources, Rejection):
            return resources
        now = self._now()
        if rejection := check_day(day, now, self._config.clinic, self._config.scheduler):
            return rejection
        starts = bookable_starts(
            day, known.minutes, now, self._config.clinic, self._config.scheduler, earliest
        )
        if not starts:
            return ()
        with self._backend.transaction(write=False) as tx:
            busy = tx.busy_spans(starts[0], end_of(starts[-1], known.minutes))
        free: set[datetime] = set()
        for resource in resources:
            theirs = [*blocked, *((s, e) for s, e, r in busy if share_time(r, resource))]
            free.update(free_for(resource, starts, known.minutes, self._config, theirs))
        return tuple(offered(sorted(free), limit, near))

    def find_bookings(self, phone: str) -> tuple[Appointment, ...]:
        """Appointments under ``phone`` that are not over yet, earliest first."""
        with self._backend.transaction(write=False) as tx:
            return tuple(tx.appointments(self._now(), self._phone(phone)))

    def appointments(self, *, include_past: bool = False) -> tuple[Appointment, ...]:
        """Every appointment not cancelled (and, unless ``include_past``, not over), by start."""
        with self._backend.transaction(write=False) as tx:
            return tuple(tx.appointments(None if include_past else self._now()))

    def unknown_practitioners(self) -> dict[str, int]:
        """Upcoming appointments by practitioner no longer in ``[[practitioners]]`` (renamed
        or removed): theirs hold nobody's time now, so staff must know (runtime.py)."""
        unknown = Counter(
            a.practitioner for a in self.appointments()
            if a.practitioner and self._config.practitioner(a.practitioner) is None
        )  # fmt: skip
        return dict(unknown)
