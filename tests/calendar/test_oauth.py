"""Bearer authentication as Google Calendar's CalDAV wants it, with the token renewed.

A fake Google (tests/helpers/fake_google_caldav.py: an OAuth token endpoint and a bearer-checking
CalDAV front) on 127.0.0.1 before the session's Radicale; real clock (see test_sync.py).
"""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
import trio
from hypercorn.config import Config as HypercornConfig
from hypercorn.trio import serve

from receptionist.calendar.auth import build_auth
from receptionist.calendar.check import check_calendar
from receptionist.config.calendar import CalendarConfig
from receptionist.errors import CalendarAuthError, ConfigError
from tests.helpers.calendar_helpers import CLOCK, caldav, calendar_settings
from tests.helpers.clinic import TZ
from tests.helpers.fake_google_caldav import CLIENT_ID, CLIENT_SECRET, REFRESH_TOKEN, FakeGoogle
from tests.helpers.radicale_server import PASSWORD, USER, RadicaleServer

OAUTH_ENV = {
    "CALENDAR_OAUTH_CLIENT_SECRET": CLIENT_SECRET,
    "CALENDAR_OAUTH_REFRESH_TOKEN": REFRESH_TOKEN,
}


@pytest.fixture
async def google(radicale: RadicaleServer, nursery: trio.Nursery) -> tuple[FakeGoogle, str]:
    """The fake Google, and its address."""
    fake = FakeGoogle(radicale.base_url, (USER, PASSWORD))
    config = HypercornConfig()
    config.bind = ["127.0.0.1:0"]
    config.accesslog = None
    binds = await nursery.start(serve, fake.app(), config)
    return fake, binds[0]


def bearer_settings(google_url: str, calendar_url: str) -> CalendarConfig:
    path = urlsplit(calendar_url).path
    return calendar_settings(f"{google_url}/dav{path}").model_copy(
        update={
            "auth": "bearer",
            "user": "",
            "oauth_token_url": f"{google_url}/token",
            "oauth_client_id": CLIENT_ID,
        }
    )


async def test_a_token_is_fetched_then_renewed_when_refused(
    google: tuple[FakeGoogle, str], radicale: RadicaleServer
) -> None:
    fake, address = google
    settings = bearer_settings(address, radicale.new_calendar())
    async with caldav(settings, secrets=OAUTH_ENV) as client:
        steps = await check_calendar(client, settings, TZ, CLOCK())
        assert all(step.ok for step in steps), steps
        assert fake.issued == 1  # one token, fetched before the first request
        fake.revoke()
        steps = await check_calendar(client, settings, TZ, CLOCK())
    assert all(step.ok for step in steps), steps
    assert (fake.issued, fake.refused) == (2, 1)  # refused once, renewed, retried


async def test_a_refused_renewal_is_an_auth_error_without_the_secrets(
    google: tuple[FakeGoogle, str], radicale: RadicaleServer
) -> None:
    _, address = google
    settings = bearer_settings(address, radicale.new_calendar())
    wrong = {**OAUTH_ENV, "CALENDAR_OAUTH_REFRESH_TOKEN": "stale-refresh-token"}
    async with caldav(settings, secrets=wrong) as client:
        with pytest.raises(CalendarAuthError, match="invalid_grant") as failure:
            await client.describe()
    assert "stale-refresh-token" not in str(failure.value)
    assert CLIENT_SECRET not in str(failure.value)


async def test_without_a_token_url_the_access_token_is_used_as_it_is(
    google: tuple[FakeGoogle, str], radicale: RadicaleServer
) -> None:
    fake, address = google
    fake.access_token = "long-lived-token"
    settings = bearer_settings(address, radicale.new_calendar()).model_copy(
        update={"oauth_token_url": "", "oauth_client_id": ""}
    )
    async with caldav(settings, secrets={"CALENDAR_SECRET": "long-lived-token"}) as client:
        assert (await client.describe()).is_calendar
    async with caldav(settings, secrets={"CALENDAR_SECRET": "expired-token"}) as client:
        with pytest.raises(CalendarAuthError, match="HTTP 401"):
            await client.describe()
    assert fake.issued == 0


def test_missing_oauth_secrets_are_a_config_error() -> None:
    settings = bearer_settings("https://google.example", "https://x/cal/")
    with pytest.raises(ConfigError, match="CALENDAR_OAUTH_REFRESH_TOKEN"):
        build_auth(settings, {"CALENDAR_OAUTH_CLIENT_SECRET": CLIENT_SECRET})
