"""Handing over to the clinic's team: putting the caller through, offering a person, and
escalating when the caller cannot be understood or is frustrated (``turns.escalation``).

A person is offered only while the clinic is open and has a transfer number; otherwise the
receptionist takes a message (``clinic_message``). It never argues: the first response to
frustration is that offer. Each escalation is an ``Escalated`` action, logged once.
"""

from __future__ import annotations

from receptionist.offline import clinic_message, intents, mishearing, spoken
from receptionist.offline.questions import OFFER_HUMAN_QUESTION
from receptionist.offline.state import (
    Action,
    CallState,
    Escalated,
    Speak,
    Step,
    Task,
    TransferCall,
    join,
)
from receptionist.scheduling.messages import MessageReason
from receptionist.scheduling.slots import is_open_at
from receptionist.turns.escalation import RESUMED_APOLOGY, EscalationReason, Heard, Misheard

PUTTING_THROUGH = "Of course. I'll put you through to a member of our team now."
NOBODY_THERE = "I'm sorry, there's no one available to take your call right now."
CLOSED = "We're closed right now, so no one can take your call."
TROUBLE = "I'm sorry, I'm having trouble understanding."
SORRY = "I'm sorry about that."
QUIET_STEPS = frozenset({
    Step.OFFER_HUMAN, Step.CONFIRM_HEARD, Step.MESSAGE_NAME, Step.MESSAGE_ABOUT,
    Step.MESSAGE_PHONE_OK, Step.WAITING, Step.ENDED,
})  # fmt: skip
"""Where the caller's words are not read for frustration: a person or a message is already
on offer, or being taken."""


def open_now(call: CallState) -> bool:
    return is_open_at(call.config.clinic, call.now)


def can_transfer(call: CallState) -> bool:
    return bool(call.config.clinic.transfer_number) and open_now(call)


def put_through(call: CallState) -> list[Action]:
    """The caller asked for a person: put through when someone is there, else a message."""
    if not can_transfer(call):
        closed = not open_now(call)
        reason = MessageReason.AFTER_HOURS if closed else MessageReason.ASKED
        return clinic_message.take_message(call, reason, CLOSED if closed else NOBODY_THERE)
    call.step = Step.ENDED
    number = call.config.clinic.transfer_number
    return [Speak(PUTTING_THROUGH, end_of_call=True), TransferCall(number)]


def on_offer_human(call: CallState, text: str) -> list[Action] | None:
    """After an escalation: a human, unless they decline."""
    if spoken.yes_or_no(text) is False and call.resume is not None:
        step, question = call.resume
        call.resume = None
        return call.ask(step, question, "No problem, let's try again.")
    return put_through(call)


def signs_in(call: CallState, text: str) -> list[Action] | None:
    """Escalate on what the caller said, when it shows frustration; None to go on."""
    if call.step in QUIET_STEPS or call.task is Task.MESSAGE or call.sure:
        return None  # call.sure: words already read once, now confirmed
    asks = intents.intent(text) is intents.Intent.PERSON
    reason = call.frustration.handle(Heard(text, call.question.text, asks_for_person=asks))
    if reason is EscalationReason.ASKED_FOR_PERSON:
        return [Escalated(reason.value), *put_through(call)]
    return escalate(call, reason) if reason is not None else None


def not_understood(call: CallState) -> list[Action]:
    """Re-ask in other words, then spell out the choices (and the keypad), then offer a
    person when someone is there, or else take a message: never hang up on the caller."""
    question = call.question
    reason = call.frustration.handle(Misheard())
    if reason is not None and call.task is not Task.MESSAGE:
        return escalate(call, reason)  # in a message, a fresh one would only start it again
    if call.frustration.misheard_in_a_row == 1:
        again = question.rephrased or question.text
        return [Speak(f"Sorry, I didn't catch that. {again}", question.expect)]
    again = question.choices or question.rephrased or question.text
    keys = mishearing.keypad_hint(call)
    return [Speak(join("Sorry, I still didn't get that.", again, keys), question.expect)]


def escalate(call: CallState, reason: EscalationReason) -> list[Action]:
    """Offer a person (the caller may decline and carry on), or take a message."""
    before = TROUBLE if reason is EscalationReason.NOT_UNDERSTOOD else SORRY
    if can_transfer(call):
        call.resume = (call.step, call.question)
        return [Escalated(reason.value), *call.ask(Step.OFFER_HUMAN, OFFER_HUMAN_QUESTION, before)]
    if reason is EscalationReason.NOT_UNDERSTOOD:
        why = MessageReason.NOT_UNDERSTOOD
    else:
        why = MessageReason.ESCALATION if open_now(call) else MessageReason.AFTER_HOURS
    return [Escalated(reason.value), *clinic_message.take_message(call, why, before)]


def resumed_after_transfer(call: CallState) -> list[Action]:
    """The caller is back after a transfer nobody answered: straight to a message."""
    return clinic_message.take_message(call, MessageReason.TRANSFER_UNANSWERED, RESUMED_APOLOGY)
