"""Booking: what for, which day, which time; then whose name and number
(``name_and_number``), and book.

Choosing a day and a time is shared with moving an appointment (``Task.MOVE``). Every step
handler takes the call state and the caller's words and returns the actions, or None when the
words did not answer the question (the conversation then re-asks).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, time, timedelta

from receptionist.messages import Expectation
from receptionist.offline import mishearing, name_and_number, phrasing, spoken
from receptionist.offline.practitioners import practitioner_mention
from receptionist.offline.questions import (
    ANOTHER_DAY_QUESTION,
    DAY_QUESTION,
    KEYPAD_QUESTION,
    NAME_QUESTION,
    REASON_QUESTION,
    Question,
)
from receptionist.offline.state import Action, CallState, Draft, Step, Task, join
from receptionist.scheduling.messages import FindFreeSlots, FreeSlots

GENERIC_SERVICE_WORDS = frozenset({"appointment", "booking"})
"""Words that say "book something", not what: the caller is still asked what it is for."""
DEFAULT_SERVICE = "consultation"
MAX_DAYS_SEARCHED = 14
"""How many days after a full or closed day to look for the next free one."""
OFFERED_TIMES = 3
"""Times offered at once after a chosen one was taken: as many as a caller keeps in mind."""
MINUTES_A_DAY = 24 * 60


def start_booking(call: CallState, text: str) -> list[Action]:
    """The caller wants to book; they may have said what for, when and with whom already."""
    call.task, call.draft = Task.BOOK, Draft()
    note_practitioner(call, text)
    mention = spoken.service_mention(text, call.config.services)
    if not mention or mention[1] in GENERIC_SERVICE_WORDS:
        return call.ask(Step.REASON, reason_question(call), "Of course.")
    call.draft.service, call.draft.reason = mention[0].name, mention[1]
    return _after_reason(call, text, f"Of course, {phrasing.with_article(mention[0].name)}.")


def on_reason(call: CallState, text: str) -> list[Action] | None:
    note_practitioner(call, text)
    mention = spoken.service_mention(text, call.config.services)
    day = spoken.spoken_date(text, call.now)
    if mention is None and day is not None and not call.draft.day_said:
        # "Next Tuesday" is an answer to a question not yet asked, not what the visit is
        # for: keep the day and still ask what the appointment is for.
        call.draft.day_said = text
        return call.ask(Step.REASON, reason_question(call), f"{phrasing.day(day)}, got it.")
    call.draft.service = mention[0].name if mention else _default_service(call)
    call.draft.reason = spoken.reason(text)
    got_it = f"{phrasing.with_article(call.draft.service).capitalize()}, got it."
    return _after_reason(call, text, got_it)


def _after_reason(call: CallState, text: str, before: str) -> list[Action]:
    # "a check-up next tuesday" has said the day already, as may an earlier answer.
    return (
        on_day(call, text)
        or on_day(call, call.draft.day_said)
        or call.ask(Step.DAY, DAY_QUESTION, before)
    )


def reason_question(call: CallState) -> Question:
    names = [service.name for service in call.config.services]
    return Question(
        REASON_QUESTION.text,
        rephrased=REASON_QUESTION.rephrased,
        choices=f"For example: {phrasing.either(names)}. What would you like?",
    )


def _default_service(call: CallState) -> str:
    """The most general service: a consultation where the clinic offers one."""
    if call.config.service(DEFAULT_SERVICE):
        return DEFAULT_SERVICE
    return call.config.services[0].name


def note_practitioner(call: CallState, text: str) -> None:
    """Keep the practitioner the caller names ("with Dr. Patel", "can I see Sarah"), unless
    they do not do the service already chosen: the read-back must not promise them (one
    named before the service is checked as the free times are looked for)."""
    named = practitioner_mention(text, call.config.practitioners)
    practitioner = call.config.practitioner(named) if named else None
    service = call.draft.service
    if practitioner is not None and (not service or practitioner.does(service)):
        call.draft.practitioner = practitioner.name


# --- Day and time ----------------------------------------------------------------------------


def on_day(call: CallState, text: str) -> list[Action] | None:
    note_practitioner(call, text)
    asked = spoken.spoken_date(text, call.now)
    if asked is None:
        return None
    horizon = call.config.scheduler.horizon_days
    if asked < call.now.date():
        return call.ask(Step.DAY, DAY_QUESTION, "Sorry, that day has already passed.")
    if asked > call.now.date() + timedelta(days=horizon):
        return call.ask(Step.DAY, DAY_QUESTION, f"Sorry, I can only book {horizon} days ahead.")
    return look_for_slots(call, asked, spoken.time_of_day(text, bare_hour=False))


def look_for_slots(
    call: CallState, day: date, wanted: time | None = None, note: str = ""
) -> list[Action]:
    """Ask the Scheduler for free times on ``day``, near ``wanted`` when the caller said one
    (with the practitioner they asked for, if they do this service)."""
    draft = call.draft
    asked = call.config.practitioner(draft.practitioner) if draft.practitioner else None
    if asked is not None and not asked.does(draft.service):
        note = join(note, f"{asked.name} doesn't do {draft.service}s, so I'll look for anyone.")
        draft.practitioner = ""
    draft.day, draft.wanted, draft.note, draft.days_searched = day, wanted, note, 0
    draft.refused = None
    return call.request(
        lambda request_id: FindFreeSlots(
            request_id, draft.service, day, near=wanted, practitioner=draft.practitioner
        )
    )


def look_near_refused(call: CallState, refused: datetime, note: str) -> list[Action]:
    """The time chosen was taken meanwhile: ask for the whole day's free times, to offer
    those nearest it, before or after (``on_free_slots``)."""
    draft = call.draft
    day = refused.astimezone(call.tz).date()
    draft.day, draft.wanted, draft.note, draft.days_searched = day, None, note, 0
    draft.refused = refused
    whole_day = MINUTES_A_DAY // call.config.scheduler.slot_minutes
    return call.request(
        lambda request_id: FindFreeSlots(
            request_id, draft.service, day, limit=whole_day, practitioner=draft.practitioner
        )
    )


def on_free_slots(call: CallState, reply: FreeSlots) -> list[Action]:
    draft = call.draft
    if draft.refused is not None and reply.day == draft.day:
        reply = replace(reply, slots=_nearest(reply.slots, draft.refused))
    draft.refused = None
    wanted = draft.wanted if reply.day == draft.day else None
    exactly = next((slot for slot in reply.slots if wanted and _same_time(slot, wanted)), None)
    if exactly is not None:
        return take(call, exactly)
    if reply.slots:
        return _offer(call, reply, wanted)
    if reply.day == draft.day:
        closed = not reply.open_on_day
        draft.note = join(draft.note, _nothing_free(reply.day, closed))
    return _search_next_open_day(call, reply.day)


def _nearest(slots: tuple[datetime, ...], refused: datetime) -> tuple[datetime, ...]:
    """The ``OFFERED_TIMES`` free starts nearest ``refused`` (never it), in time order."""
    others = [slot for slot in slots if slot != refused]
    nearest = sorted(others, key=lambda slot: (abs(slot - refused), slot))[:OFFERED_TIMES]
    return tuple(sorted(nearest))


def _offer(call: CallState, reply: FreeSlots, wanted: time | None) -> list[Action]:
    draft = call.draft
    draft.offered = reply.slots
    times = phrasing.times(reply.slots)
    if reply.day == draft.day:
        note = join(draft.note, f"Sorry, {phrasing.clock(wanted)} isn't free." if wanted else "")
        offer = f"On {phrasing.day(reply.day)}, I have {times}. Which would suit you?"
    else:
        note = draft.note
        offer = (
            f"The next day I have free is {phrasing.day(reply.day)}, at {times}. Which suits you?"
        )
    draft.day, draft.wanted, draft.note = reply.day, None, ""
    question = Question(
        offer,
        Expectation.TIME,
        rephrased=f"I have {times}. Which time would you like?",
        choices=f"You can say a time, like {phrasing.clock(reply.slots[0])}, or another day.",
    )
    return call.ask(Step.TIME, question, note)


def _nothing_free(day: date, closed: bool) -> str:
    if closed:
        return f"Sorry, we're closed on {phrasing.day(day)}."
    return f"Sorry, there's nothing free on {phrasing.day(day)}."


def _search_next_open_day(call: CallState, after: date) -> list[Action]:
    draft = call.draft
    draft.days_searched += 1
    next_day = _next_open_day(call, after)
    if next_day is None or draft.days_searched > MAX_DAYS_SEARCHED:
        none_after = join(draft.note, "I couldn't find a free time in the days after that.")
        draft.note = ""
        return call.ask(Step.DAY, ANOTHER_DAY_QUESTION, none_after)
    return call.request(
        lambda request_id: FindFreeSlots(
            request_id, draft.service, next_day, practitioner=draft.practitioner
        )
    )


def _next_open_day(call: CallState, after: date) -> date | None:
    last = call.now.date() + timedelta(days=call.config.scheduler.horizon_days)
    day = after + timedelta(days=1)
    while day <= last:
        if call.config.clinic.hours[day.weekday()] is not None:
            return day
        day += timedelta(days=1)
    return None


def on_time(call: CallState, text: str) -> list[Action] | None:
    """The caller picks one of the offered times, names another time, or another day."""
    note_practitioner(call, text)
    offered = call.draft.offered
    choice = spoken.chosen_option(text, len(offered))
    if choice is not None:
        return take(call, offered[choice])
    if spoken.mentions_day(text):
        # A day where a time was asked for may be a mishearing ("yes please" heard as "the
        # eighth please"): it is checked before any time is offered on it.
        return on_day(call, text) if call.sure else mishearing.check_heard(call, text)
    wanted = spoken.time_of_day(text)
    if wanted:
        chosen = next((slot for slot in offered if _same_time(slot, wanted)), None)
        day = call.draft.day or call.now.date()
        return take(call, chosen) if chosen else look_for_slots(call, day, wanted)
    if spoken.any_will_do(text) or (len(offered) == 1 and spoken.yes_or_no(text)):
        return take(call, offered[0])
    return None


def _same_time(slot: datetime, wanted: time) -> bool:
    return (slot.hour, slot.minute) == (wanted.hour, wanted.minute)


def take(call: CallState, start: datetime) -> list[Action]:
    """The caller chose a free time."""
    call.draft.start = start
    if call.task is Task.MOVE:
        return call.ask(Step.CONFIRM_MOVE, confirm_move_question(call))
    lovely = f"Lovely, {phrasing.clock(start)} on {phrasing.day(start.date())}."
    return name_and_number.next_missing(call, lovely)


def confirm_move_question(call: CallState) -> Question:
    draft = call.draft
    assert draft.start is not None
    moved = f"your {draft.service} moved to {phrasing.day_and_time(draft.start)}"
    return Question(
        f"So that's {moved}. Shall I do that?",
        Expectation.YES_NO,
        rephrased=(
            f"Shall I change it to {phrasing.day_and_time(draft.start)}? Please say yes or no."
        ),
        choices="Please say yes to move it, or no to leave it as it is.",
    )


# --- Changing the booking before it is made ------------------------------------------------


def on_change_what(call: CallState, text: str) -> list[Action] | None:
    draft = call.draft
    if spoken.mentions_day(text):
        return on_day(call, text)
    if spoken.any_of(text, "nothing", "forget it", "never mind", "don't book"):
        return call.anything_else("Okay, I won't book it.")
    if spoken.any_of(text, "name"):
        draft.name = ""
        return call.ask(Step.NAME, NAME_QUESTION)
    if spoken.any_of(text, "number", "phone"):
        draft.phone = ""
        return call.ask(Step.PHONE_KEYPAD, KEYPAD_QUESTION)
    if spoken.any_of(text, "day", "date", "time", "when"):
        return call.ask(Step.DAY, DAY_QUESTION)
    return None
