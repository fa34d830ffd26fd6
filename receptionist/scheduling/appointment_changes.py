"""The appointments store's changes: booking, cancelling and moving a caller's appointment,
each one transaction of the backend with its outbox rows (outbox.py). ``AppointmentChanges``
is the part of ``AppointmentStore`` (store.py) that writes appointments; a clash with another
booking, found under the backend's lock, is ``Rejection(SLOT_TAKEN)``."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from receptionist.config import Service
from receptionist.errors import SlotTaken
from receptionist.scheduling import outbox
from receptionist.scheduling.backend import Transaction
from receptionist.scheduling.messages import Appointment, RejectReason
from receptionist.scheduling.practitioners import free_first, working
from receptionist.scheduling.shared_rows import SharedRows
from receptionist.scheduling.slots import Rejection, Span, check_start, end_of, overlaps


class AppointmentChanges(SharedRows):
    """A caller's appointment booked, cancelled or moved, by request."""

    _tz: ZoneInfo
    _outbox_topics: tuple[str, ...]
    _outbox_clock: Callable[[], datetime]

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
