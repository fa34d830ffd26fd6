"""The webhook's signature, as Stripe signs its own: HMAC-SHA256 over a timestamp and the body.

Header ``X-Receptionist-Signature: t=<unix seconds>,v1=<hex digest>``, where the digest is
``HMAC-SHA256(secret, f"{t}.{body}")`` over the raw body bytes. The timestamp is signed with
the body, so a captured request replayed later fails the receiver's tolerance check; the
receiver dedups by the ``X-Receptionist-Delivery`` header (one id per report or message,
the same on every retry). I/O-free.
"""

from __future__ import annotations

import hashlib
import hmac

SIGNATURE_HEADER = "X-Receptionist-Signature"
DELIVERY_HEADER = "X-Receptionist-Delivery"
"""The same id on every attempt at one report or message: the receiver dedups by it."""
TOLERANCE_S = 300
"""A receiver refuses a signature older (or newer) than this: replays are stale."""


def signature_header(secret: str, body: bytes, timestamp: int) -> str:
    return f"t={timestamp},v1={_digest(secret, body, timestamp)}"


def verify_signature(
    secret: str, body: bytes, header: str, *, now: float, tolerance_s: float = TOLERANCE_S
) -> bool:
    """True when ``header`` signs ``body`` with ``secret`` and its time is within tolerance.

    Any ``v1`` of the header may match (a sender rotating secrets may send two)."""
    fields = [part.split("=", 1) for part in header.split(",") if "=" in part]
    stamps = [value for key, value in fields if key.strip() == "t"]
    if len(stamps) != 1 or not stamps[0].strip().isdigit():
        return False
    timestamp = int(stamps[0])
    if abs(now - timestamp) > tolerance_s:
        return False
    expected = _digest(secret, body, timestamp)
    return any(
        hmac.compare_digest(expected, value.strip()) for key, value in fields if key.strip() == "v1"
    )


def _digest(secret: str, body: bytes, timestamp: int) -> str:
    signed = str(timestamp).encode() + b"." + body
    return hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
