"""Signing in to the calendar: basic (user and password), or an OAuth 2.0 bearer token.

Google's CalDAV endpoint takes only OAuth: its access tokens last an hour, so with
``oauth_token_url`` set the token is renewed with the refresh token (RFC 6749 section 6)
before it expires and whenever the server answers 401. Secrets come from the environment,
read by load_config (``Config.secrets.calendar``).
"""

from __future__ import annotations

import time
from collections.abc import Generator, Mapping

import httpx

from receptionist.config.calendar import CalendarConfig
from receptionist.errors import CalendarAuthError, ConfigError

RENEW_BEFORE_EXPIRY_S = 60.0
"""Renew this long before the token's stated expiry, so no request goes out with a dying one."""


def build_auth(settings: CalendarConfig, secrets: Mapping[str, str]) -> httpx.Auth:
    """The requests' authentication, from the settings and the environment.

    Raises:
        ConfigError: a secret the settings need is missing from the environment.
    """
    missing = settings.missing_secrets(secrets)
    if missing:
        raise ConfigError("\n".join(f"{key}: {problem}" for key, problem in missing))
    if settings.auth == "basic":
        return httpx.BasicAuth(settings.user, secrets[settings.secret_env])
    if not settings.oauth_token_url:
        return OAuthBearer(secrets[settings.secret_env])
    return OAuthBearer(
        secrets.get(settings.secret_env, ""),  # optional: one is fetched at the first request
        token_url=settings.oauth_token_url,
        client_id=settings.oauth_client_id,
        client_secret=secrets[settings.oauth_client_secret_env],
        refresh_token=secrets[settings.oauth_refresh_token_env],
    )


class OAuthBearer(httpx.Auth):
    """``Authorization: Bearer``, renewing the access token when a refresh token is given."""

    requires_response_body = True  # the token endpoint's JSON answer is read in the flow

    def __init__(
        self,
        access_token: str,
        *,
        token_url: str = "",
        client_id: str = "",
        client_secret: str = "",
        refresh_token: str = "",
    ) -> None:
        self._token = access_token
        self._expires_at = float("inf")  # unknown until renewed: trust it until a 401
        self._token_url = token_url
        self._form = {
            "grant_type": "refresh_token",
            "refresh_token": refresh_token,
            "client_id": client_id,
            "client_secret": client_secret,
        }

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        if self._token_url and (not self._token or time.monotonic() >= self._expires_at):
            self._take((yield self._renewal()))
        request.headers["Authorization"] = f"Bearer {self._token}"
        response = yield request
        if response.status_code == httpx.codes.UNAUTHORIZED and self._token_url:
            self._take((yield self._renewal()))
            request.headers["Authorization"] = f"Bearer {self._token}"
            yield request

    def _renewal(self) -> httpx.Request:
        return httpx.Request("POST", self._token_url, data=self._form)

    def _take(self, response: httpx.Response) -> None:
        """Keep the renewed token, or fail with the token endpoint's reason (never the token)."""
        try:
            body = response.json()
        except ValueError:
            body = {}
        token = body.get("access_token") if isinstance(body, dict) else None
        if response.status_code != httpx.codes.OK or not isinstance(token, str):
            reason = body.get("error", "") if isinstance(body, dict) else ""
            raise CalendarAuthError(
                f"the OAuth token endpoint refused to renew the access token"
                f" (HTTP {response.status_code} {reason})".rstrip(),
                status=response.status_code,
            )
        self._token = token
        lifetime = body.get("expires_in")
        if isinstance(lifetime, int | float):
            self._expires_at = time.monotonic() + max(lifetime - RENEW_BEFORE_EXPIRY_S, 0.0)
