"""Taking a message for the clinic's team: who, the number to call back (read back and
confirmed), and what about; then it is written (``LeaveMessage``) before the caller is told
it was passed on. Nothing is promised that was not written: a failed write is said so.

A message is taken when the caller asks to be called back, when nobody can take the call
(after hours, no transfer number, a transfer nobody answered), and when the caller cannot
be understood or is frustrated and no person is there. Step handlers as in ``booking``.
"""

from __future__ import annotations

from receptionist.messages import Expectation
from receptionist.offline import phrasing, spoken
from receptionist.offline.questions import (
    ANYTHING_ELSE_QUESTION,
    KEYPAD_QUESTION,
    OFFER_HUMAN_QUESTION,
    Question,
)
from receptionist.offline.state import Action, CallState, Step, TakeMessage, Task, join
from receptionist.scheduling.messages import LeaveMessage, MessageReason, MessageSaved
from receptionist.scheduling.slots import normalise_phone

MESSAGE_NAME_QUESTION = Question(
    "I'll take a message, and someone from our team will call you back. What's your name, please?",
    Expectation.NAME,
)
MESSAGE_ABOUT_QUESTION = Question("And what is it about?")
NOT_SAVED = "I'm sorry, I couldn't save your message."
CALL_BACK_LATER = "Please call us back a little later."


def take_message(call: CallState, reason: MessageReason, before: str = "") -> list[Action]:
    call.task, call.draft.name, call.draft.reason = Task.MESSAGE, "", ""
    call.message_reason = reason
    return call.ask(Step.MESSAGE_NAME, MESSAGE_NAME_QUESTION, before)


def on_message_name(call: CallState, text: str) -> list[Action] | None:
    """Any answer will do: the team reads the message, misheard or not."""
    call.draft.name = spoken.person_name(text) or text
    return call.ask(Step.MESSAGE_ABOUT, MESSAGE_ABOUT_QUESTION, "Thank you.")


def on_message_about(call: CallState, text: str) -> list[Action] | None:
    call.draft.reason = text
    if call.caller_number is None:
        return call.ask(Step.PHONE_KEYPAD, KEYPAD_QUESTION, "Thank you.")
    return confirm_number(call, call.caller_number, "Thank you.")


def confirm_number(call: CallState, number: str, before: str = "") -> list[Action]:
    """Read the number back in full: a message with a wrong number reaches nobody."""
    call.draft.phone = number
    said_back = phrasing.phone_number(number, call.config.clinic.country)
    question = Question(
        f"Shall we call you back on {said_back}?",
        Expectation.YES_NO,
        rephrased=f"Is {said_back} the right number to call you back on? Please say yes or no.",
        choices="Say yes to use that number, or no to give another one.",
    )
    return call.ask(Step.MESSAGE_PHONE_OK, question, before)


def on_message_phone_ok(call: CallState, text: str) -> list[Action] | None:
    said_number = normalise_phone(spoken.phone_number(text) or "", call.config.clinic.country)
    if said_number:
        return confirm_number(call, said_number, "Thanks.")
    match spoken.yes_or_no(text):
        case True:
            return _write(call)
        case False:
            return call.ask(Step.PHONE_KEYPAD, KEYPAD_QUESTION, "No problem.")
    return None


def _write(call: CallState) -> list[Action]:
    draft, reason = call.draft, call.message_reason
    return call.request(
        lambda request_id: LeaveMessage(
            request_id, call.call_sid, draft.name, draft.phone, draft.reason, reason
        )
    )


def on_saved(call: CallState, reply: MessageSaved) -> list[Action]:
    draft = call.draft
    said_back = phrasing.phone_number(draft.phone, call.config.clinic.country)
    done = f"Thank you. I've passed your message on, and we'll call you back on {said_back}."
    taken = TakeMessage(draft.name, draft.phone, draft.reason)
    return [taken, *call.goodbye("message_taken", done)]


def on_not_saved(call: CallState, can_transfer: bool) -> list[Action]:
    """Said as it is; a person is offered when one is there, else a call back later."""
    call.task = Task.BOOK
    if can_transfer:
        call.resume = (Step.ANYTHING_ELSE, ANYTHING_ELSE_QUESTION)
        return call.ask(Step.OFFER_HUMAN, OFFER_HUMAN_QUESTION, NOT_SAVED)
    return call.goodbye("message_not_saved", join(NOT_SAVED, CALL_BACK_LATER))
