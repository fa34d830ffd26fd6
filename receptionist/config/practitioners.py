"""``[[practitioners]]``: the people (or chairs, rooms) appointments are booked with.

None configured: the clinic books one appointment per slot, as a whole. Configured: each
appointment is booked with one practitioner who does its service, within their hours and the
clinic's, and a slot is free while one of them is; the database keeps each practitioner from
being booked twice at once (scheduling/). An appointment booked while none were configured
is with the clinic as a whole: it keeps every practitioner from its time.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated

from pydantic import AfterValidator
from pydantic.dataclasses import dataclass

from receptionist.config.clinic import OpeningHours, Service, WeeklyHours
from receptionist.config.values import SECTION, NonBlank


def _strip(name: str) -> str:
    return " ".join(name.split())


@dataclass(frozen=True, slots=True, kw_only=True, config=SECTION)
class Practitioner:
    """One ``[[practitioners]]`` entry: ``name = "Dr. Patel"`` (what callers ask for and
    staff see), ``services`` (the [[services]] names they do; none listed: every service)
    and optional ``[practitioners.hours]`` (a day left out: not working that day; no table:
    the clinic's hours). They are booked only while both they and the clinic are open."""

    name: Annotated[NonBlank, AfterValidator(_strip)]
    services: tuple[NonBlank, ...] = ()
    hours: WeeklyHours | None = None

    def does(self, service: str) -> bool:
        return not self.services or service in self.services

    def hours_on(self, weekday: int) -> OpeningHours | None:
        """Their own hours that weekday (Monday = 0), None when not working; the clinic's
        hours are checked besides (slots.py)."""
        return None if self.hours is None else self.hours[weekday]


def check_practitioners(
    practitioners: Sequence[Practitioner], services: Sequence[Service], clinic: WeeklyHours
) -> list[tuple[str, str]]:
    """(key, problem) for each repeated name, unknown service, service nobody does, or
    practitioner whose hours never meet the clinic's (never bookable)."""
    problems: list[tuple[str, str]] = []
    names = [p.name.casefold() for p in practitioners]
    known = {service.name for service in services}
    for index, practitioner in enumerate(practitioners):
        key = f"practitioners[{index}]"
        if names.index(names[index]) != index:
            first = names.index(names[index])
            problems.append(
                (f"{key}.name", f"{practitioner.name!r} is already practitioners[{first}]")
            )
        for position, service in enumerate(practitioner.services):
            if service not in known:
                problems.append((
                    f"{key}.services[{position}]",
                    f"{service!r} is not a [[services]] name ({', '.join(sorted(known))})",
                ))  # fmt: skip
        if not _meets(practitioner, clinic):
            problems.append((
                f"{key}.hours", f"{practitioner.name} never works while the clinic is open"
            ))  # fmt: skip
    if practitioners:
        for index, offered in enumerate(services):
            if not any(p.does(offered.name) for p in practitioners):
                problems.append(
                    (f"services[{index}].name", f"no practitioner does {offered.name!r}")
                )
    return problems


def _meets(practitioner: Practitioner, clinic: WeeklyHours) -> bool:
    """Whether they work while the clinic is open on some weekday (no hours: its hours)."""
    if practitioner.hours is None:
        return True
    return any(
        own is not None and open_ is not None
        and own.opens < open_.closes and open_.opens < own.closes
        for own, open_ in zip(practitioner.hours, clinic, strict=True)
    )  # fmt: skip
