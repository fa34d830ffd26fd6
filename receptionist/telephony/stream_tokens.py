"""Media-stream tokens, I/O-free: only our own ``/incoming-call`` answer hands them out.

A token is ``<issued>.<mac>``: an HMAC-SHA256, under the stream secret, of when it was issued
and of every other ``<Parameter>`` of the stream (the call SID and the caller's number
included), so a holder can neither edit the parameters nor keep the token: it expires
``STREAM_TOKEN_TTL_S`` after issue (Twilio opens the stream within a second or two of our
answer).

One stream per token: ``StreamTokens.redeem`` remembers each token it accepted until it
expires. That memory is this process's: several processes sharing
``RECEPTIONIST_STREAM_SECRET`` each accept a token once, so across processes a replay is
bounded only by the token's short life (and, with ``TWILIO_AUTH_TOKEN`` set, needs the
upgrade's ``X-Twilio-Signature`` too). Sticky routing by call SID makes it one-use overall.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Callable, Mapping

TOKEN_PARAMETER = "token"
CALL_SID_PARAMETER = "callSid"
STREAM_TOKEN_TTL_S = 60.0
"""Long enough for Twilio to open the stream after our answer, on a slow day."""
CLOCK_SKEW_S = 5.0
"""Processes sharing the secret may disagree about the time by this much."""


class StreamTokens:
    """Issue and redeem this process's media-stream tokens."""

    def __init__(
        self,
        secret: bytes,
        *,
        ttl_s: float = STREAM_TOKEN_TTL_S,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._secret = secret
        self._ttl_s = ttl_s
        self._clock = clock  # wall-clock seconds: shared by every process on the secret
        self._redeemed: dict[str, float] = {}
        """Token -> when it expires: a replay within its life is refused."""

    @classmethod
    def from_configured(cls, configured: str) -> StreamTokens:
        """From ``RECEPTIONIST_STREAM_SECRET`` (``config.secrets.stream_secret``), needed when
        several processes share the traffic; else a random secret of this process's own."""
        return cls(configured.encode() if configured else secrets.token_bytes(32))

    def issue(self, parameters: Mapping[str, str]) -> str:
        issued = str(int(self._clock()))
        return f"{issued}.{self._mac(issued, parameters)}"

    def redeem(self, call_sid: str, parameters: Mapping[str, str]) -> bool:
        """True once for a stream whose token we issued for exactly these parameters, for
        this call, and which has not expired; False for anything else."""
        now = self._clock()
        self._forget_expired(now)
        token = parameters.get(TOKEN_PARAMETER, "")
        issued, _, mac = token.partition(".")
        if not issued.isdigit() or parameters.get(CALL_SID_PARAMETER) != call_sid:
            return False
        # As bytes: compare_digest refuses non-ASCII str, and a peer chooses this value.
        if not hmac.compare_digest(self._mac(issued, parameters).encode(), mac.encode()):
            return False
        expires = int(issued) + self._ttl_s
        if not int(issued) - CLOCK_SKEW_S <= now <= expires or token in self._redeemed:
            return False
        self._redeemed[token] = expires
        return True

    def _mac(self, issued: str, parameters: Mapping[str, str]) -> str:
        signed = sorted((k, v) for k, v in parameters.items() if k != TOKEN_PARAMETER)
        payload = json.dumps([issued, signed], ensure_ascii=True).encode()
        return hmac.new(self._secret, payload, hashlib.sha256).hexdigest()

    def _forget_expired(self, now: float) -> None:
        for token, expires in list(self._redeemed.items()):
            if expires < now:
                del self._redeemed[token]
