"""The offline receptionist: a deterministic, I/O-free conversation state machine.

``Receptionist.handle(event)`` takes what happened on the call (the caller spoke, keyed a
digit, stayed silent, the Scheduler answered) and returns what to do (speak, ask the
Scheduler, hang up, transfer). The Dialogue actor (``stages/dialogue.py``) feeds it and
carries out its actions; the tests drive it synchronously, one scripted call at a time.

The flows live next door: ``booking`` (book, and choose a day and time), ``name_and_number``
(whose booking, and the booking itself), ``changes`` (cancel or move an existing
appointment), ``clinic_message`` (a message for the team) and ``staff`` (a person, not being
understood, escalation). This module routes events to them and handles what applies
everywhere: the opening question, opening hours, silence (the reprompts of
``receptionist.turns.reprompts``) and goodbye.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from receptionist.config import Config
from receptionist.messages import Expectation
from receptionist.offline import (
    booking,
    changes,
    clinic_message,
    intents,
    mishearing,
    name_and_number,
    phrasing,
    spoken,
    staff,
)
from receptionist.offline.questions import DAY_QUESTION, INTENT_QUESTION
from receptionist.offline.state import (
    Action,
    AskScheduler,
    CallBegan,
    CallerKeyed,
    CallerSaid,
    CallerSilent,
    CallState,
    Escalated,
    Event,
    Hangup,
    SchedulerAnswered,
    Speak,
    Step,
    TakeMessage,
    Task,
    TransferCall,
    join,
)
from receptionist.scheduling.messages import (
    BookingCancelled,
    BookingConfirmed,
    BookingMoved,
    BookingRejected,
    BookingsFound,
    FreeSlots,
    MessageReason,
    MessageSaved,
    RejectReason,
    SchedulerReply,
)
from receptionist.turns.escalation import RESUME_AFTER_TRANSFER, Understood
from receptionist.turns.reprompts import NOTHING_HEARD, STILL_THERE

__all__ = [
    "Action",
    "AskScheduler",
    "CallBegan",
    "CallerKeyed",
    "CallerSaid",
    "CallerSilent",
    "Escalated",
    "Event",
    "Hangup",
    "Receptionist",
    "SchedulerAnswered",
    "Speak",
    "TakeMessage",
    "TransferCall",
]

StepHandler = Callable[[CallState, str], list[Action] | None]
"""Handles the caller's words at one step; None means they did not answer the question."""

HOLD_ON = "One moment, I'm just checking that for you."
SLOT_TAKEN = "Sorry, that time has just been taken."
ASK_ANOTHER_DAY_BECAUSE = {
    RejectReason.OUTSIDE_HOURS: "Sorry, that's outside our opening hours.",
    RejectReason.IN_THE_PAST: "Sorry, that time has already passed.",
}
GIVE_UP_BECAUSE = {
    RejectReason.STORE_UNAVAILABLE: "I'm sorry, our booking system isn't available right now. "
    "Please call back a little later.",
    RejectReason.NOT_FOUND: "Sorry, I couldn't find that appointment.",
}
SOMETHING_WENT_WRONG = "Sorry, something went wrong there."


class Receptionist:
    """One call's conversation. Not thread-safe; one instance per call."""

    def __init__(self, config: Config) -> None:
        # Every event carries the time; this placeholder is replaced by the first one.
        self._call = CallState(config, now=datetime(2000, 1, 1, tzinfo=config.clinic.tz))

    @property
    def step(self) -> Step:
        return self._call.step

    def handle(self, event: Event) -> list[Action]:
        call = self._call
        match event:
            case CallBegan(caller_number=caller, now=now, call_sid=call_sid, resume=resume):
                call.caller, call.now = caller, now.astimezone(call.tz)
                call.call_sid, call.question = call_sid, INTENT_QUESTION
                if resume == RESUME_AFTER_TRANSFER:
                    return staff.resumed_after_transfer(call)
                return [Speak(call.config.clinic.greeting, Expectation.OPEN)]
            case CallerSaid(text=text, now=now, confidence=confidence):
                call.now = now.astimezone(call.tz)
                call.reprompts.caller_answered()
                return _caller_said(call, text.strip().lower(), confidence)
            case CallerKeyed(digit=digit, now=now):
                call.now = now.astimezone(call.tz)
                call.reprompts.caller_answered()
                return _caller_keyed(call, digit)
            case CallerSilent(now=now):
                call.now = now.astimezone(call.tz)
                return _caller_silent(call)
            case SchedulerAnswered(reply=reply):
                return _scheduler_answered(call, reply)
        return []


def _caller_said(call: CallState, text: str, confidence: float | None = None) -> list[Action]:
    if not text:
        return []
    if call.step is Step.ENDED:
        call.step = Step.INTENT  # they spoke before the line closed: the call goes on
    if call.step is Step.WAITING:
        # The answer is on its way; the caller's words would be answered out of turn.
        return [Speak(HOLD_ON)]
    if mishearing.unsure(call, confidence):
        checking = call.step is not Step.CONFIRM_HEARD
        return (checking and mishearing.check_heard(call, text)) or staff.not_understood(call)
    escalated = staff.signs_in(call, text)
    if escalated is not None:
        return escalated
    actions = STEP_HANDLERS[call.step](call, text)
    if actions is None:
        return staff.not_understood(call)
    call.frustration.handle(Understood())
    return actions


def _caller_keyed(call: CallState, digit: str) -> list[Action]:
    if call.step in mishearing.KEYPAD_STEPS:
        return name_and_number.on_key(call, digit)
    if call.step in (Step.WAITING, Step.ENDED):
        return []
    words = mishearing.keyed_answer(call, digit)
    return _answer_surely(call, words) if words else []


def _answer_surely(call: CallState, text: str) -> list[Action]:
    """Words the caller confirmed, or keyed: acted on without checking them again."""
    call.sure = True
    try:
        return _caller_said(call, text)
    finally:
        call.sure = False


def _caller_silent(call: CallState) -> list[Action]:
    if call.step in (Step.WAITING, Step.ENDED):
        return []
    if not call.reprompts.may_reprompt():
        return _goodbye(call, "silence", NOTHING_HEARD)
    return [Speak(join(STILL_THERE, call.question.text), call.question.expect)]


def _scheduler_answered(call: CallState, reply: SchedulerReply) -> list[Action]:
    if call.step is not Step.WAITING or reply.request_id != call.pending:
        return []  # a reply to a request the conversation has moved on from
    call.pending = None
    match reply:
        case FreeSlots():
            return booking.on_free_slots(call, reply)
        case BookingConfirmed():
            return name_and_number.on_booked(call, reply)
        case BookingsFound():
            return changes.on_found(call, reply)
        case BookingCancelled():
            return changes.on_cancelled(call, reply)
        case BookingMoved():
            return changes.on_moved(call, reply)
        case MessageSaved():
            return clinic_message.on_saved(call, reply)
        case BookingRejected() if call.task is Task.MESSAGE:
            return clinic_message.on_not_saved(call, staff.can_transfer(call))
        case BookingRejected():
            return _rejected(call, reply)
    return []


# --- Steps that apply to every flow ----------------------------------------------------------


def _on_intent(call: CallState, text: str) -> list[Action] | None:
    match intents.intent(text, call.config.services):
        case intents.Intent.BOOK:
            return booking.start_booking(call, text)
        case intents.Intent.CANCEL:
            return changes.start_lookup(call, Task.CANCEL)
        case intents.Intent.MOVE:
            return changes.start_lookup(call, Task.MOVE)
        case intents.Intent.HOURS:
            return call.anything_else(phrasing.opening_hours(call.config.clinic.hours))
        case intents.Intent.PERSON:
            return staff.put_through(call)
        case intents.Intent.CALLBACK:
            return clinic_message.take_message(call, MessageReason.ASKED, "Of course.")
        case intents.Intent.GOODBYE:
            return _goodbye(call, "caller_done")
    return None


def _on_anything_else(call: CallState, text: str) -> list[Action] | None:
    if intents.intent(text, call.config.services) is not None:
        return _on_intent(call, text)
    match spoken.yes_or_no(text):
        case True:
            return call.ask(Step.INTENT, INTENT_QUESTION, "Of course.")
        case False:
            return _goodbye(call, "caller_done")
    return None


def _on_confirm_heard(call: CallState, text: str) -> list[Action] | None:
    """Yes: act on the unsure answer after all. No: put its question again."""
    answer = spoken.yes_or_no(text)
    if answer is None or call.heard is None:
        return None
    step, question, heard = call.heard
    call.heard = None
    call.frustration.handle(Understood())
    if not answer:
        return call.ask(step, question, "Sorry about that.")
    call.step, call.question = step, question
    return _answer_surely(call, heard)


def _rejected(call: CallState, reply: BookingRejected) -> list[Action]:
    """Apologise in words that fit why, and offer a way on."""
    match reply.reason:
        case RejectReason.SLOT_TAKEN if call.draft.start is not None:
            return booking.look_near_refused(call, call.draft.start, SLOT_TAKEN)
        case RejectReason.SLOT_TAKEN:
            day = call.draft.day or call.now.date()
            return booking.look_for_slots(call, day, note=SLOT_TAKEN)
        case RejectReason.UNKNOWN_SERVICE if call.task is Task.BOOK:
            question = booking.reason_question(call)
            return call.ask(Step.REASON, question, "Sorry, I can't book that here.")
        case RejectReason.OUTSIDE_HOURS | RejectReason.IN_THE_PAST:
            return call.ask(Step.DAY, DAY_QUESTION, ASK_ANOTHER_DAY_BECAUSE[reply.reason])
        case RejectReason.TOO_FAR_AHEAD:
            horizon = call.config.scheduler.horizon_days
            return call.ask(Step.DAY, DAY_QUESTION, f"Sorry, I can only book {horizon} days ahead.")
    return call.anything_else(GIVE_UP_BECAUSE.get(reply.reason, SOMETHING_WENT_WRONG))


def _goodbye(call: CallState, reason: str, *before: str) -> list[Action]:
    return call.goodbye(reason, *before)


STEP_HANDLERS: dict[Step, StepHandler] = {
    Step.INTENT: _on_intent,
    Step.ANYTHING_ELSE: _on_anything_else,
    Step.OFFER_HUMAN: staff.on_offer_human,
    Step.REASON: booking.on_reason,
    Step.DAY: booking.on_day,
    Step.TIME: booking.on_time,
    Step.NAME: name_and_number.on_name,
    Step.PHONE_OK: name_and_number.on_phone_ok,
    Step.PHONE_KEYPAD: name_and_number.on_keypad_said,
    Step.CONFIRM_BOOKING: name_and_number.on_confirm_booking,
    Step.CHANGE_WHAT: booking.on_change_what,
    Step.WHICH_APPOINTMENT: changes.on_which,
    Step.CONFIRM_CANCEL: changes.on_confirm_cancel,
    Step.CONFIRM_MOVE: changes.on_confirm_move,
    Step.CONFIRM_HEARD: _on_confirm_heard,
    Step.MESSAGE_NAME: clinic_message.on_message_name,
    Step.MESSAGE_ABOUT: clinic_message.on_message_about,
    Step.MESSAGE_PHONE_OK: clinic_message.on_message_phone_ok,
}
