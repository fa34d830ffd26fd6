"""Cancelling or moving an appointment the caller already has.

Find it by the caller's number, let them pick one when there are several, then confirm and
cancel it, or choose a new day and time (``booking``) and confirm the move.
"""

from __future__ import annotations

from collections.abc import Sequence

from receptionist.messages import Expectation
from receptionist.offline import phrasing, spoken
from receptionist.offline.questions import LOOKUP_KEYPAD_QUESTION, MOVE_DAY_QUESTION, Question
from receptionist.offline.state import Action, CallState, Draft, Step, Task
from receptionist.scheduling.messages import (
    Appointment,
    BookingCancelled,
    BookingMoved,
    BookingsFound,
    CancelBooking,
    FindBookings,
    MoveBooking,
)

MAX_LISTED = 3
"""More than three appointments read out in a row is more than a caller can hold in mind."""


def start_lookup(call: CallState, task: Task) -> list[Action]:
    """Find the caller's appointments by caller ID, or by a number they key in."""
    call.task, call.draft = task, Draft()
    number = call.caller_number
    if number is None:
        return call.ask(Step.PHONE_KEYPAD, LOOKUP_KEYPAD_QUESTION, "Of course.")
    call.draft.phone = number
    return call.request(lambda request_id: FindBookings(request_id, number))


def on_found(call: CallState, reply: BookingsFound) -> list[Action]:
    found = reply.appointments
    if not found:
        number = phrasing.phone_number(call.draft.phone, call.config.clinic.country)
        return call.anything_else(
            f"I'm sorry, I can't find any upcoming appointments under {number}."
        )
    if len(found) == 1:
        return _chosen(call, found[0], f"I can see {phrasing.appointment(found[0])}.")
    call.draft.found = found[:MAX_LISTED]
    return call.ask(Step.WHICH_APPOINTMENT, _which_question(call, found))


def _which_question(call: CallState, found: Sequence[Appointment]) -> Question:
    listed = [phrasing.appointment(appointment) for appointment in found[:MAX_LISTED]]
    count = f"{len(found)} appointments" + (
        f". The next {MAX_LISTED} are" if len(found) > MAX_LISTED else ""
    )
    verb = call.task.value
    return Question(
        f"I can see {count}: {phrasing.either(listed, 'and')}. Which one would you like to {verb}?",
        rephrased=f"Which would you like to {verb}: {phrasing.either(listed)}?",
        choices="You can say the day, the time, or the first, second or last one.",
    )


def on_which(call: CallState, text: str) -> list[Action] | None:
    chosen = pick_appointment(text, call.draft.found, call)
    if chosen is None:
        return None
    return _chosen(
        call, chosen, f"That's your {chosen.service} on {phrasing.day_and_time(chosen.start)}."
    )


def pick_appointment(
    text: str, found: Sequence[Appointment], call: CallState
) -> Appointment | None:
    """The one appointment the caller's words point at, by position, day, time or service."""
    choice = spoken.chosen_option(text, len(found))
    if choice is not None:
        return found[choice]
    day = spoken.spoken_date(text, call.now) if spoken.mentions_day(text) else None
    at = spoken.time_of_day(text)
    service = spoken.service(text, call.config.services)
    if day is None and at is None and service is None:
        return None
    matching = [
        appointment
        for appointment in found
        # A weekday alone ("the tuesday one") matches that weekday in any week.
        if (day is None or appointment.start.weekday() == day.weekday())
        and (at is None or appointment.start.time().replace(tzinfo=None) == at)
        and (service is None or appointment.service == service.name)
    ]
    return matching[0] if len(matching) == 1 else None


def _chosen(call: CallState, appointment: Appointment, before: str) -> list[Action]:
    call.draft.appointment, call.draft.service = appointment, appointment.service
    if call.task is Task.MOVE:
        return call.ask(Step.DAY, MOVE_DAY_QUESTION, before)
    question = Question(
        "Would you like me to cancel it?",
        Expectation.YES_NO,
        rephrased=f"Shall I cancel {phrasing.appointment(appointment)}? Please say yes or no.",
        choices="Please say yes to cancel it, or no to keep it.",
    )
    return call.ask(Step.CONFIRM_CANCEL, question, before)


def on_confirm_cancel(call: CallState, text: str) -> list[Action] | None:
    answer = spoken.yes_or_no(text)
    appointment, phone = call.draft.appointment, call.draft.phone
    if answer is None or appointment is None:
        return None
    if not answer:
        return call.anything_else("Okay, I'll keep it booked.")
    return call.request(lambda request_id: CancelBooking(request_id, appointment.id, phone))


def on_cancelled(call: CallState, reply: BookingCancelled) -> list[Action]:
    return call.anything_else(f"That's cancelled: {phrasing.appointment(reply.appointment)}.")


def on_confirm_move(call: CallState, text: str) -> list[Action] | None:
    answer = spoken.yes_or_no(text)
    draft = call.draft
    appointment, new_start = draft.appointment, draft.start
    if answer is None or appointment is None or new_start is None:
        return None
    if not answer:
        return call.anything_else("Okay, I'll leave it as it was.")
    return call.request(
        lambda request_id: MoveBooking(request_id, appointment.id, draft.phone, new_start)
    )


def on_moved(call: CallState, reply: BookingMoved) -> list[Action]:
    moved, before = reply.appointment, call.draft.appointment
    # The store gives a moved appointment to another practitioner when theirs is busy then.
    was = before.practitioner if before is not None else ""
    instead = f" instead of {was}" if was and was != moved.practitioner else ""
    with_whom = f", with {moved.practitioner}{instead}" if moved.practitioner else ""
    return call.anything_else(
        f"Done. Your {moved.service} is now on {phrasing.day_and_time(moved.start)}{with_whom}."
    )
