"""The appointments store: one API over two backends, SQLite (the default) and PostgreSQL.

``AppointmentStore`` holds everything that does not depend on the database: checking a
request against the clinic's hours and grid (slots.py), spans blocked by something outside
the store (the clinic's calendar), and the outbox rows each change adds (outbox.py). Its
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
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from receptionist.config import Config, Service
from receptionist.errors import SlotTaken
from receptionist.scheduling import outbox
from receptionist.scheduling.backend import Transaction
from receptionist.scheduling.database import open_backend
from receptionist.scheduling.messages import Appointment, RejectReason
from receptionist.scheduling.outbox import OutboxItem
from receptionist.scheduling.phone_migration import PhoneMigration, normalise_phones
from receptionist.scheduling.practitioners import (
    candidates,
    free_first,
    free_for,
    share_time,
    working,
)
from receptionist.scheduling.shared_rows import SharedRows
from receptionist.scheduling.slots import (
    Rejection,
    Span,
    bookable_starts,
    check_day,
    check_start,
    end_of,
    offered,
    overlaps,
)

__all__ = ["AppointmentStore", "OutboxItem", "Rejection", "utc_now"]


def utc_now() -> datetime:
    return datetime.now(UTC)


class AppointmentStore(SharedRows):
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

    def book(
        self,
        service: str,
        start: datetime,
        name: str,
        phone: str,
        reason: str = "",
        *,
        blocked: Sequence[Span] = (),
        practitioner: str = "",
    ) -> Appointment | Rejection:
        """Book ``start`` for ``service`` with ``practitioner`` (or, unnamed, the first free
        one doing it) in one transaction: fully written, or not at all."""
        name, phone, reason = name.strip(), self._phone(phone), reason.strip()
        now = self._now()
        known = self._check_booking(service, start, name, phone, now)
        if isinstance(known, Rejection):
            return known
        start = start.astimezone(self._tz)
        resources = working(self._config, service, practitioner, start, known.minutes)
        if isinstance(resources, Rejection):
            return resources
        draft = Appointment(0, start, end_of(start, known.minutes), service, name, phone, reason)
        if _clashes((draft.start, draft.end), blocked):
            return _taken(start)
        with self._backend.transaction(write=True) as tx:
            for resource in free_first(resources, tx.busy_spans(draft.start, draft.end)):
                try:
                    with_them = replace(draft, practitioner=resource)
                    booked = replace(with_them, id=tx.insert(with_them, now))
                except SlotTaken:  # taken since it was read: the next one, if any
                    continue
                self._record(tx, "upsert", booked)
                return booked
        return _taken(start)

    def find_bookings(self, phone: str) -> tuple[Appointment, ...]:
        """Appointments under ``phone`` that are not over yet, earliest first."""
        with self._backend.transaction(write=False) as tx:
            return tuple(tx.appointments(self._now(), self._phone(phone)))

    def cancel(self, appointment_id: int, phone: str) -> Appointment | Rejection:
        """Cancel a caller's own appointment that has not started; the row is kept."""
        now = self._now()
        with self._backend.transaction(write=True) as tx:
            found = self._own_upcoming(tx, appointment_id, phone, now)
            if isinstance(found, Appointment):
                tx.mark_cancelled(appointment_id, now)
                self._record(tx, "delete", found)
        return found

    def move(
        self,
        appointment_id: int,
        phone: str,
        new_start: datetime,
        *,
        blocked: Sequence[Span] = (),
    ) -> Appointment | Rejection:
        """Move a caller's own appointment to ``new_start``, keeping its duration, atomically:
        with the same practitioner when they are free then, else another doing the service."""
        now = self._now()
        start = new_start.astimezone(self._tz)
        with self._backend.transaction(write=True) as tx:
            found = self._own_upcoming(tx, appointment_id, phone, now)
            if not isinstance(found, Appointment):
                return found
            minutes = (found.end - found.start) // timedelta(minutes=1)
            if rejection := self._check_start(new_start, minutes, now):
                return rejection
            resources = working(
                self._config, found.service, "", start, minutes, first=found.practitioner
            )
            if isinstance(resources, Rejection):
                return resources
            moved = replace(found, start=start, end=end_of(start, minutes))
            if _clashes((moved.start, moved.end), blocked):
                return _taken(start)
            for resource in resources:
                try:
                    tx.reschedule(appointment_id, moved.start, moved.end, resource)
                except SlotTaken:
                    continue
                moved = replace(moved, practitioner=resource)
                self._record(tx, "upsert", moved)
                return moved
        return _taken(start)

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

    # --- internals ----------------------------------------------------------------------

    def _record(self, tx: Transaction, action: outbox.Action, appointment: Appointment) -> None:
        payload = outbox.appointment_payload(action, appointment)
        now = self._outbox_clock()
        for topic in self._outbox_topics:
            tx.add_outbox(topic, outbox.appointment_key(appointment.id), payload, now)

    def _check_booking(
        self, service: str, start: datetime, name: str, phone: str, now: datetime
    ) -> Service | Rejection:
        known = self._config.service(service)
        if known is None:
            return Rejection(RejectReason.UNKNOWN_SERVICE, service)
        if not name or not phone:
            return Rejection(RejectReason.INVALID, "a name and a phone number are needed")
        return self._check_start(start, known.minutes, now) or known

    def _check_start(self, start: datetime, minutes: int, now: datetime) -> Rejection | None:
        return check_start(start, minutes, now, self._config.clinic, self._config.scheduler)

    def _own_upcoming(
        self, tx: Transaction, appointment_id: int, phone: str, now: datetime
    ) -> Appointment | Rejection:
        found = tx.own_active(appointment_id, self._phone(phone))
        if found is None:  # a wrong phone must not reveal that the appointment exists
            return Rejection(RejectReason.NOT_FOUND, f"no appointment {appointment_id}")
        if found.start <= now:
            return Rejection(RejectReason.IN_THE_PAST, "that appointment has already started")
        return found


def _clashes(span: Span, blocked: Sequence[Span]) -> bool:
    return any(overlaps(span, other) for other in blocked)


def _taken(start: datetime) -> Rejection:
    return Rejection(RejectReason.SLOT_TAKEN, f"{start:%H:%M} is taken")
