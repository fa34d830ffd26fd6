"""Per-call counters of the per-frame hot path: nanoseconds spent in each stage, summed.

The call's supervisor makes one ``FrameCosts`` and binds it (``counting``) before it starts
the actors, which inherit it (a context variable, as structlog's are) and read it once at
start (``current``). ``perf_counter_ns`` is a vDSO read, tens of ns: the stages it times
are synchronous, so on a quiet core it is their CPU time. (``thread_time_ns`` would be CPU
time whatever else the machine runs, but it is a syscall: measured 9 µs a read on a loaded
VM, eight reads a frame would cost more than some of the stages.) Logged at call end
(``call.frame_costs``) and summed by ``python -m receptionist.devtools.bench.cloud_capacity``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

STAGES = ("vad", "inbound_parse", "outbound_encode")


@dataclass(slots=True)
class FrameCosts:
    """ns and frames per stage, and the messages Deepgram got (sends are awaited, so their
    time would hold other tasks' too: their cost shows in a profile, their count here)."""

    vad_ns: int = 0
    vad_frames: int = 0
    vad_skipped: int = 0
    """Windows of a quiet line the model did not run on (``engines.vad_quiet``)."""
    inbound_parse_ns: int = 0
    inbound_parse_frames: int = 0
    outbound_encode_ns: int = 0
    outbound_encode_frames: int = 0
    deepgram_frames: int = 0
    deepgram_messages: int = 0


_current: ContextVar[FrameCosts | None] = ContextVar("frame_costs", default=None)


def current() -> FrameCosts:
    """The call's counters; outside a call (an actor under test), throwaway ones."""
    return _current.get() or FrameCosts()


@contextmanager
def counting(costs: FrameCosts) -> Iterator[FrameCosts]:
    token = _current.set(costs)
    try:
        yield costs
    finally:
        _current.reset(token)
