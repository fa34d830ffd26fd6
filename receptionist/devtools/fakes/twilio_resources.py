"""The JSON (and form) shapes of the fake Twilio REST API (fakes/twilio_rest.py): the Call,
Participant and Message resources, Twilio's error body, and the status callbacks' forms, with
the fields Twilio's API reference lists."""

from __future__ import annotations

import json
import re
from email.utils import formatdate
from typing import Any

from quart import Response

API = "/2010-04-01/Accounts"
E164 = re.compile(r"\+[1-9]\d{6,14}")


def call(account_sid: str, sid: str, to: str, from_: str, direction: str) -> dict[str, Any]:
    now = formatdate(usegmt=True)
    uri = f"{API}/{account_sid}/Calls/{sid}.json"
    return {
        "account_sid": account_sid, "annotation": None, "answered_by": None,
        "api_version": "2010-04-01", "caller_name": None, "date_created": now,
        "date_updated": now, "direction": direction, "duration": None, "end_time": None,
        "forwarded_from": None, "from": from_, "from_formatted": from_, "group_sid": None,
        "parent_call_sid": None, "phone_number_sid": None, "price": None,
        "price_unit": "USD", "queue_time": "0", "sid": sid, "start_time": None,
        "status": "queued", "to": to, "to_formatted": to, "trunk_sid": None, "uri": uri,
        "subresource_uris": {"notifications": uri.replace(".json", "/Notifications.json")},
    }  # fmt: skip


def participant(
    account_sid: str, room: dict[str, Any], call_sid: str, status: str
) -> dict[str, Any]:
    now = formatdate(usegmt=True)
    return {
        "account_sid": account_sid, "call_sid": call_sid, "label": None,
        "call_sid_to_coach": None, "coaching": False, "conference_sid": room["sid"],
        "date_created": now, "date_updated": now, "end_conference_on_exit": False,
        "muted": False, "hold": False, "start_conference_on_enter": True, "status": status,
        "queue_time": None,
        "uri": f"{API}/{account_sid}/Conferences/{room['sid']}/Participants/{call_sid}.json",
    }  # fmt: skip


def message(account_sid: str, sid: str, fields: dict[str, str]) -> dict[str, Any]:
    now = formatdate(usegmt=True)
    return {
        "account_sid": account_sid, "api_version": "2010-04-01",
        "body": fields["Body"], "date_created": now, "date_sent": None, "date_updated": now,
        "direction": "outbound-api", "error_code": None, "error_message": None,
        "from": fields["From"], "messaging_service_sid": None, "num_media": "0",
        "num_segments": "1", "price": None, "price_unit": "USD", "sid": sid,
        "status": "queued", "subresource_uris": {}, "to": fields["To"],
        "uri": f"{API}/{account_sid}/Messages/{sid}.json",
    }  # fmt: skip


def call_progress(account_sid: str, resource: dict[str, Any], sequence: int) -> dict[str, str]:
    """A call progress event's form (the call's StatusCallback)."""
    return {
        "AccountSid": account_sid, "ApiVersion": "2010-04-01",
        "CallSid": resource["sid"], "CallStatus": resource["status"],
        "Called": resource["to"], "Caller": resource["from"],
        "Direction": resource["direction"], "From": resource["from"],
        "To": resource["to"], "CallbackSource": "call-progress-events",
        "SequenceNumber": str(sequence), "Timestamp": formatdate(usegmt=True),
    }  # fmt: skip


def participant_event(
    account_sid: str, room: dict[str, Any], call_sid: str, event: str, ends: bool, sequence: int
) -> dict[str, str]:
    """A conference participant event's form (the conference's statusCallback)."""
    return {
        "AccountSid": account_sid, "ConferenceSid": room["sid"],
        "FriendlyName": room["name"], "CallSid": call_sid,
        "StatusCallbackEvent": f"participant-{event}", "Muted": "false", "Hold": "false",
        "Coaching": "false", "EndConferenceOnExit": str(ends).lower(),
        "StartConferenceOnEnter": "true", "SequenceNumber": str(sequence),
        "Timestamp": formatdate(usegmt=True),
    }  # fmt: skip


def check_numbers(fields: dict[str, str]) -> Response | None:
    """Twilio's answer to a missing or invalid To, or a missing From; None when fine."""
    if not fields.get("To"):
        return error(400, 21201, "No 'To' number is specified")
    if not E164.fullmatch(fields["To"]):
        return error(400, 21211, f"The 'To' number {fields['To']} is not a valid phone number.")
    if not fields.get("From"):
        return error(400, 21603, "A 'From' phone number is required.")
    return None


def error(status: int, code: int, message: str) -> Response:
    body = {
        "code": code, "message": message, "status": status,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
    }  # fmt: skip
    return json_response(status, body)


def json_response(status: int, body: dict[str, Any]) -> Response:
    return Response(json.dumps(body), status, mimetype="application/json")
