"""The clinic's sections: who it is, when it is open, what it books, and on what grid."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import time
from pathlib import Path
from typing import Annotated, Literal, overload
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from pydantic import AfterValidator, BeforeValidator, Field, model_validator
from pydantic.dataclasses import dataclass

from receptionist.config.values import (
    SECTION,
    Count,
    Int,
    Invalid,
    NonBlank,
    PositiveInt,
    Text,
    url,
)

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
SPAN_FORMAT = "'09:00-17:00'"


@dataclass(frozen=True, slots=True, config=SECTION)
class OpeningHours:
    opens: time
    closes: time

    @model_validator(mode="after")
    def _closes_after_it_opens(self) -> OpeningHours:
        if self.closes <= self.opens:
            raise ValueError(f"closes at {self.closes:%H:%M}, before it opens")
        return self


def _parse_span(value: object) -> object:
    """ "09:00-17:00" into OpeningHours' fields; "" (or a day left out) is closed."""
    if value in ("", None) or isinstance(value, OpeningHours):
        return value or None
    parts = value.split("-") if isinstance(value, str) else ()
    try:
        opens, closes = (time.fromisoformat(part.strip()) for part in parts)
    except ValueError:
        raise ValueError(f"must look like {SPAN_FORMAT}, got {value!r}") from None
    return {"opens": opens, "closes": closes}


Day = Annotated[OpeningHours | None, BeforeValidator(_parse_span)]


@dataclass(frozen=True, slots=True, config=SECTION)
class WeeklyHours(Sequence[OpeningHours | None]):
    """``[clinic.hours]``; read as a sequence indexed by weekday (Monday = 0), None when closed."""

    monday: Day = None
    tuesday: Day = None
    wednesday: Day = None
    thursday: Day = None
    friday: Day = None
    saturday: Day = None
    sunday: Day = None

    @overload
    def __getitem__(self, index: int) -> OpeningHours | None: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[OpeningHours | None]: ...
    def __getitem__(
        self, index: int | slice
    ) -> OpeningHours | Sequence[OpeningHours | None] | None:
        return tuple(getattr(self, day) for day in WEEKDAYS)[index]

    def __len__(self) -> int:
        return len(WEEKDAYS)

    @model_validator(mode="after")
    def _open_some_day(self) -> WeeklyHours:
        if not any(self):
            raise ValueError("the clinic is never open")
        return self


def _known_timezone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown timezone {name!r} (an IANA name: 'Europe/London')") from None
    return name


def _empty_or_web_url(value: str) -> str:
    return url("https", "http")(value) if value else value


def _known_region(code: str) -> str:
    if code.upper() not in phonenumbers.SUPPORTED_REGIONS:
        raise ValueError(f"unknown country {code!r} (a two-letter ISO 3166 code: 'US', 'GB')")
    return code.upper()


@dataclass(frozen=True, slots=True, kw_only=True, config=SECTION)
class ClinicConfig:
    name: NonBlank = "the clinic"
    timezone: Annotated[Text, AfterValidator(_known_timezone)] = "UTC"
    greeting: NonBlank = "Hello, how can I help you?"
    transfer_number: Text = ""
    transfer_mode: Literal["warm", "cold"] = "warm"
    """warm: the caller waits in a conference while staff hear a briefing, then join
    (staff/transfer.py; needs TWILIO_ACCOUNT_SID and [twilio].phone_number, else cold);
    cold: Twilio's <Dial> to transfer_number once the receptionist has hung up."""
    transfer_timeout_s: Annotated[Int, Field(ge=5, le=600)] = 20
    """How long the staff phone rings before the caller is brought back (Twilio's Timeout)."""
    hold_music_url: Annotated[Text, AfterValidator(_empty_or_web_url)] = ""
    """What the caller hears while waiting (the conference's waitUrl); "": Twilio's own."""
    country: Annotated[Text, AfterValidator(_known_region)] = "US"
    """Where a phone number without a country code is from (ISO 3166 code: "US", "GB")."""
    hours: WeeklyHours

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


def _lowercase(words: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(word.lower() for word in words)


@dataclass(frozen=True, slots=True, config=SECTION)
class Service:
    """One ``[[services]]`` entry: an appointment type. ``words`` are what callers say for it."""

    name: NonBlank
    minutes: PositiveInt
    words: Annotated[tuple[Text, ...], AfterValidator(_lowercase)] = ()


def check_services(services: tuple[Service, ...]) -> tuple[Service, ...]:
    if not services:
        raise ValueError("at least one [[services]] entry is needed to book appointments")
    names = [service.name for service in services]
    repeated = [
        (f"[{index}].name", f"{name!r} is already services[{names.index(name)}]")
        for index, name in enumerate(names)
        if names.index(name) != index
    ]
    if repeated:
        raise Invalid(*repeated)
    return services


def _divides_an_hour(minutes: int) -> int:
    if minutes <= 0 or 60 % minutes:
        raise ValueError(f"must divide 60 (5, 10, 15, 20, 30...), got {minutes}")
    return minutes


def _path_as_text(value: object) -> object:
    return str(value) if isinstance(value, Path) else value


POSTGRES_SCHEMES = ("postgresql://", "postgres://")


def is_postgres_url(database: str) -> bool:
    return database.startswith(POSTGRES_SCHEMES)


def _no_password_in_url(database: str) -> str:
    """A PostgreSQL URL keeps its password out (config.toml, logs): it comes from the
    environment. libpq parses the URL itself when the store opens (postgres_store.py)."""
    if not is_postgres_url(database):
        return database
    try:
        parts = urlsplit(database)
        has_password = parts.password is not None or "password" in parse_qs(parts.query)
    except ValueError as exc:
        raise ValueError(f"not a PostgreSQL URL: {exc}") from None
    if has_password:
        raise ValueError(
            "put the password in RECEPTIONIST_DATABASE_PASSWORD or PGPASSWORD, not in the URL"
        )
    return database


@dataclass(frozen=True, slots=True, config=SECTION)
class SchedulerConfig:
    database: Annotated[
        NonBlank, BeforeValidator(_path_as_text), AfterValidator(_no_password_in_url)
    ] = "data/appointments.sqlite3"
    """A SQLite file (relative paths are relative to the working directory), or a
    ``postgresql://user@host:port/db`` URL (the password only from the environment)."""
    pool_min_size: Count = 1
    """PostgreSQL only: connections each server process keeps open..."""
    pool_max_size: PositiveInt = 4
    """...and opens at most."""
    slot_minutes: Annotated[Int, AfterValidator(_divides_an_hour)] = 15
    horizon_days: Count = 60
    """0: today only."""
    min_notice_minutes: Count = 60

    @model_validator(mode="after")
    def _pool_fits(self) -> SchedulerConfig:
        if self.pool_min_size > self.pool_max_size:
            raise ValueError("pool_min_size must be at most pool_max_size")
        return self
