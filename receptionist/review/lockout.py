"""Login lock-out for the review pages: guessing the password gets slower and slower.

After ``PER_ADDRESS_TRIES`` wrong passwords from one client address, that address is refused
for ``FIRST_LOCK_S``, then twice as long after each further wrong password, up to
``MAX_LOCK_S``. Many addresses guessing together (``OVERALL_TRIES`` wrong passwords from all
of them) lock the login for everyone the same way: a slow guess from many machines is still
slow. While locked even the right password is refused, or locking would not slow a guesser.
A right password clears the count; wrong ones are forgotten after ``FORGET_AFTER_S`` without
another. I/O-free: the caller passes the time (trio's clock) and logs what it returns.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

PER_ADDRESS_TRIES = 5
OVERALL_TRIES = 20
FIRST_LOCK_S = 15.0
MAX_LOCK_S = 900.0
MAX_DOUBLINGS = 16
"""Past the cap already; bounds the arithmetic of a count that keeps growing."""
FORGET_AFTER_S = 3600.0
MAX_ADDRESSES = 10_000
"""Addresses with recent failures kept; beyond this the longest quiet one is forgotten."""
OVERALL = "*"


@dataclass
class _Failures:
    count: int = 0
    last_at: float = 0.0
    locked_until: float = 0.0


class LoginLockout:
    def __init__(self) -> None:
        self._failures: OrderedDict[str, _Failures] = OrderedDict()

    def wait_s(self, address: str, now: float) -> float:
        """How long ``address`` must wait before its next try; 0: it may try now."""
        entries = [self._current(key, now) for key in (address, OVERALL)]
        until = max((entry.locked_until for entry in entries if entry is not None), default=now)
        return max(until - now, 0.0)

    def failed(self, address: str, now: float) -> float:
        """Count a wrong password; the lock it starts (for this address or for all), if any."""
        lock = 0.0
        for key, tries in ((address, PER_ADDRESS_TRIES), (OVERALL, OVERALL_TRIES)):
            entry = self._current(key, now) or _Failures()
            self._failures[key] = entry
            entry.count += 1
            entry.last_at = now
            self._failures.move_to_end(key)
            if entry.count >= tries:
                doublings = min(entry.count - tries, MAX_DOUBLINGS)
                seconds = min(FIRST_LOCK_S * 2**doublings, MAX_LOCK_S)
                entry.locked_until = max(entry.locked_until, now + seconds)
                lock = max(lock, seconds)
        while len(self._failures) > MAX_ADDRESSES + 1:  # + the overall count
            oldest = next(key for key in self._failures if key != OVERALL)
            del self._failures[oldest]
        return lock

    def succeeded(self, address: str) -> None:
        self._failures.pop(address, None)
        self._failures.pop(OVERALL, None)

    def _current(self, key: str, now: float) -> _Failures | None:
        """The key's failures, unless none or forgotten (quiet long enough, not locked)."""
        entry = self._failures.get(key)
        if entry is None or now - entry.last_at <= FORGET_AFTER_S or now < entry.locked_until:
            return entry
        del self._failures[key]
        return None
