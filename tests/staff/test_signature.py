"""The webhook's signature scheme: what the clinic checks, and what it must refuse."""

from __future__ import annotations

import hashlib
import hmac

from receptionist.staff.signature import signature_header, verify_signature

SECRET = "whsec_test_0123456789"
BODY = b'{"id":"report:call:CA1","type":"call.report"}'
T = 1_764_600_000


def test_the_header_is_t_and_the_hex_hmac_of_t_dot_body() -> None:
    expected = hmac.new(SECRET.encode(), f"{T}.".encode() + BODY, hashlib.sha256).hexdigest()
    assert signature_header(SECRET, BODY, T) == f"t={T},v1={expected}"


def test_a_signed_body_verifies_within_the_tolerance() -> None:
    header = signature_header(SECRET, BODY, T)
    assert verify_signature(SECRET, BODY, header, now=T + 299)
    assert verify_signature(SECRET, BODY, f"v1=ignored, {header.replace(',', ', ')}", now=T)


def test_a_changed_body_another_secret_a_stale_time_or_junk_is_refused() -> None:
    header = signature_header(SECRET, BODY, T)
    assert not verify_signature(SECRET, BODY + b" ", header, now=T)
    assert not verify_signature("another", BODY, header, now=T)
    assert not verify_signature(SECRET, BODY, header, now=T + 301)
    assert not verify_signature(SECRET, BODY, header.replace(f"t={T}", f"t={T + 1}"), now=T)
    for junk in ("", "t=,v1=", f"t={T}", "v1=abc", f"t=x{T},v1=00"):
        assert not verify_signature(SECRET, BODY, junk, now=T)
