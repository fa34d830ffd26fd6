"""Who may see call records: whoever knows RECEPTIONIST_ADMIN_PASSWORD (Config.secrets).

No password: the pages are off (404). A login sets a signed session cookie (HttpOnly,
SameSite=Strict, Secure behind https) that expires; changing the password ends every
session. Login and logout, the only requests that change state, are POSTs carrying a CSRF
token (login: double-submit cookie; logout: derived from the session) and refused from
another origin. I/O-free: the pages pass in the cookies and the time.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

SESSION_COOKIE = "receptionist_session"
LOGIN_CSRF_COOKIE = "receptionist_login_csrf"
SESSION_S = 12 * 3600
"""A working day: then log in again."""


class Access:
    def __init__(self, password: str) -> None:
        self._password = password
        self._key = hmac.digest(password.encode(), b"receptionist call review", "sha256")

    @property
    def enabled(self) -> bool:
        return bool(self._password)

    def password_matches(self, given: str) -> bool:
        if not self.enabled:
            return False
        return hmac.compare_digest(_digest(given), _digest(self._password))

    def new_session(self, now: float) -> str:
        expires = str(int(now + SESSION_S))
        nonce = secrets.token_urlsafe(16)
        return f"{expires}.{nonce}.{self._sign(expires + '.' + nonce)}"

    def session_valid(self, cookie: str | None, now: float) -> bool:
        if not self.enabled or not cookie or cookie.count(".") != 2:
            return False
        expires, nonce, signature = cookie.split(".")
        if not hmac.compare_digest(signature, self._sign(expires + "." + nonce)):
            return False
        return expires.isdigit() and int(expires) > now

    def logout_token(self, session: str) -> str:
        return self._sign("logout:" + session)

    def _sign(self, text: str) -> str:
        return hmac.new(self._key, text.encode(), hashlib.sha256).hexdigest()


def new_csrf_token() -> str:
    return secrets.token_urlsafe(24)


def same_origin(origin: str | None, host: str) -> bool:
    """A browser's POST names its origin; one from another site is refused. No header (old
    clients, curl) is let through: SameSite=Strict and the token still hold."""
    if not origin:
        return True
    return origin.split("://", 1)[-1] == host


def _digest(text: str) -> bytes:
    return hashlib.sha256(text.encode()).digest()
