"""Whose booking: the caller's name and number, said or keyed in, then the read-back and the
booking itself. A number also finds the caller's appointments, to cancel or move one.

Step handlers as in ``booking``: the call state and the caller's words in, the actions out, or
None when the words did not answer the question.
"""

from __future__ import annotations

from receptionist.messages import Expectation
from receptionist.offline import clinic_message, phrasing, spoken
from receptionist.offline.questions import (
    CHANGE_QUESTION,
    KEYPAD_QUESTION,
    NAME_QUESTION,
    Question,
)
from receptionist.offline.state import Action, CallState, Step, Task
from receptionist.scheduling.messages import BookingConfirmed, BookSlot, FindBookings
from receptionist.scheduling.slots import normalise_phone


def next_missing(call: CallState, before: str = "") -> list[Action]:
    draft = call.draft
    if not draft.name:
        return call.ask(Step.NAME, NAME_QUESTION, before)
    if not draft.phone:
        return _ask_phone(call, before)
    return call.ask(Step.CONFIRM_BOOKING, _read_back(call), before)


def on_name(call: CallState, text: str) -> list[Action] | None:
    name = spoken.person_name(text)
    if name is None:
        return None
    call.draft.name = name
    return next_missing(call, f"Thank you, {name.split()[0]}.")


def _ask_phone(call: CallState, before: str) -> list[Action]:
    number = call.caller_number
    if number is None:
        return call.ask(Step.PHONE_KEYPAD, KEYPAD_QUESTION, before)
    question = Question(
        f"Is the number ending {phrasing.number_ending(number)} the best one to reach you?",
        Expectation.YES_NO,
        rephrased="Is the number you're calling from the best one to reach you? "
        "Please say yes or no.",
        choices="Say yes to use the number you're calling from, or no to give another one.",
    )
    return call.ask(Step.PHONE_OK, question, before)


def on_phone_ok(call: CallState, text: str) -> list[Action] | None:
    said_number = spoken.phone_number(text)
    if said_number:
        return got_number(call, said_number)
    answer = spoken.yes_or_no(text)
    if answer and call.caller_number:
        return got_number(call, call.caller_number, confirm=False)
    if answer is False:
        return call.ask(Step.PHONE_KEYPAD, KEYPAD_QUESTION, "No problem.")
    return None


def on_keypad_said(call: CallState, text: str) -> list[Action] | None:
    number = spoken.phone_number(text)
    return got_number(call, number) if number else None


def on_key(call: CallState, digit: str) -> list[Action]:
    """Collect DTMF digits until "#"; "*" starts again."""
    if call.step is Step.PHONE_OK:  # keying a number in answers "is this number best?"
        call.step, call.question, call.keyed = Step.PHONE_KEYPAD, KEYPAD_QUESTION, ""
    if digit != "#":
        call.keyed = "" if digit == "*" else call.keyed + digit
        return []
    keyed, call.keyed = spoken.keyed_phone_number(call.keyed), ""
    return got_number(call, keyed or "")


NOT_A_NUMBER = "Sorry, that doesn't look like a full number."


def got_number(call: CallState, said: str, *, confirm: bool = True) -> list[Action]:
    """Book with this number, or look up the caller's appointments under it.

    The number is kept in E.164, as the store keeps it and as Twilio gives the caller ID.
    """
    region = call.config.clinic.country
    number = normalise_phone(said, region)
    if not number:
        return call.ask(call.step, call.question, NOT_A_NUMBER)
    call.draft.phone = number
    if call.task is Task.MESSAGE:
        return clinic_message.confirm_number(call, number, "Thanks.")
    if call.task is not Task.BOOK:
        return call.request(lambda request_id: FindBookings(request_id, number))
    heard = f"Thanks, I've got {phrasing.phone_number(number, region)}." if confirm else ""
    return next_missing(call, heard)


def _read_back(call: CallState) -> Question:
    draft = call.draft
    assert draft.start is not None
    booking = f"{phrasing.with_article(draft.service)} on {phrasing.day_and_time(draft.start)}"
    booking += f" with {draft.practitioner}" if draft.practitioner else ""
    return Question(
        f"That's {booking} for {draft.name}. Shall I book it?",
        Expectation.YES_NO,
        rephrased=f"Shall I book {booking} for {draft.name}? Please say yes or no.",
        choices="Please say yes to book it, or no to change something.",
    )


def on_confirm_booking(call: CallState, text: str) -> list[Action] | None:
    answer = spoken.yes_or_no(text)
    if answer is None:
        return None
    if not answer:
        return call.ask(Step.CHANGE_WHAT, CHANGE_QUESTION, "No problem.")
    draft = call.draft
    start = draft.start
    assert start is not None
    return call.request(
        lambda request_id: BookSlot(
            request_id,
            draft.service,
            start,
            draft.name,
            draft.phone,
            draft.reason,
            practitioner=draft.practitioner,
        )
    )


def on_booked(call: CallState, reply: BookingConfirmed) -> list[Action]:
    return call.anything_else(f"You're all booked: {phrasing.appointment(reply.appointment)}.")
