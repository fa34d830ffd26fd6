"""A stand-in for Google Calendar's CalDAV: OAuth 2.0 bearer tokens in front of Radicale.

Speaks the real wire protocols: an RFC 6749 token endpoint (``POST /token``, grant_type
refresh_token, JSON answer with access_token and expires_in), and CalDAV under ``/dav/`` that
answers 401 without the current access token and otherwise passes the request to Radicale.
"""

from __future__ import annotations

from typing import Any

import httpx
from quart import Response, request
from quart_trio import QuartTrio

CLIENT_ID = "clinic-app.apps.example"
CLIENT_SECRET = "client-secret-value"
REFRESH_TOKEN = "refresh-token-value"
DAV_METHODS = ["GET", "PUT", "DELETE", "PROPFIND", "REPORT", "OPTIONS", "MKCALENDAR"]
PASSED_HEADERS = ("Content-Type", "Depth", "If-None-Match", "If-Match")


class FakeGoogle:
    def __init__(self, radicale_url: str, radicale_auth: tuple[str, str]) -> None:
        self.radicale_url = radicale_url.rstrip("/")
        self.radicale_auth = radicale_auth
        self.access_token = ""
        self.issued = 0
        self.refused = 0

    def revoke(self) -> None:
        """The access token expires early, as Google's may."""
        self.access_token = "revoked"

    def app(self) -> QuartTrio:
        app = QuartTrio("fake-google-caldav")
        app.add_url_rule("/token", "token", self._token, methods=["POST"])
        app.add_url_rule("/dav/<path:path>", "dav", self._dav, methods=DAV_METHODS)
        return app

    async def _token(self) -> Any:
        form = await request.form
        expected = {
            "grant_type": "refresh_token",
            "refresh_token": REFRESH_TOKEN,
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
        }
        if {key: form.get(key) for key in expected} != expected:
            return {"error": "invalid_grant"}, 400
        self.issued += 1
        self.access_token = f"access-token-{self.issued}"
        return {"access_token": self.access_token, "expires_in": 3599, "token_type": "Bearer"}

    async def _dav(self, path: str) -> Response:
        if request.headers.get("Authorization") != f"Bearer {self.access_token}":
            self.refused += 1
            return Response("", 401, {"WWW-Authenticate": 'Bearer realm="caldav"'})
        headers = {k: v for k, v in request.headers.items() if k.title() in PASSED_HEADERS}
        async with httpx.AsyncClient(auth=self.radicale_auth) as radicale:
            answer = await radicale.request(
                request.method,
                f"{self.radicale_url}/{path}",
                headers=headers,
                content=await request.get_data(as_text=False),
            )
        passed = {k: v for k, v in answer.headers.items() if k.lower() in ("content-type", "etag")}
        return Response(answer.content, answer.status_code, passed)
