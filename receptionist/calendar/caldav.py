"""A CalDAV client (RFC 4791) on httpx: the few requests the receptionist needs.

Each booking's event lives at ``<collection>/<uid>.ics``, so writing it again, after a
timeout or a restart, replaces the same event: a PUT of the whole event is idempotent and
never makes a second one. Transport failures and HTTP errors are mapped here, at the edge,
to the CalendarError branch of ``receptionist.errors``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import quote, urljoin, urlsplit
from xml.etree import ElementTree

import httpx

from receptionist.calendar.auth import build_auth
from receptionist.config.calendar import CalendarConfig
from receptionist.errors import CalendarAuthError, CalendarRejected, CalendarUnavailable

DAV, CALDAV, CALSERVER = "DAV:", "urn:ietf:params:xml:ns:caldav", "http://calendarserver.org/ns/"
ICS_TYPE = "text/calendar; charset=utf-8"
XML_TYPE = "application/xml; charset=utf-8"
USER_AGENT = "receptionist-caldav/1"

_COLLECTION_PROPS = f"""<?xml version="1.0" encoding="utf-8"?>
<d:propfind xmlns:d="{DAV}" xmlns:cs="{CALSERVER}">
  <d:prop><d:resourcetype/><d:displayname/><cs:getctag/><d:sync-token/></d:prop>
</d:propfind>"""

_PRINCIPAL_PROPS = f"""<?xml version="1.0" encoding="utf-8"?>
<d:propfind xmlns:d="{DAV}" xmlns:c="{CALDAV}">
  <d:prop><d:current-user-principal/><c:calendar-home-set/></d:prop>
</d:propfind>"""


@dataclass(frozen=True, slots=True)
class CollectionInfo:
    is_calendar: bool
    name: str
    tag: str | None
    """The ctag, else the sync-token: it changes whenever any event in the calendar does."""


class CalDavClient:
    """Events of one calendar collection, addressed by UID. Every method may raise
    ``CalendarUnavailable``, ``CalendarAuthError`` or ``CalendarRejected``."""

    def __init__(self, http: httpx.AsyncClient, collection_url: str) -> None:
        self._http = http
        self.url = collection_url if collection_url.endswith("/") else collection_url + "/"

    def event_url(self, uid: str) -> str:
        return urljoin(self.url, quote(uid, safe="") + ".ics")

    async def describe(self) -> CollectionInfo:
        """What the URL is (PROPFIND, depth 0): signs in and reads the change tag."""
        response = await self._send("PROPFIND", self.url, _COLLECTION_PROPS, depth="0")
        props = next(iter(_multistatus(response).values()), {})
        kind = props.get(f"{{{DAV}}}resourcetype")
        tag = props.get(f"{{{CALSERVER}}}getctag") or props.get(f"{{{DAV}}}sync-token")
        name = props.get(f"{{{DAV}}}displayname")
        return CollectionInfo(
            is_calendar=kind is not None and kind.find(f"{{{CALDAV}}}calendar") is not None,
            name=(name.text or "").strip() if name is not None else "",
            tag=(tag.text or "").strip() or None if tag is not None else None,
        )

    async def find_calendars(self) -> list[tuple[str, str]]:
        """The signed-in user's calendars, as (URL, name), found from this URL: its
        principal, the principal's calendar home, the home's calendars (RFC 6764 6), trying
        the server's /.well-known/caldav when this URL knows no principal."""
        home = await self._href(self.url, f"{{{CALDAV}}}calendar-home-set")
        if home is None:
            principal = await self._href(self.url, f"{{{DAV}}}current-user-principal")
            if principal is None:
                principal = await self._href(
                    urljoin(self.url, "/.well-known/caldav"), f"{{{DAV}}}current-user-principal"
                )
            home = principal and await self._href(principal, f"{{{CALDAV}}}calendar-home-set")
        if home is None:
            return []
        response = await self._send("PROPFIND", home, _COLLECTION_PROPS, depth="1")
        found = []
        for href, props in _multistatus(response).items():
            kind, name = props.get(f"{{{DAV}}}resourcetype"), props.get(f"{{{DAV}}}displayname")
            if kind is not None and kind.find(f"{{{CALDAV}}}calendar") is not None:
                found.append((urljoin(home, href), (name.text or "") if name is not None else ""))
        return found

    async def _href(self, url: str, tag: str) -> str | None:
        """The URL in property ``tag`` of ``url``, if it has it."""
        try:
            response = await self._send("PROPFIND", url, _PRINCIPAL_PROPS, depth="0")
            answers = _multistatus(response).values()
        except CalendarRejected:  # not a DAV resource, or no such property here
            return None
        hrefs = (props[tag].findtext(f"{{{DAV}}}href") for props in answers if tag in props)
        return next((urljoin(url, href.strip()) for href in hrefs if href), None)

    async def put_event(self, uid: str, ics: bytes) -> None:
        """Create or replace the event ``uid``: unconditionally, so a retry after a lost
        answer succeeds (``If-None-Match: *`` would refuse it, and Google takes no If-*
        header but If-Match, which would need an ETag kept across restarts)."""
        headers = {"Content-Type": ICS_TYPE}
        url = self.event_url(uid)
        response = await self._send("PUT", url, ics, headers=headers, check=False)
        if _is_uid_conflict(response):  # our UID already lives under another name
            url = await self._url_of(uid) or url
            response = await self._send("PUT", url, ics, headers=headers, check=False)
        _raise_for_status(response, f"PUT {uid}")

    async def delete_event(self, uid: str) -> bool:
        """Delete the event ``uid``; False when there was none (gone already: fine)."""
        response = await self._send("DELETE", self.event_url(uid), check=False)
        if response.status_code in (httpx.codes.NOT_FOUND, httpx.codes.GONE):
            elsewhere = await self._url_of(uid)  # written by another client, under its name
            if elsewhere is None:
                return False
            response = await self._send("DELETE", elsewhere, check=False)
            if response.status_code in (httpx.codes.NOT_FOUND, httpx.codes.GONE):
                return False
        _raise_for_status(response, f"DELETE {uid}")
        return True

    async def events_between(self, start: datetime, end: datetime) -> list[str]:
        """The iCalendar text of every event with an occurrence in [start, end).

        The server matches the time range, recurrences included (RFC 4791 9.9), and sends
        whole objects; the caller expands occurrences (``events.busy_spans``).
        """
        body = f"""<?xml version="1.0" encoding="utf-8"?>
<c:calendar-query xmlns:d="{DAV}" xmlns:c="{CALDAV}">
  <d:prop><c:calendar-data/></d:prop>
  <c:filter><c:comp-filter name="VCALENDAR"><c:comp-filter name="VEVENT">
    <c:time-range start="{_utc(start)}" end="{_utc(end)}"/>
  </c:comp-filter></c:comp-filter></c:filter>
</c:calendar-query>"""
        response = await self._send("REPORT", self.url, body, depth="1")
        found = _multistatus(response).values()
        data = (props.get(f"{{{CALDAV}}}calendar-data") for props in found)
        return [element.text for element in data if element is not None and element.text]

    async def _url_of(self, uid: str) -> str | None:
        """Where the event ``uid`` really is: a calendar-query on the UID property."""
        body = f"""<?xml version="1.0" encoding="utf-8"?>
<c:calendar-query xmlns:d="{DAV}" xmlns:c="{CALDAV}">
  <d:prop><d:getetag/></d:prop>
  <c:filter><c:comp-filter name="VCALENDAR"><c:comp-filter name="VEVENT">
    <c:prop-filter name="UID"><c:text-match collation="i;octet">{_xml_text(uid)}</c:text-match>
    </c:prop-filter>
  </c:comp-filter></c:comp-filter></c:filter>
</c:calendar-query>"""
        response = await self._send("REPORT", self.url, body, depth="1")
        urls = [urljoin(self.url, href) for href in _multistatus(response)]
        return next((url for url in urls if url.rstrip("/") != self.url.rstrip("/")), None)

    async def _send(
        self,
        method: str,
        url: str,
        content: str | bytes | None = None,
        *,
        depth: str | None = None,
        headers: Mapping[str, str] | None = None,
        check: bool = True,
    ) -> httpx.Response:
        all_headers = dict(headers or {})
        if depth is not None:
            all_headers.setdefault("Content-Type", XML_TYPE)
            all_headers["Depth"] = depth
        host = urlsplit(url).netloc
        try:
            response = await self._http.request(method, url, content=content, headers=all_headers)
        except httpx.TimeoutException as exc:
            raise CalendarUnavailable(
                f"{method} to {host} timed out: {type(exc).__name__}"
            ) from exc
        except httpx.HTTPError as exc:
            raise CalendarUnavailable(f"cannot reach the calendar at {host}: {exc}") from exc
        if check:
            _raise_for_status(response, method)
        return response


@asynccontextmanager
async def open_caldav(
    settings: CalendarConfig, secrets: Mapping[str, str]
) -> AsyncIterator[CalDavClient]:
    """A client for ``settings.url``, its connections closed on exit.

    Raises:
        ConfigError: a secret is missing (``Config.secrets.calendar``).
    """
    timeout = httpx.Timeout(settings.request_timeout_s, connect=settings.connect_timeout_s)
    async with httpx.AsyncClient(
        auth=build_auth(settings, secrets),
        timeout=timeout,
        follow_redirects=True,  # httpx drops the credentials on a redirect to another host
        headers={"User-Agent": USER_AGENT},
    ) as http:
        yield CalDavClient(http, settings.collection_url)


def _raise_for_status(response: httpx.Response, what: str) -> None:
    status = response.status_code
    if status < 300:
        return
    detail = f"{what}: HTTP {status} {response.reason_phrase}".rstrip()
    if status in (httpx.codes.UNAUTHORIZED, httpx.codes.FORBIDDEN):
        raise CalendarAuthError(f"the calendar refused the credentials ({detail})", status=status)
    if status >= 500 or status in (httpx.codes.TOO_MANY_REQUESTS, httpx.codes.REQUEST_TIMEOUT):
        raise CalendarUnavailable(f"the calendar failed ({detail})", status=status)
    raise CalendarRejected(f"the calendar refused the request ({detail})", status=status)


def _is_uid_conflict(response: httpx.Response) -> bool:
    """RFC 4791 5.3.2.1: the UID is taken by an event under another resource name."""
    conflict = response.status_code in (httpx.codes.CONFLICT, httpx.codes.FORBIDDEN)
    return conflict and b"no-uid-conflict" in response.content


def _multistatus(response: httpx.Response) -> dict[str, dict[str, ElementTree.Element]]:
    """A 207 Multi-Status body as {href: {property tag: element}}, 200 propstats only."""
    if response.status_code != httpx.codes.MULTI_STATUS:
        raise CalendarRejected(f"expected a multistatus answer, got HTTP {response.status_code}")
    try:
        root = ElementTree.fromstring(response.content)
    except ElementTree.ParseError as exc:
        raise CalendarRejected(f"the calendar sent malformed XML: {exc}") from exc
    found: dict[str, dict[str, ElementTree.Element]] = {}
    for entry in root.iter(f"{{{DAV}}}response"):
        href = (entry.findtext(f"{{{DAV}}}href") or "").strip()
        props = found.setdefault(href, {})
        for propstat in entry.iter(f"{{{DAV}}}propstat"):
            if " 200 " in (propstat.findtext(f"{{{DAV}}}status") or "") + " ":
                for prop in propstat.iterfind(f"{{{DAV}}}prop/*"):
                    props[prop.tag] = prop
    return found


def _utc(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def _xml_text(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
