"""Tool results for the model: Scheduler replies as compact JSON. I/O-free.

Compact because every result stays in the history and is sent again with each later
request of the call: fewer tokens, faster first tokens. Times are the clinic's, as the
caller speaks them; an error carries a short hint of what to tell the caller.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from receptionist.logs import RECORD_ONLY
from receptionist.scheduling.messages import (
    Appointment,
    BookingCancelled,
    BookingConfirmed,
    BookingMoved,
    BookingRejected,
    BookingsFound,
    FreeSlots,
    MessageSaved,
    RejectReason,
    SchedulerReply,
)

HINTS = {
    RejectReason.SLOT_TAKEN: "that time was just taken: check availability again",
    RejectReason.OUTSIDE_HOURS: "the clinic is closed then",
    RejectReason.IN_THE_PAST: "that time has passed or is too soon",
    RejectReason.TOO_FAR_AHEAD: "too far ahead to book",
    RejectReason.UNKNOWN_SERVICE: "the clinic does not offer that",
    RejectReason.NOT_FOUND: "no such appointment under the caller's number",
    RejectReason.INVALID: "the request was invalid",
    RejectReason.STORE_UNAVAILABLE: "the booking system is down: apologise and suggest "
    "calling back later",
}
TIMED_OUT = {
    "error": "no_answer",
    "detail": "the booking system did not answer in time; "
    "it is unknown whether it acted: apologise and suggest calling back",
}
INTERRUPTED = {"error": "interrupted", "detail": "the caller spoke before this ran; not done"}
WILL_HANG_UP = {"ok": True, "detail": "the call ends once your reply has played"}
WILL_TRANSFER = {"ok": True, "detail": "the caller is put through once your reply has played"}
OFFER_PERSON = {
    "ok": True,
    "detail": "apologise briefly and offer to put the caller through to a person "
    "(transfer_to_human once they agree); never argue",
}
OFFER_MESSAGE = {
    "ok": True,
    "detail": "nobody can take the call now: apologise briefly and offer to take a message "
    "so someone calls them back (take_message); never argue",
}
MESSAGE_NOT_SAVED = (
    "the message was NOT saved: tell the caller honestly that it could not be saved, and "
    "offer a person if one can take the call, or else ask them to call back later"
)


def dumps(result: dict[str, Any]) -> str:
    return json.dumps(result, separators=(",", ":"), ensure_ascii=False)


def invalid(detail: str) -> dict[str, Any]:
    return {"error": "invalid_arguments", "detail": detail}


def reply_result(reply: SchedulerReply) -> dict[str, Any]:
    """A Scheduler reply as the tool's result."""
    match reply:
        case FreeSlots(day=day, slots=slots, open_on_day=open_on_day):
            return {
                "date": day.isoformat(),
                "weekday": f"{day:%A}",
                "open": open_on_day,
                "free_times": [f"{slot:%H:%M}" for slot in slots],
            }
        case BookingConfirmed(appointment=appointment):
            return {"booked": appointment_result(appointment)}
        case BookingCancelled(appointment=appointment):
            return {"cancelled": appointment_result(appointment)}
        case BookingMoved(appointment=appointment):
            return {"moved": appointment_result(appointment)}
        case BookingsFound(appointments=appointments):
            return {"appointments": [appointment_result(a) for a in appointments]}
        case MessageSaved(message_id=message_id):
            return {"saved": True, "message_id": message_id,
                    "detail": "the message is saved: tell the caller it was passed on"}  # fmt: skip
        case BookingRejected(reason=reason, detail=detail):
            return {"error": reason.value, "detail": detail or HINTS[reason]}
    raise AssertionError(f"not a Scheduler reply: {reply!r}")


def message_result(reply: SchedulerReply | None) -> dict[str, Any]:
    """A message's result: only a saved one may be promised to the caller."""
    if isinstance(reply, MessageSaved):
        return reply_result(reply)
    error = reply.reason.value if isinstance(reply, BookingRejected) else "no_answer"
    return {"error": error, "detail": MESSAGE_NOT_SAVED}


def not_found_among(found: BookingsFound, start: datetime) -> dict[str, Any]:
    """Cancelling by date and time found nothing then: show the model what there is."""
    return {
        "error": RejectReason.NOT_FOUND.value,
        "detail": f"no appointment at {start:%Y-%m-%d %H:%M} under the caller's number",
        "appointments": [appointment_result(a) for a in found.appointments],
    }


def appointment_result(appointment: Appointment) -> dict[str, Any]:
    start = appointment.start
    return {
        "appointment_id": appointment.id,
        "service": appointment.service,
        "date": start.date().isoformat(),
        "weekday": f"{start:%A}",
        "time": f"{start:%H:%M}",
        "name": appointment.name,
        **({"practitioner": appointment.practitioner} if appointment.practitioner else {}),
    }


MAX_DETAIL_CHARS = 4000
"""A tool call's arguments or result kept in a call's record (a day's slots fit easily)."""


def tool_call_detail(arguments: str, result: Mapping[str, Any]) -> dict[str, Any]:
    """The RECORD_ONLY field of an ``llm.tool_call`` event: the model's arguments (JSON text,
    parsed when it parses) and the result it was given, for the call's record alone."""
    try:
        asked: Any = json.loads(arguments) if len(arguments) <= MAX_DETAIL_CHARS else arguments
    except ValueError:
        asked = arguments
    answered = json.dumps(result, ensure_ascii=False, default=str)
    if len(answered) > MAX_DETAIL_CHARS:
        return {RECORD_ONLY: {"arguments": asked, "result": answered[:MAX_DETAIL_CHARS] + "…"}}
    return {RECORD_ONLY: {"arguments": asked, "result": dict(result)}}
