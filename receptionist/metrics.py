"""Prometheus metrics, read off the log events the pipeline already writes.

One structlog processor (``observe``, installed by logs.py) turns the events that carry
what an operator watches into counters and histograms, so no stage imports this module and
a log line and its metric cannot disagree.

Several worker processes (``receptionist serve --workers N``) share one multiprocess
directory (``PROMETHEUS_MULTIPROC_DIR``, set by the parent): whichever process answers
``/metrics`` reports the sum over all of them. A single process reports its own.
"""

from __future__ import annotations

import os
from collections.abc import MutableMapping
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

MULTIPROCESS_DIR = "PROMETHEUS_MULTIPROC_DIR"
LATENCY_BUCKETS_S = (0.1, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0)
REACTION_BUCKETS_S = (0.02, 0.05, 0.1, 0.15, 0.2, 0.3, 0.5, 1.0, 2.0)

CALLS_ACTIVE = Gauge("receptionist_calls_active", "Calls in progress.", multiprocess_mode="livesum")
CALLS = Counter("receptionist_calls", "Calls ended, by outcome.", ["outcome"])
TURN_LATENCY = Histogram(
    "receptionist_turn_latency_seconds",
    "End of the caller's speech to the first frame of the reply sent.",
    buckets=LATENCY_BUCKETS_S,
)
BARGE_IN_REACTION = Histogram(
    "receptionist_barge_in_reaction_seconds",
    "The caller's speech starting over ours to our audio stopping.",
    buckets=REACTION_BUCKETS_S,
)
PROVIDER_ERRORS = Counter(
    "receptionist_provider_errors", "Errors from cloud engines.", ["provider"]
)
FALLBACKS = Counter("receptionist_fallbacks", "Replies or voices that fell back.", ["stage"])
FRAMES = Counter("receptionist_frames", "Audio frames dropped or sent late.", ["kind"])
DATABASE_ERRORS = Counter("receptionist_database_errors", "Failed database requests.")

_PROVIDER_ERROR_EVENTS = {
    "deepgram.error": "deepgram",
    "deepgram.reconnecting": "deepgram",
    "llm.retry": "openai",
    "llm.tool_timeout": "openai",
}
_FALLBACK_EVENTS = {"tts.fallback": "tts", "llm.fallback": "llm"}
_DATABASE_ERROR_EVENTS = {
    "scheduler.store_unavailable",
    "calendar.store_unavailable",
    "call.outcome_not_saved",
    "call.outcome_unreadable",
    "readiness.database_unreachable",
}


def observe(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """A structlog processor: count what the event says; the event itself passes unchanged."""
    event = event_dict.get("event")
    if event == "turn":
        _observe_ms(TURN_LATENCY, event_dict.get("total_ms"))
    elif event == "dialogue.barge_in_reaction":
        _observe_ms(BARGE_IN_REACTION, event_dict.get("ms"))
    elif event == "call.start":
        CALLS_ACTIVE.inc()
    elif event == "call.end":
        CALLS_ACTIVE.dec()
        CALLS.labels(str(event_dict.get("outcome", "unknown"))).inc()
    elif event == "twilio.stats":
        FRAMES.labels("dropped").inc(int(event_dict.get("frames_dropped", 0)))
        FRAMES.labels("late").inc(int(event_dict.get("frames_late", 0)))
    elif event in _PROVIDER_ERROR_EVENTS:
        PROVIDER_ERRORS.labels(_PROVIDER_ERROR_EVENTS[event]).inc()
    elif event in _FALLBACK_EVENTS:
        FALLBACKS.labels(_FALLBACK_EVENTS[event]).inc()
        if event_dict.get("reason") == "error":
            PROVIDER_ERRORS.labels("elevenlabs").inc()
    elif event in _DATABASE_ERROR_EVENTS:
        DATABASE_ERRORS.inc()
    return event_dict


def _observe_ms(histogram: Histogram, ms: object) -> None:
    if isinstance(ms, int | float):
        histogram.observe(max(float(ms), 0.0) / 1000)


def exposition() -> tuple[bytes, str]:
    """The text ``/metrics`` answers, and its content type."""
    if os.environ.get(MULTIPROCESS_DIR):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST


def forget_process(pid: int) -> None:
    """A worker exited: its live gauges no longer count (multiprocess mode only)."""
    if os.environ.get(MULTIPROCESS_DIR):
        multiprocess.mark_process_dead(pid)
