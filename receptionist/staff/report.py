"""The post-call report: what the clinic is told about a call, composed from its record.

The call's record (receptionist/records) already holds the caller, the times, how the call
ended, the bookings it made or changed and the transcript; the report is a view of it, so
nothing is collected twice. I/O-free: ``compose_report`` takes the record and returns JSON-ready
data; the recorder stores it with the record and hands it to the webhook's outbox.

The outcome, from the call's facts, first that applies:
  message taken  the caller left a message for the clinic;
  booked, moved, cancelled   the call's last booking change;
  transferred    the receptionist handed the call to a person;
  answered       the receptionist ended the call after the caller spoke;
  abandoned      the caller hung up with nothing done (or said nothing, or the call failed).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

OUTCOMES = ("message taken", "booked", "moved", "cancelled", "transferred", "answered", "abandoned")
SUMMARY_FROM_LLM = "llm"
SUMMARY_FROM_FACTS = "facts"
"""The log event of a message taken for the clinic (the record keeps it, collector.py)."""


def compose_report(
    record: Mapping[str, Any], tz: ZoneInfo, *, llm_summary: str = ""
) -> dict[str, Any]:
    """The report of one finished call's record; ``llm_summary`` replaces the composed one."""
    started = float(record.get("started_at") or 0.0)
    ended = float(record.get("ended_at") or started)
    summary = llm_summary.strip()
    return {
        "call_sid": record.get("call_sid", ""),
        "caller": record.get("caller", ""),
        "started_at": _iso(started, tz),
        "ended_at": _iso(ended, tz),
        "duration_s": round(max(ended - started, 0.0), 1),
        "outcome": call_outcome(record),
        "bookings": [_booking(booking) for booking in record.get("bookings", ())],
        "message": taken_message(record),
        "summary": summary or composed_summary(record),
        "summary_from": SUMMARY_FROM_LLM if summary else SUMMARY_FROM_FACTS,
        "transcript": transcript(record),
    }


def call_outcome(record: Mapping[str, Any]) -> str:
    if taken_message(record):
        return "message taken"
    bookings = record.get("bookings") or ()
    if bookings:
        return str(bookings[-1]["change"])
    ended = record.get("outcome", "")
    if ended == "transfer":
        return "transferred"
    if ended == "completed" and _caller_spoke(record):
        return "answered"
    return "abandoned"


def composed_summary(record: Mapping[str, Any]) -> str:
    """Two sentences from the facts: what was done, then who called and for how long."""
    return f"{_what_was_done(record)} {_how_the_call_went(record)}"


def transcript(record: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Who said what, when (seconds from the start); a sentence cut off by the caller is marked."""
    return [
        {
            "who": "caller" if line["who"] == "caller" else "receptionist",
            "text": line["text"],
            "at_s": line.get("start_s", 0.0),
            **({"cut_off": True} if line.get("cut_off") else {}),
        }
        for line in record.get("lines", ())
        if line.get("text")
    ]


def spoken_date(start: datetime) -> str:
    """``Tuesday 8 December at 10:00``: the report's and the SMS's way of saying a time."""
    return f"{start:%A} {start.day} {start:%B} at {start:%H:%M}"


def taken_message(record: Mapping[str, Any]) -> dict[str, Any] | None:
    """The message the caller left, as the Scheduler wrote it (the record keeps its reply)."""
    message = record.get("message")
    return dict(message) if message else None


def _what_was_done(record: Mapping[str, Any]) -> str:
    message = taken_message(record)
    if message:
        who = message.get("name") or "The caller"
        about = message.get("about") or message.get("reason") or "a call back"
        return f"{who} left a message for the clinic about {_unended(about)}."
    bookings: Sequence[Mapping[str, Any]] = record.get("bookings") or ()
    if bookings:
        return " ".join(_booking_sentence(booking) for booking in bookings)
    match call_outcome(record):
        case "transferred":
            return "The caller was put through to a person at the clinic."
        case "answered":
            return "The caller's questions were answered; nothing was booked or changed."
        case _:
            return "The caller hung up before anything was done."


def _booking_sentence(booking: Mapping[str, Any]) -> str:
    who = booking.get("name") or "The caller"
    service = booking.get("service") or "appointment"
    when = spoken_date(datetime.fromisoformat(booking["start"]))
    if booking.get("practitioner"):
        when += f" with {booking['practitioner']}"
    match booking["change"]:
        case "booked":
            return f"{who} booked a {service} for {when}."
        case "moved":
            return f"{who} moved their {service} to {when}."
        case _:
            return f"{who} cancelled their {service} on {when}."


def _how_the_call_went(record: Mapping[str, Any]) -> str:
    seconds = round(float(record.get("ended_at") or 0.0) - float(record.get("started_at") or 0.0))
    minutes, seconds = divmod(max(seconds, 0), 60)
    length = f"{minutes} min {seconds} s" if minutes else f"{seconds} s"
    caller = record.get("caller") or "an unknown number"
    return f"The call from {caller} lasted {length}."


def _booking(booking: Mapping[str, Any]) -> dict[str, Any]:
    kept = ("change", "id", "service", "start", "end", "name", "reason", "practitioner")
    return {key: booking.get(key) for key in kept}


def _caller_spoke(record: Mapping[str, Any]) -> bool:
    return any(line["who"] == "caller" for line in record.get("lines", ()))


def _unended(text: str) -> str:
    return str(text).strip().rstrip(".!?") or "a call back"


def _iso(epoch: float, tz: ZoneInfo) -> str:
    return datetime.fromtimestamp(epoch, tz).isoformat(timespec="seconds")
