"""A warm transfer's TwiML and status callbacks, without I/O (staff/transfer.py does the I/O).

The caller waits in a conference named for their call, on hold music
(``startConferenceOnEnter="false"``), and the conference ends when they leave. The staff leg,
dialled over REST, hears the briefing (``<Say>``) and joins; its arrival starts the conference.
Twilio reports each step to ``/transfer-status?call=<the caller's CallSid>``: the staff leg's
call progress (answered, then its final status) and the conference's participant events.

A transfer's state lives in the database (any process may get a callback) and moves only
forward, one conditional step at a time::

    dialling --answered--> answered --staff joined--> joined
        |                      |
        +--busy, no-answer, failed, hung up, deadline--> returned (the caller is back with
        |                      |                                  the receptionist)
        +----------------------+--the caller hung up--> ended (the staff leg is hung up)
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlencode
from xml.etree import ElementTree

from receptionist.telephony.webhooks import document

TRANSFER_STATUS_PATH = "/transfer-status"
CALL_QUERY = "call"
"""The status callback URL's query parameter naming the caller's call."""
RESUME_PARAMETER = "resume"
"""The stream <Parameter> telling a new stream's Dialogue why the caller is back."""
TRANSFER_UNANSWERED = "transfer-unanswered"
STAFF_EVENTS = ("answered", "completed")
"""The staff leg's call progress events we ask for."""
FINAL_STATUSES = frozenset({"completed", "busy", "failed", "no-answer", "canceled"})
"""A call's status once it is over; for a staff leg that had not joined: nobody is coming."""

DIALLING, ANSWERED, JOINED, RETURNED, ENDED = "dialling", "answered", "joined", "returned", "ended"
WAITING = (DIALLING, ANSWERED)


class Then(enum.Enum):
    NOTHING = "nothing"
    BRING_BACK = "bring_back"
    """The staff leg is over: give the caller back to the receptionist."""
    BRING_BACK_AND_HANG_UP_STAFF = "bring_back_and_hang_up_staff"
    """Time is up: the caller back, the staff leg (still ringing or listening) ended."""
    HANG_UP_STAFF = "hang_up_staff"
    """The caller has gone: stop ringing the staff."""


@dataclass(frozen=True, slots=True)
class Move:
    """Move a transfer from one of ``from_states`` to ``to_state``, and if it moved, ``then``."""

    from_states: tuple[str, ...]
    to_state: str
    then: Then = Then.NOTHING


RING_DEADLINE = Move((DIALLING,), RETURNED, Then.BRING_BACK_AND_HANG_UP_STAFF)
"""Nobody answered in time (Twilio's own no-answer callback normally comes first)."""
JOIN_DEADLINE = Move((ANSWERED,), RETURNED, Then.BRING_BACK_AND_HANG_UP_STAFF)
"""Staff answered but never joined."""


def on_status_callback(params: Mapping[str, str], caller_call_sid: str) -> Move | None:
    """What a status callback for the transfer of ``caller_call_sid`` means; None: nothing."""
    call_sid = params.get("CallSid", "")
    event = params.get("StatusCallbackEvent")
    if event == "participant-join" and call_sid != caller_call_sid:
        return Move(WAITING, JOINED)
    if event == "participant-leave" and call_sid == caller_call_sid:
        return Move(WAITING, ENDED, Then.HANG_UP_STAFF)
    if event is not None or call_sid == caller_call_sid:
        return None
    status = params.get("CallStatus", "")
    if status == "in-progress":
        return Move((DIALLING,), ANSWERED)
    if status in FINAL_STATUSES:
        return Move(WAITING, RETURNED, Then.BRING_BACK)
    return None


def conference_name(call_sid: str) -> str:
    return f"transfer-{call_sid}"


def status_callback_url(base_url: str, call_sid: str) -> str:
    return f"{base_url}{TRANSFER_STATUS_PATH}?{urlencode({CALL_QUERY: call_sid})}"


def caller_waits_twiml(name: str, *, status_callback: str, hold_music_url: str = "") -> str:
    """The caller into the conference, on hold until staff join; it ends when they leave."""
    response = ElementTree.Element("Response")
    dial = ElementTree.SubElement(response, "Dial")
    conference = ElementTree.SubElement(
        dial,
        "Conference",
        startConferenceOnEnter="false",
        endConferenceOnExit="true",
        beep="false",
        statusCallback=status_callback,
        statusCallbackEvent="join leave",
    )
    if hold_music_url:
        conference.set("waitUrl", hold_music_url)
    conference.text = name
    return document(response)


def staff_joins_twiml(name: str, briefing: str) -> str:
    """The staff leg: the briefing, then into the caller's conference."""
    response = ElementTree.Element("Response")
    ElementTree.SubElement(response, "Say").text = briefing
    dial = ElementTree.SubElement(response, "Dial")
    ElementTree.SubElement(
        dial, "Conference", startConferenceOnEnter="true", endConferenceOnExit="true",
        beep="false",
    ).text = name  # fmt: skip
    return document(response)
