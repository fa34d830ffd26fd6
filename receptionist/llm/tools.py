"""The model's tools: JSON schemas, argument validation, and Scheduler requests: I/O-free.

A tool call is checked in full before anything is written: the service must be one the
clinic offers, dates and times must parse and fall where the Scheduler could accept them
(the same ``slots`` checks it runs). A call that fails becomes ``Invalid`` with a sentence
for the model saying what was wrong, so it can ask the caller again; it never raises.

::

    check_availability  -> FindFreeSlots
    book_appointment    -> BookSlot          (phone: the caller's number unless given)
    cancel_appointment  -> CancelBooking     by appointment_id, or
                           FindBookings, then CancelBooking of the one at date + time
    transfer_to_human   -> EndCall(TRANSFER) after the turn has played
    end_call            -> EndCall(COMPLETED) after the turn has played
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any

from receptionist.config import Config, Service
from receptionist.llm.stream import ToolCall
from receptionist.scheduling.messages import BookSlot, CancelBooking, FindBookings, FindFreeSlots
from receptionist.scheduling.slots import check_day, check_start, normalise_phone

MAX_NAME_CHARS = 80
MAX_REASON_CHARS = 200
TRANSFER_REASON = "What the caller needs, in a few words, for the staff member who answers"
_HH_MM = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")
_PHONE_DIGITS = range(7, 16)
"""E.164 allows at most 15 digits; fewer than 7 is not a phone number."""


@dataclass(frozen=True, slots=True)
class ToolContext:
    config: Config
    now: datetime
    """The clinic's wall clock (aware)."""
    caller: str | None
    """The caller ID, when Twilio passed one."""


@dataclass(frozen=True, slots=True)
class CheckAvailability:
    service: str
    day: date
    earliest: time | None


@dataclass(frozen=True, slots=True)
class Book:
    service: str
    start: datetime
    name: str
    phone: str
    reason: str


@dataclass(frozen=True, slots=True)
class Cancel:
    phone: str
    appointment_id: int | None
    start: datetime | None
    """Set when the caller named the appointment by its date and time instead of its id."""


@dataclass(frozen=True, slots=True)
class Transfer:
    number: str
    reason: str = ""
    """Why, in the model's words, for the staff's briefing."""


@dataclass(frozen=True, slots=True)
class Hangup:
    pass


@dataclass(frozen=True, slots=True)
class Invalid:
    detail: str
    """For the model: what was wrong, so it can ask the caller and try again."""


ValidCall = CheckAvailability | Book | Cancel | Transfer | Hangup


class _Rejected(Exception):
    """Internal only: one argument is wrong; ``validate`` turns it into ``Invalid``."""


def tool_schemas(config: Config) -> list[dict[str, Any]]:
    """The ``tools`` of every request. No transfer tool when there is nobody to transfer to."""
    services = [service.name for service in config.services]
    date_ = {"type": "string", "description": "YYYY-MM-DD"}
    time_ = {"type": "string", "description": "HH:MM, 24-hour clock"}
    tools = [
        _tool(
            "check_availability",
            "Find free appointment times on one day.",
            {
                "service": {"type": "string", "enum": services},
                "date": date_,
                "earliest": {**time_, "description": "HH:MM, 24-hour; only times from then on"},
            },
            ["service", "date"],
        ),
        _tool(
            "book_appointment",
            "Book an appointment the caller has confirmed.",
            {
                "service": {"type": "string", "enum": services},
                "date": date_,
                "time": time_,
                "name": {"type": "string", "description": "The patient's full name"},
                "phone": {"type": "string", "description": "Omit to use the caller's own number"},
                "reason": {"type": "string", "description": "A few words on why they come"},
            },
            ["service", "date", "time", "name", "reason"],
        ),
        _tool(
            "cancel_appointment",
            "Cancel one of the caller's appointments (found by their phone number), "
            "named by appointment_id or by its date and time.",
            {
                "appointment_id": {"type": "integer"},
                "date": date_,
                "time": time_,
            },
            [],
        ),
        _tool("end_call", "Hang up after your reply; say goodbye in it.", {}, []),
    ]
    if config.clinic.transfer_number:
        tools.append(
            _tool(
                "transfer_to_human",
                "Put the caller through to a person at the clinic after your reply.",
                {"reason": {"type": "string", "description": TRANSFER_REASON}},
                [],
            )
        )
    return tools


def _tool(name: str, description: str, properties: dict[str, Any], required: list[str]) -> Any:
    parameters = {
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": False,
    }
    return {
        "type": "function",
        "function": {"name": name, "description": description, "parameters": parameters},
    }


def validate(call: ToolCall, context: ToolContext) -> ValidCall | Invalid:
    """Check one call's arguments against the clinic; nothing is written."""
    validator = _VALIDATORS.get(call.name)
    if validator is None:
        return Invalid(f"there is no tool named {call.name!r}")
    try:
        arguments = json.loads(call.arguments or "{}")
        if not isinstance(arguments, dict):
            raise _Rejected("the arguments must be a JSON object")
        return validator(arguments, context)
    except json.JSONDecodeError:
        return Invalid("the arguments were not valid JSON")
    except _Rejected as exc:
        return Invalid(str(exc))


def to_request(
    valid: CheckAvailability | Book | Cancel, request_id: int
) -> FindFreeSlots | BookSlot | FindBookings | CancelBooking:
    """The Scheduler request that carries out a validated call (its first one, for Cancel)."""
    match valid:
        case CheckAvailability(service=service, day=day, earliest=earliest):
            return FindFreeSlots(request_id, service, day, earliest)
        case Book(service=service, start=start, name=name, phone=phone, reason=reason):
            return BookSlot(request_id, service, start, name, phone, reason)
        case Cancel(appointment_id=int() as appointment_id, phone=phone):
            return CancelBooking(request_id, appointment_id, phone)
        case Cancel(phone=phone):
            return FindBookings(request_id, phone)


def _check_availability(arguments: dict[str, Any], context: ToolContext) -> CheckAvailability:
    day = _date(arguments, context)
    earliest = _time(arguments, "earliest") if arguments.get("earliest") else None
    return CheckAvailability(_service(arguments, context).name, day, earliest)


def _book(arguments: dict[str, Any], context: ToolContext) -> Book:
    config, service = context.config, _service(arguments, context)
    start = datetime.combine(_date(arguments, context), _time(arguments, "time"), config.clinic.tz)
    rejection = check_start(start, service.minutes, context.now, config.clinic, config.scheduler)
    if rejection:
        raise _Rejected(f"cannot book then: {rejection.detail or rejection.reason.value}")
    name = _text(arguments, "name", MAX_NAME_CHARS, required=True)
    reason = _text(arguments, "reason", MAX_REASON_CHARS, required=False)
    return Book(service.name, start, name, _phone(arguments, context), reason)


def _cancel(arguments: dict[str, Any], context: ToolContext) -> Cancel:
    phone = normalise_phone(context.caller or "", context.config.clinic.country)
    if not phone:
        raise _Rejected(
            "the caller's number is unknown, so their appointments cannot be "
            "found; offer to put them through to the clinic instead"
        )
    appointment_id = arguments.get("appointment_id")
    if isinstance(appointment_id, int) and not isinstance(appointment_id, bool):
        return Cancel(phone, appointment_id, None)
    if appointment_id is not None:
        raise _Rejected("appointment_id must be an integer")
    if not (arguments.get("date") and arguments.get("time")):
        raise _Rejected("give appointment_id, or the appointment's date and time")
    day, at = _date(arguments, context, allow_past=True), _time(arguments, "time")
    return Cancel(phone, None, datetime.combine(day, at, context.config.clinic.tz))


def _transfer(arguments: dict[str, Any], context: ToolContext) -> Transfer:
    if not context.config.clinic.transfer_number:
        raise _Rejected("nobody can take a transferred call; help the caller yourself")
    # Only for the staff's briefing: a transfer never fails over it.
    reason = str(arguments.get("reason") or "")[:MAX_REASON_CHARS].strip()
    return Transfer(context.config.clinic.transfer_number, reason)


def _hangup(arguments: dict[str, Any], context: ToolContext) -> Hangup:
    return Hangup()


_VALIDATORS: dict[str, Callable[[dict[str, Any], ToolContext], ValidCall]] = {
    "check_availability": _check_availability,
    "book_appointment": _book,
    "cancel_appointment": _cancel,
    "transfer_to_human": _transfer,
    "end_call": _hangup,
}


def _service(arguments: dict[str, Any], context: ToolContext) -> Service:
    wanted = str(arguments.get("service", "")).strip().lower()
    for service in context.config.services:
        if service.name.lower() == wanted:
            return service
    offered = ", ".join(service.name for service in context.config.services)
    raise _Rejected(f"unknown service {wanted!r}; the clinic offers: {offered}")


def _date(arguments: dict[str, Any], context: ToolContext, *, allow_past: bool = False) -> date:
    raw = arguments.get("date")
    try:
        day = date.fromisoformat(str(raw))
    except ValueError:
        raise _Rejected(f"date must be YYYY-MM-DD, got {raw!r}") from None
    config = context.config
    rejection = check_day(day, context.now, config.clinic, config.scheduler)
    if rejection and not allow_past:
        raise _Rejected(f"{day.isoformat()}: {rejection.detail}")
    return day


def _time(arguments: dict[str, Any], key: str) -> time:
    raw = str(arguments.get(key, ""))
    match = _HH_MM.match(raw.strip())
    if match is None:
        raise _Rejected(f"{key} must be HH:MM on the 24-hour clock, got {raw!r}")
    return time(int(match[1]), int(match[2]))


def _text(arguments: dict[str, Any], key: str, limit: int, *, required: bool) -> str:
    value = arguments.get(key, "")
    if not isinstance(value, str) or (required and not value.strip()):
        raise _Rejected(f"{key} is needed: ask the caller")
    if len(value) > limit:
        raise _Rejected(f"{key} is too long: keep it under {limit} characters")
    return value.strip()


def _phone(arguments: dict[str, Any], context: ToolContext) -> str:
    phone = normalise_phone(
        str(arguments.get("phone") or context.caller or ""), context.config.clinic.country
    )
    if len(phone) - 1 not in _PHONE_DIGITS:
        raise _Rejected("a phone number is needed: ask the caller for theirs")
    return phone
