"""The model's tools as JSON schemas, sent with every request; their arguments are checked
in ``tools``. Those that hand the caller to the clinic's team: ``transfer_to_human`` (only
while someone can take the call), ``take_message`` and ``escalate``."""

from __future__ import annotations

from typing import Any

from receptionist.config import Config
from receptionist.scheduling.messages import MessageReason

TRANSFER_REASON = "What the caller needs, in a few words, for the staff member who answers"


def tool_schemas(config: Config, *, open_now: bool = True) -> list[dict[str, Any]]:
    """The ``tools`` of every request. No transfer tool when there is nobody to transfer to
    (no number, or the clinic closed at the call's start)."""
    services = [service.name for service in config.services]
    date_ = {"type": "string", "description": "YYYY-MM-DD"}
    time_ = {"type": "string", "description": "HH:MM, 24-hour clock"}
    # Only where the clinic books by practitioner ([[practitioners]]); omitted: anyone free.
    who = {"practitioner": {
        "type": "string", "enum": [p.name for p in config.practitioners],
        "description": "Only when the caller asked for one; omit for anyone free",
    }} if config.practitioners else {}  # fmt: skip
    tools = [
        function_tool(
            "check_availability",
            "Find free appointment times on one day.",
            {
                "service": {"type": "string", "enum": services},
                "date": date_,
                "earliest": {**time_, "description": "HH:MM, 24-hour; only times from then on"},
                **who,
            },
            ["service", "date"],
        ),
        function_tool(
            "book_appointment",
            "Book an appointment the caller has confirmed.",
            {
                "service": {"type": "string", "enum": services},
                "date": date_,
                "time": time_,
                "name": {"type": "string", "description": "The patient's full name"},
                "phone": {"type": "string", "description": "Omit to use the caller's own number"},
                "reason": {"type": "string", "description": "A few words on why they come"},
                **who,
            },
            ["service", "date", "time", "name", "reason"],
        ),
        function_tool(
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
        function_tool("end_call", "Hang up after your reply; say goodbye in it.", {}, []),
        *staff_tool_schemas(),
    ]
    if config.clinic.transfer_number and open_now:
        tools.append(
            function_tool(
                "transfer_to_human",
                "Put the caller through to a person at the clinic after your reply.",
                {"reason": {"type": "string", "description": TRANSFER_REASON}},
                [],
            )
        )
    return tools


def function_tool(
    name: str, description: str, properties: dict[str, Any], required: list[str]
) -> Any:
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


def staff_tool_schemas() -> list[dict[str, Any]]:
    return [
        function_tool(
            "take_message",
            "Leave a message for the clinic's team to call the caller back. Only once you "
            "have their name, what it is about, and a callback number you read back to them "
            "and they confirmed.",
            {
                "name": {"type": "string", "description": "The caller's name"},
                "phone": {"type": "string", "description": "Omit to use the caller's own number"},
                "about": {"type": "string", "description": "What the message is about"},
                "reason": {
                    "type": "string",
                    "enum": [reason.value for reason in MessageReason],
                    "description": "Why a message: asked (the caller asked to be called "
                    "back), after_hours, transfer_unanswered, escalation, not_understood",
                },
                "number_confirmed": {
                    "type": "boolean",
                    "description": "True once the caller said yes to the number read back",
                },
            },
            ["name", "about", "reason", "number_confirmed"],
        ),
        function_tool(
            "escalate",
            "The caller is frustrated or upset, or asks for a person: say so here, then offer "
            "what the result says. Never argue with the caller.",
            {"reason": {"type": "string", "description": "A few words on why"}},
            ["reason"],
        ),
    ]
