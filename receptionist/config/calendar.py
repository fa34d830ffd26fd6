"""The ``[calendar]`` section of config.toml: which CalDAV calendar, how to sign in, how fresh.

Secrets never live here: the password, app password or OAuth token is read only from the
environment variables the section names, by ``load_config`` (``Config.secrets.calendar``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal, Self
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from receptionist.errors import ConfigError


class CalendarConfig(BaseModel):
    """Where bookings are written and staff events read; ``kind = "none"`` keeps them local."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["none", "caldav"] = "none"
    url: str = ""
    """The calendar collection's URL (not the server's root), e.g. Nextcloud's
    https://cloud.example.com/remote.php/dav/calendars/USER/clinic/."""
    user: str = ""
    auth: Literal["basic", "bearer"] = "basic"
    secret_env: str = "CALENDAR_SECRET"
    """The environment variable holding the password (basic) or the access token (bearer)."""
    oauth_token_url: str = ""
    """Bearer only: where an expired access token is renewed with a refresh token (Google:
    https://oauth2.googleapis.com/token). Empty: the token in ``secret_env`` is used as is."""
    oauth_client_id: str = ""
    oauth_client_secret_env: str = "CALENDAR_OAUTH_CLIENT_SECRET"
    oauth_refresh_token_env: str = "CALENDAR_OAUTH_REFRESH_TOKEN"
    event_uid_prefix: str = Field(default="receptionist-appointment", pattern=r"^[A-Za-z0-9._-]+$")
    """Event UIDs are ``<prefix>-<booking id>``: stable, so a retried write never doubles an
    event. Events with this prefix are the receptionist's own and never count as busy."""
    busy_max_age_s: float = Field(default=60.0, gt=0)
    """Busy times are re-read this often; a staff event younger than this may still be offered,
    and is then caught by the re-check at booking time."""
    booking_recheck_timeout_s: float = Field(default=1.5, gt=0)
    """A booking re-reads that day's busy times for at most this long, then goes on with the
    last ones read: the calendar never holds up a caller's confirmation for longer."""
    connect_timeout_s: float = Field(default=5.0, gt=0)
    request_timeout_s: float = Field(default=15.0, gt=0)
    retry_initial_s: float = Field(default=2.0, gt=0)
    retry_max_s: float = Field(default=300.0, gt=0)
    """A failed calendar write is retried after retry_initial_s, doubling up to retry_max_s,
    for as long as it takes."""
    push_poll_s: float = Field(default=1.0, gt=0)
    """How often the outbox is looked at for bookings to write (this or another process's)."""
    push_batch: int = Field(default=20, ge=1)
    push_lease_s: float = Field(default=120.0, gt=0)
    """A claimed write is another process's to retry after this long (this one died)."""

    @model_validator(mode="after")
    def _check(self) -> Self:
        if self.kind == "none":
            return self
        parts = urlsplit(self.url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("calendar.url must be the calendar's http(s) URL")
        if parts.username or parts.password:
            raise ValueError(
                "calendar.url must not hold credentials: set calendar.user, and the secret"
                " in the environment variable named by calendar.secret_env"
            )
        if self.auth == "basic" and not self.user:
            raise ValueError("calendar.user is needed for basic authentication")
        if not self.secret_env:
            raise ValueError("calendar.secret_env must name an environment variable")
        if self.oauth_token_url and not (self.auth == "bearer" and self.oauth_client_id):
            raise ValueError("calendar.oauth_token_url needs auth = 'bearer' and oauth_client_id")
        if self.retry_max_s < self.retry_initial_s:
            raise ValueError("calendar.retry_max_s must be at least calendar.retry_initial_s")
        if self.push_lease_s <= self.request_timeout_s * 2:
            raise ValueError("calendar.push_lease_s must exceed two request timeouts")
        return self

    @property
    def secret_variables(self) -> tuple[str, ...]:
        """The environment variables this calendar's secrets are read from."""
        return (self.secret_env, self.oauth_client_secret_env, self.oauth_refresh_token_env)

    def missing_secrets(self, secrets: Mapping[str, str]) -> list[tuple[str, str]]:
        """(key, problem) for each secret this calendar signs in with that ``secrets`` (the
        environment's, ``Secrets.calendar``) lacks. With an OAuth token URL the access token
        is optional (one is fetched with the refresh token)."""
        if self.auth == "basic":
            needed = [("secret_env", self.secret_env, "password")]
        elif not self.oauth_token_url:
            needed = [("secret_env", self.secret_env, "access token")]
        else:
            needed = [
                ("oauth_client_secret_env", self.oauth_client_secret_env, "OAuth client secret"),
                ("oauth_refresh_token_env", self.oauth_refresh_token_env, "OAuth refresh token"),
            ]
        return [
            (f"calendar.{key}", f"the calendar's {what} must be in the environment variable {name}")
            for key, name, what in needed
            if not secrets.get(name)
        ]

    @property
    def collection_url(self) -> str:
        """``url`` with the trailing slash that a collection's member URLs are built on."""
        return self.url if self.url.endswith("/") else self.url + "/"


def parse_calendar_config(raw: Mapping[str, object]) -> CalendarConfig:
    """Validate a ``[calendar]`` table.

    Raises:
        ConfigError: naming the first bad key.
    """
    try:
        return CalendarConfig.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        message = first["msg"].removeprefix("Value error, ")  # ours name their key already
        raise ConfigError(f"calendar.{where}: {message}" if where else message) from exc
