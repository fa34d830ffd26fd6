"""A small client of Twilio's REST API (2010-04-01) on httpx: calls, conference participants,
messages. Only what the receptionist uses.

Every request is form-encoded with HTTP basic auth (account SID : auth token) and answered
with the resource's JSON, or with Twilio's JSON error body (``code``, ``message``,
``more_info``, ``status``), mapped here, at the edge, onto ``errors.TwilioError``:
``TwilioUnavailable`` (retryable: unreachable, 5xx, 429, an unreadable answer) or
``TwilioRejected`` (a 4xx: 20003 bad credentials, 20404 not found, 21211 invalid To).

Timeouts are the caller's (a trio cancel scope around the call): httpx's own are off. Updates
and deletes are idempotent and ``retrying`` may repeat them; a create (a call, a participant,
an SMS) that failed with a 5xx or a timeout may still have happened, so callers retry a
create only where a duplicate is harmless.

Usage::

    async with TwilioRest(base_url, account_sid, auth_token) as rest:
        call = await rest.create_call(to="+15550001111", from_="+15550002222", twiml=xml)
        await rest.update_call(call.sid, twiml="<Response><Hangup/></Response>")
        sid = await rest.send_sms(to="+15550003333", from_="+15550002222", body="Booked.")
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self, TypeVar

import httpx
import trio

from receptionist.config import Config
from receptionist.errors import TwilioError, TwilioRejected, TwilioUnavailable

API_VERSION = "2010-04-01"
NOT_FOUND = 20404
INVALID_TO = 21211
RETRY_ATTEMPTS = 3
RETRY_BACKOFF_S = 0.25
"""Doubled after each failed attempt."""

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class CallResource:
    """The fields we read of Twilio's Call resource."""

    sid: str
    status: str
    """queued, ringing, in-progress, completed, busy, failed, no-answer, canceled."""
    to: str
    from_: str


@dataclass(frozen=True, slots=True)
class ParticipantResource:
    """The fields we read of a conference Participant resource."""

    call_sid: str
    conference_sid: str
    status: str
    """queued, connecting, ringing, connected, complete, failed."""
    hold: bool
    muted: bool


class TwilioRest:
    """One account's REST client; ``async with`` it (or ``aclose``) to free its connections."""

    def __init__(
        self,
        base_url: str,
        account_sid: str,
        auth_token: str,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.account_sid = account_sid
        self._http = httpx.AsyncClient(
            base_url=f"{base_url.rstrip('/')}/{API_VERSION}/Accounts/{account_sid}",
            auth=(account_sid, auth_token),
            headers={"Accept": "application/json"},
            timeout=None,  # the caller's cancel scope decides
            transport=transport,
        )

    @classmethod
    def from_config(cls, config: Config) -> TwilioRest | None:
        """``[twilio].api_base_url`` with TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN; None when
        either secret is unset (no REST: no warm transfer, no SMS)."""
        secrets = config.secrets
        if not (secrets.twilio_account_sid and secrets.twilio_auth_token):
            return None
        return cls(
            config.twilio.api_base_url, secrets.twilio_account_sid, secrets.twilio_auth_token
        )

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    # --- Calls --------------------------------------------------------------------------

    async def create_call(
        self,
        *,
        to: str,
        from_: str,
        twiml: str,
        timeout_s: int = 60,
        status_callback: str = "",
        status_callback_events: Iterable[str] = (),
    ) -> CallResource:
        """Dial ``to``; once answered it runs ``twiml``. ``timeout_s``: how long it rings."""
        form = [("To", to), ("From", from_), ("Twiml", twiml), ("Timeout", str(timeout_s))]
        if status_callback:
            form.append(("StatusCallback", status_callback))
            form.extend(("StatusCallbackEvent", event) for event in status_callback_events)
        return _call(await self._request("POST", "/Calls.json", form))

    async def update_call(
        self, call_sid: str, *, twiml: str | None = None, status: str | None = None
    ) -> CallResource:
        """Give a live call new TwiML, or end it (``status``: "completed" or "canceled")."""
        form = [("Twiml", twiml)] if twiml is not None else []
        if status is not None:
            form.append(("Status", status))
        return _call(await self._request("POST", f"/Calls/{call_sid}.json", form))

    # --- Conference participants ---------------------------------------------------------

    async def add_participant(
        self,
        conference: str,
        *,
        to: str,
        from_: str,
        timeout_s: int = 60,
        status_callback: str = "",
        status_callback_events: Iterable[str] = (),
        end_conference_on_exit: bool = False,
    ) -> ParticipantResource:
        """Dial ``to`` into ``conference`` (its SID or its name)."""
        form = [
            ("To", to),
            ("From", from_),
            ("Timeout", str(timeout_s)),
            ("EndConferenceOnExit", _flag(end_conference_on_exit)),
        ]
        if status_callback:
            form.append(("StatusCallback", status_callback))
            form.extend(("StatusCallbackEvent", event) for event in status_callback_events)
        path = f"/Conferences/{conference}/Participants.json"
        return _participant(await self._request("POST", path, form))

    async def update_participant(
        self,
        conference_sid: str,
        call_sid: str,
        *,
        hold: bool | None = None,
        muted: bool | None = None,
    ) -> ParticipantResource:
        form = [("Hold", _flag(hold))] if hold is not None else []
        if muted is not None:
            form.append(("Muted", _flag(muted)))
        path = f"/Conferences/{conference_sid}/Participants/{call_sid}.json"
        return _participant(await self._request("POST", path, form))

    async def remove_participant(self, conference_sid: str, call_sid: str) -> None:
        """Take a participant out of the conference (and so end their leg)."""
        path = f"/Conferences/{conference_sid}/Participants/{call_sid}.json"
        await self._request("DELETE", path, [])

    # --- Messages -----------------------------------------------------------------------

    async def send_sms(self, *, to: str, from_: str, body: str, status_callback: str = "") -> str:
        """Queue an SMS; the message's SID (SM...)."""
        form = [("To", to), ("From", from_), ("Body", body)]
        if status_callback:
            form.append(("StatusCallback", status_callback))
        message = await self._request("POST", "/Messages.json", form)
        return _field(message, "sid", str)

    # --- The edge -----------------------------------------------------------------------

    async def _request(
        self, method: str, path: str, form: list[tuple[str, str]]
    ) -> Mapping[str, Any]:
        try:
            response = await self._http.request(method, path, data=dict(_grouped(form)))
        except httpx.TransportError as exc:
            raise TwilioUnavailable(f"Twilio unreachable: {exc!r}") from exc
        if response.status_code == 204:
            return {}
        body = _json(response)
        if response.is_success:
            return body
        raise _error(response.status_code, body)


async def retrying(
    attempt: Callable[[], Awaitable[T]],
    *,
    attempts: int = RETRY_ATTEMPTS,
    backoff_s: float = RETRY_BACKOFF_S,
) -> T:
    """``attempt()`` again after a retryable failure, up to ``attempts`` times in all. For
    idempotent requests only (updates, deletes); the caller's scope bounds the whole."""
    for remaining in range(attempts - 1, -1, -1):
        try:
            return await attempt()
        except TwilioError as exc:
            if not exc.retryable or not remaining:
                raise
        await trio.sleep(backoff_s)
        backoff_s *= 2
    raise AssertionError("unreachable")


def _grouped(form: list[tuple[str, str]]) -> dict[str, str | list[str]]:
    """httpx takes a repeated field (StatusCallbackEvent) as a list."""
    grouped: dict[str, str | list[str]] = {}
    for key, value in form:
        held = grouped.get(key)
        if held is None:
            grouped[key] = value
        else:
            grouped[key] = [*(held if isinstance(held, list) else [held]), value]
    return grouped


def _json(response: httpx.Response) -> Mapping[str, Any]:
    try:
        body = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        body = None
    if not isinstance(body, dict):
        raise TwilioUnavailable(
            f"Twilio answered HTTP {response.status_code} without a JSON object",
            status=response.status_code,
        )
    return body


def _error(status: int, body: Mapping[str, Any]) -> TwilioError:
    code = body.get("code") if isinstance(body.get("code"), int) else None
    message = f"Twilio {status} (code {code}): {body.get('message', '')}"
    kind = TwilioUnavailable if status >= 500 or status == 429 else TwilioRejected
    return kind(message, code=code, status=status)


def _field(body: Mapping[str, Any], name: str, kind: type[T]) -> T:
    value = body.get(name)
    if not isinstance(value, kind):
        raise TwilioUnavailable(f"Twilio's answer has no {name!r} ({kind.__name__})")
    return value


def _call(body: Mapping[str, Any]) -> CallResource:
    return CallResource(
        sid=_field(body, "sid", str),
        status=_field(body, "status", str),
        to=str(body.get("to") or ""),
        from_=str(body.get("from") or ""),
    )


def _participant(body: Mapping[str, Any]) -> ParticipantResource:
    return ParticipantResource(
        call_sid=_field(body, "call_sid", str),
        conference_sid=_field(body, "conference_sid", str),
        status=_field(body, "status", str),
        hold=bool(body.get("hold")),
        muted=bool(body.get("muted")),
    )


def _flag(value: bool) -> str:
    return "true" if value else "false"
