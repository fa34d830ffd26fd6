"""Who can take an appointment: the ``[[practitioners]]`` doing a service and working then.

Pure functions of the config, with no I/O. With no practitioners configured the clinic is
one resource, named "" (stored as NULL): one appointment per slot, as before practitioners
existed. The store asks, for each candidate in turn, the database to book it; the database
refuses a candidate already booked then (scheduling/backend.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime

from receptionist.config import Config
from receptionist.config.practitioners import Practitioner
from receptionist.scheduling.backend import BusySpan
from receptionist.scheduling.messages import RejectReason
from receptionist.scheduling.slots import Rejection, Span, end_of, free_starts, opening_span

WHOLE_CLINIC = ""
"""The one resource of a clinic with no practitioners configured. An appointment booked
with it (before practitioners were configured, or after they were all removed) is with
nobody in particular, so it holds its time against everyone, and everyone's against it."""


def share_time(busy: str, resource: str) -> bool:
    """Whether an appointment with ``busy`` keeps ``resource`` from being booked then: the
    same practitioner, or either is the whole clinic (what the databases enforce too)."""
    return busy == resource or WHOLE_CLINIC in (busy, resource)


def candidates(config: Config, service: str, wanted: str = "") -> tuple[str, ...] | Rejection:
    """The resources that may take ``service``: the one ``wanted`` (by name, any case), or
    else every practitioner doing it, in config order; the whole clinic with none configured.
    """
    if wanted:
        found = config.practitioner(wanted)
        if found is None:
            known = ", ".join(p.name for p in config.practitioners) or "none: any time is free"
            return Rejection(RejectReason.INVALID, f"no practitioner {wanted!r} (known: {known})")
        if not found.does(service):
            others = ", ".join(p.name for p in config.practitioners if p.does(service))
            return Rejection(
                RejectReason.INVALID, f"{found.name} does not do {service} (ask for: {others})"
            )
        return (found.name,)
    if not config.practitioners:
        return (WHOLE_CLINIC,)
    return tuple(p.name for p in config.practitioners if p.does(service))


def works_through(config: Config, resource: str, start: datetime, minutes: int) -> bool:
    """Whether ``resource`` works from ``start`` for ``minutes`` (the clinic's own hours
    are checked by slots.check_start)."""
    practitioner = config.practitioner(resource) if resource else None
    if practitioner is None or practitioner.hours is None:
        return True
    span = _own_span(practitioner, config, start.date())
    return span is not None and span[0] <= start and end_of(start, minutes) <= span[1]


def free_for(
    resource: str, starts: Sequence[datetime], minutes: int, config: Config,
    busy: Sequence[Span],
) -> list[datetime]:  # fmt: skip
    """The ``starts`` at which ``resource`` works and is not busy."""
    working = [start for start in starts if works_through(config, resource, start, minutes)]
    return free_starts(working, minutes, busy)


def working(
    config: Config, service: str, wanted: str, start: datetime, minutes: int, *, first: str = ""
) -> tuple[str, ...] | Rejection:
    """Who may take ``service`` at ``start``: ``wanted``, or else anyone doing it, with
    ``first`` (a moved appointment's practitioner) tried before the others."""
    resources = candidates(config, service, wanted)
    if isinstance(resources, Rejection):
        return resources
    resources = tuple(sorted(resources, key=lambda resource: resource != first))
    at_work = tuple(r for r in resources if works_through(config, r, start, minutes))
    if not at_work:
        who = wanted or "nobody who does that"
        return Rejection(RejectReason.OUTSIDE_HOURS, f"{who} is not working {start:%A %H:%M}")
    return at_work


def free_first(resources: Sequence[str], busy: Sequence[BusySpan]) -> list[str]:
    """Those not seen busy (in order), then the rest: the database has the last word."""
    taken = {resource for _, _, resource in busy}
    return sorted(resources, key=lambda resource: any(share_time(b, resource) for b in taken))


def _own_span(practitioner: Practitioner, config: Config, day: date) -> Span | None:
    hours = practitioner.hours_on(day.weekday())
    if hours is None or opening_span(config.clinic, day) is None:
        return None
    tz = config.clinic.tz
    return datetime.combine(day, hours.opens, tz), datetime.combine(day, hours.closes, tz)
