"""structlog set-up: JSON lines when stdout is not a terminal, readable console when it is.

Every line logged inside a call carries ``call_sid`` and ``stream_sid``: the call supervisor
binds them once with ``bind_contextvars`` and trio tasks inherit the context. It also sets
``current_recording`` (the call's record, records/collector.py), which sees every event
logged inside the call: this module knows the record only through ``CallEventSink``.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Iterator, Mapping, MutableMapping
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any, Protocol

import structlog

from receptionist import metrics

RECORD_ONLY = "record_only"
"""An event's field for the call's record alone: taken off the event before it is rendered,
so what the caller said to a tool (a name, a phone number) is in no log line."""


class CallEventSink(Protocol):
    def log_event(self, event: Mapping[str, Any], record_only: Mapping[str, Any] | None) -> None:
        """An event logged inside the call, and its RECORD_ONLY field if it had one."""


current_recording: ContextVar[CallEventSink | None] = ContextVar("recording", default=None)
"""The call's record, set by the supervisor for the call's tasks (``record_call_events``)."""

_SECRET_KEYS = re.compile(r"(key|token|secret|password|authorization|signature)", re.I)
REDACTED = "[redacted]"


def redact_secrets(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """Never let a secret reach a log line, whatever a caller of the logger passed."""
    for key in list(event_dict):
        if _SECRET_KEYS.search(key) and event_dict[key] not in (None, ""):
            event_dict[key] = REDACTED
    return event_dict


def record_call_events(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """structlog processor: every event logged inside a call goes to its record too (which
    keeps the few no message carries), with its RECORD_ONLY field, which leaves the event here."""
    only = event_dict.pop(RECORD_ONLY, None)
    recording = current_recording.get()
    if recording is not None:
        recording.log_event(event_dict, only)
    return event_dict


def _processors() -> list[Any]:
    """Every line: the call's bound context, level, time, no secrets, tracebacks as text."""
    return [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        redact_secrets,
        record_call_events,
        metrics.observe,  # Prometheus counts what the events say (metrics.py)
        structlog.processors.format_exc_info,
    ]


def configure_logging(level: str = "info", *, json: bool | None = None) -> None:
    if json is None:
        json = not sys.stdout.isatty()
    renderer: Any = structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer()
    structlog.configure(
        processors=[*_processors(), renderer],
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.getLevelNamesMapping()[level.upper()]
        ),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stdout),
        cache_logger_on_first_use=False,
    )


@contextmanager
def capture_to_file(path: Path) -> Iterator[list[dict[str, Any]]]:
    """Send every log line to ``path`` as JSON, and collect the events in a list too.

    For replays and benchmarks, which read their tables out of the server's own log lines.
    Restores the previous configuration on exit.
    """
    events: list[dict[str, Any]] = []

    def collect(
        _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
    ) -> MutableMapping[str, Any]:
        events.append(dict(event_dict))
        return event_dict

    previous = structlog.get_config()
    with path.open("w", encoding="utf-8") as sink:
        structlog.configure(
            processors=[*_processors(), collect, structlog.processors.JSONRenderer(default=str)],
            wrapper_class=structlog.make_filtering_bound_logger(logging.INFO),
            logger_factory=structlog.PrintLoggerFactory(file=sink),
            cache_logger_on_first_use=False,
        )
        try:
            yield events
        finally:
            structlog.configure(**previous)


def mask_phone(number: str | None) -> str | None:
    """Keep only the last four digits of a phone number for the logs."""
    if not number:
        return number
    return "*" * max(len(number) - 4, 0) + number[-4:]
