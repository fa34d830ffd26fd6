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
    transfer_to_human   -> EndCall(TRANSFER) after the turn has played (while the clinic is open)
    end_call            -> EndCall(COMPLETED) after the turn has played
    take_message        -> LeaveMessage      (phone: the caller's number unless given; the
                                              model must have read it back and had a yes)
    escalate            -> nothing written: logged, and the model told what to offer
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
from receptionist.llm.tool_schemas import tool_schemas
from receptionist.scheduling.messages import (
    BookSlot,
    CancelBooking,
    FindBookings,
    FindFreeSlots,
    LeaveMessage,
    MessageReason,
)
from receptionist.scheduling.slots import check_day, check_start, is_open_at, normalise_phone

MAX_NAME_CHARS = 80
MAX_REASON_CHARS = 200
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
    call_sid: str = ""


@dataclass(frozen=True, slots=True)
class CheckAvailability:
    service: str
    day: date
    earliest: time | None
    practitioner: str = ""


@dataclass(frozen=True, slots=True)
class Book:
    service: str
    start: datetime
    name: str
    phone: str
    reason: str
    practitioner: str = ""


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
class Message:
    call_sid: str
    name: str
    phone: str
    about: str
    reason: MessageReason


@dataclass(frozen=True, slots=True)
class Escalate:
    reason: str


@dataclass(frozen=True, slots=True)
class Invalid:
    detail: str
    """For the model: what was wrong, so it can ask the caller and try again."""


ValidCall = CheckAvailability | Book | Cancel | Transfer | Hangup | Message | Escalate


__all__ = ["Invalid", "ToolContext", "ValidCall", "to_request", "tool_schemas", "validate"]


class _Rejected(Exception):
    """Internal only: one argument is wrong; ``validate`` turns it into ``Invalid``."""


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
    valid: CheckAvailability | Book | Cancel | Message, request_id: int
) -> FindFreeSlots | BookSlot | FindBookings | CancelBooking | LeaveMessage:
    """The Scheduler request that carries out a validated call (its first one, for Cancel)."""
    match valid:
        case Message(call_sid=call_sid, name=name, phone=phone, about=about, reason=reason):
            return LeaveMessage(request_id, call_sid, name, phone, about, reason)
        case CheckAvailability(service=service, day=day, earliest=earliest):
            return FindFreeSlots(
                request_id, service, day, earliest, practitioner=valid.practitioner
            )
        case Book(service=service, start=start, name=name, phone=phone, reason=reason):
            return BookSlot(
                request_id, service, start, name, phone, reason, practitioner=valid.practitioner
            )
        case Cancel(appointment_id=int() as appointment_id, phone=phone):
            return CancelBooking(request_id, appointment_id, phone)
        case Cancel(phone=phone):
            return FindBookings(request_id, phone)


def _check_availability(arguments: dict[str, Any], context: ToolContext) -> CheckAvailability:
    day = _date(arguments, context)
    earliest = _time(arguments, "earliest") if arguments.get("earliest") else None
    service = _service(arguments, context).name
    return CheckAvailability(service, day, earliest, _practitioner(arguments, context))


def _book(arguments: dict[str, Any], context: ToolContext) -> Book:
    config, service = context.config, _service(arguments, context)
    start = datetime.combine(_date(arguments, context), _time(arguments, "time"), config.clinic.tz)
    rejection = check_start(start, service.minutes, context.now, config.clinic, config.scheduler)
    if rejection:
        raise _Rejected(f"cannot book then: {rejection.detail or rejection.reason.value}")
    name = _text(arguments, "name", MAX_NAME_CHARS, required=True)
    reason = _text(arguments, "reason", MAX_REASON_CHARS, required=False)
    who = _practitioner(arguments, context)
    return Book(service.name, start, name, _phone(arguments, context), reason, who)


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
    if not is_open_at(context.config.clinic, context.now):
        raise _Rejected("the clinic is closed: nobody can take the call; offer a message")
    # Only for the staff's briefing: a transfer never fails over it.
    reason = str(arguments.get("reason") or "")[:MAX_REASON_CHARS].strip()
    return Transfer(context.config.clinic.transfer_number, reason)


def _hangup(arguments: dict[str, Any], context: ToolContext) -> Hangup:
    return Hangup()


def _take_message(arguments: dict[str, Any], context: ToolContext) -> Message:
    if arguments.get("number_confirmed") is not True:
        raise _Rejected("read the number back to the caller and get a yes first")
    name = _text(arguments, "name", MAX_NAME_CHARS, required=True)
    about = _text(arguments, "about", MAX_REASON_CHARS, required=True)
    try:
        reason = MessageReason(arguments.get("reason", MessageReason.ASKED.value))
    except ValueError:
        choices = ", ".join(reason.value for reason in MessageReason)
        raise _Rejected(f"reason must be one of: {choices}") from None
    return Message(context.call_sid, name, _phone(arguments, context), about, reason)


def _escalate(arguments: dict[str, Any], context: ToolContext) -> Escalate:
    return Escalate(_text(arguments, "reason", MAX_REASON_CHARS, required=True))


_VALIDATORS: dict[str, Callable[[dict[str, Any], ToolContext], ValidCall]] = {
    "take_message": _take_message,
    "escalate": _escalate,
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


def _practitioner(arguments: dict[str, Any], context: ToolContext) -> str:
    """The configured practitioner named, "" for anyone; the store checks the service."""
    wanted = str(arguments.get("practitioner") or "").strip()
    if not wanted:
        return ""
    found = context.config.practitioner(wanted)
    if found is None:
        known = ", ".join(p.name for p in context.config.practitioners) or "none"
        raise _Rejected(f"unknown practitioner {wanted!r}; the clinic's: {known}")
    return found.name


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
