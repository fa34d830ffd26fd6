"""Login lock-out, on an injected clock: wrong passwords from one address, then from many,
lock the login for a growing time; a right password and a quiet hour clear the count."""

from __future__ import annotations

from receptionist.review.lockout import (
    FIRST_LOCK_S,
    FORGET_AFTER_S,
    MAX_ADDRESSES,
    MAX_LOCK_S,
    OVERALL_TRIES,
    PER_ADDRESS_TRIES,
    LoginLockout,
)

A, B = "203.0.113.7", "198.51.100.9"


def fail(lockout: LoginLockout, address: str, times: int, now: float = 0.0) -> float:
    lock = 0.0
    for _ in range(times):
        lock = lockout.failed(address, now)
    return lock


def test_an_address_is_locked_after_its_tries_for_longer_each_time() -> None:
    lockout = LoginLockout()
    assert fail(lockout, A, PER_ADDRESS_TRIES - 1) == 0
    assert lockout.wait_s(A, 0) == 0
    assert lockout.failed(A, 0) == FIRST_LOCK_S
    assert lockout.wait_s(A, 1) == FIRST_LOCK_S - 1
    assert lockout.wait_s(B, 1) == 0  # another address is not held up
    now = FIRST_LOCK_S
    assert lockout.wait_s(A, now) == 0
    assert lockout.failed(A, now) == 2 * FIRST_LOCK_S  # one more wrong: twice as long
    assert lockout.failed(A, now + 2 * FIRST_LOCK_S) == 4 * FIRST_LOCK_S
    assert fail(lockout, A, 20, now) == MAX_LOCK_S  # and never longer than the cap


def test_many_addresses_together_lock_everyone() -> None:
    lockout = LoginLockout()
    for n in range(OVERALL_TRIES - 1):
        assert lockout.failed(f"10.0.{n // 250}.{n % 250}", 0) == 0
    assert lockout.failed("10.9.9.9", 0) == FIRST_LOCK_S
    assert lockout.wait_s(A, 0) == FIRST_LOCK_S  # an address that never guessed waits too


def test_a_right_password_clears_the_count() -> None:
    lockout = LoginLockout()
    fail(lockout, A, PER_ADDRESS_TRIES - 1)
    lockout.succeeded(A)
    assert lockout.failed(A, 0) == 0


def test_wrong_passwords_are_forgotten_after_a_quiet_hour() -> None:
    lockout = LoginLockout()
    fail(lockout, A, PER_ADDRESS_TRIES)
    later = FORGET_AFTER_S + FIRST_LOCK_S + 1
    assert lockout.wait_s(A, later) == 0
    assert lockout.failed(A, later) == 0  # counting from one again


def test_the_addresses_kept_are_bounded() -> None:
    lockout = LoginLockout()
    for n in range(MAX_ADDRESSES + 10):
        lockout.failed(f"a{n}", 0)
    assert len(lockout._failures) == MAX_ADDRESSES + 1
    assert lockout.wait_s("a0", 0) == lockout.wait_s(B, 0)  # the oldest was forgotten
