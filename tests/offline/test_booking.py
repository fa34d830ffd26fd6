"""The offline receptionist booking an appointment, driven synchronously through whole scripted
calls: the caller's number, free times, a time taken or refused, the read-back."""

from __future__ import annotations

from datetime import time

import pytest

from receptionist.messages import Expectation
from receptionist.offline.conversation import AskScheduler, Speak
from receptionist.scheduling.messages import (
    BookingConfirmed,
    BookingRejected,
    BookSlot,
    FindFreeSlots,
    FreeSlots,
    RejectReason,
)
from tests.helpers.conversation import (
    CALLER,
    GOODBYE,
    GREETING,
    MONDAY,
    SATURDAY,
    TUESDAY,
    WHOLE_DAY,
    Call,
    appointment,
    asked,
    at,
    said_goodbye,
    spoken,
    to_the_phone_question,
    to_the_time_step,
)


def test_booking_happy_path() -> None:
    call = Call()
    assert call.greeting == [Speak(GREETING, Expectation.OPEN)]
    assert spoken(call.says("hi i'd like to book an appointment")) == (
        "Of course. What's the appointment for?"
    )
    assert spoken(call.says("it's for my annual check up")) == (
        "A check-up, got it. Which day would suit you?"
    )
    assert asked(call.says("next tuesday")) == FindFreeSlots(1, "check-up", TUESDAY)
    offer = call.scheduler(
        FreeSlots(1, TUESDAY, (at(TUESDAY, 9), at(TUESDAY, 10), at(TUESDAY, 14, 30)), True)
    )
    assert spoken(offer) == (
        "On Tuesday the 1st of December, I have 9 AM, 10 AM or 2:30 PM. Which would suit you?"
    )
    assert spoken(call.says("ten a m please")) == (
        "Lovely, 10 AM on Tuesday the 1st of December. "
        "What name should I put the appointment under?"
    )
    phone_question = call.says("my name is john smith")
    assert phone_question == [
        Speak(
            "Thank you, John. Is the number ending 4 5 6 7 the best one to reach you?",
            Expectation.YES_NO,
        )
    ]
    assert call.says("yes") == [
        Speak(
            "That's a check-up on Tuesday the 1st of December at 10 AM for John Smith. "
            "Shall I book it?",
            Expectation.YES_NO,
        )
    ]
    assert asked(call.says("yes please")) == BookSlot(
        2, "check-up", at(TUESDAY, 10), "John Smith", CALLER, "my annual check up"
    )
    booked = appointment(7, at(TUESDAY, 10))
    assert spoken(call.scheduler(BookingConfirmed(2, booked))) == (
        "You're all booked: a check-up on Tuesday the 1st of December at 10 AM. "
        "Is there anything else I can help with?"
    )
    assert said_goodbye(call.says("no thanks"), "caller_done") == GOODBYE


def test_booking_said_in_one_breath_goes_straight_to_the_free_times() -> None:
    call = Call()
    request = asked(call.says("can i book a flu shot next tuesday at ten"))
    assert request == FindFreeSlots(1, "vaccination", TUESDAY, near=time(10))
    answer = call.scheduler(FreeSlots(1, TUESDAY, (at(TUESDAY, 10), at(TUESDAY, 10, 15)), True))
    assert "What name should I put the appointment under?" in spoken(answer)


def test_caller_id_rejected_number_keyed_in() -> None:
    call = Call()
    call.says("i'd like to book a check up")
    call.says("tuesday")
    call.scheduler(FreeSlots(1, TUESDAY, (at(TUESDAY, 9),), True))
    call.says("nine")
    call.says("jane doe")
    assert call.says("no") == [
        Speak(
            "No problem. Please key in the best number to reach you on your keypad, "
            "followed by the hash key.",
            Expectation.DIGITS,
        )
    ]
    assert call.keys("555987654") == []
    read_back = spoken(call.keys("3#"))
    assert read_back.startswith("Thanks, I've got 5 5 5, 9 8 7, 6 5 4 3. That's a check-up")
    request = asked(call.says("yes"))
    assert isinstance(request, BookSlot)
    assert (request.phone, request.name) == ("+15559876543", "Jane Doe")


def test_caller_without_caller_id_is_asked_to_key_the_number() -> None:
    call = Call(caller=None)
    call.says("i'd like to book a check up")
    call.says("tuesday")
    call.scheduler(FreeSlots(1, TUESDAY, (at(TUESDAY, 9),), True))
    call.says("the first one")
    actions = call.says("jane doe")
    assert actions == [
        Speak(
            "Thank you, Jane. Please key in the best number to reach you on your keypad, "
            "followed by the hash key.",
            Expectation.DIGITS,
        )
    ]
    assert "doesn't look like a full number" in spoken(call.keys("12#"))
    assert spoken(call.says("five five five nine eight seven six five four three")).startswith(
        "Thanks, I've got 5 5 5, 9 8 7, 6 5 4 3."
    )


def test_closed_day_offers_the_next_open_days_times() -> None:
    call = Call()
    call.says("i'd like to book a check up")
    assert asked(call.says("on saturday")) == FindFreeSlots(1, "check-up", SATURDAY)
    # Sunday is closed too, so the next day asked about is Monday.
    assert asked(call.scheduler(FreeSlots(1, SATURDAY, (), False))) == (
        FindFreeSlots(2, "check-up", MONDAY)
    )
    offer = spoken(call.scheduler(FreeSlots(2, MONDAY, (at(MONDAY, 9), at(MONDAY, 11)), True)))
    assert offer == (
        "Sorry, we're closed on Saturday the 28th of November. The next day I have free is "
        "Monday the 30th of November, at 9 AM or 11 AM. Which suits you?"
    )
    assert "Lovely, 11 AM on Monday the 30th of November." in spoken(call.says("eleven"))


def test_a_time_not_offered_is_checked_and_the_nearest_offered() -> None:
    call = Call()
    to_the_time_step(call)
    call.scheduler(FreeSlots(1, TUESDAY, (at(TUESDAY, 9), at(TUESDAY, 10)), True))
    assert asked(call.says("how about eleven")) == (
        FindFreeSlots(2, "check-up", TUESDAY, near=time(11))
    )
    offer = call.scheduler(FreeSlots(2, TUESDAY, (at(TUESDAY, 11, 30),), True))
    assert spoken(offer) == (
        "Sorry, 11 AM isn't free. On Tuesday the 1st of December, I have 11:30 AM. "
        "Which would suit you?"
    )
    assert "Lovely, 11:30 AM" in spoken(call.says("yes"))


def test_slot_taken_offers_fresh_times() -> None:
    call = Call()
    to_the_time_step(call)
    call.scheduler(FreeSlots(1, TUESDAY, (at(TUESDAY, 9), at(TUESDAY, 10)), True))
    call.says("nine")
    call.says("john smith")
    call.says("yes")
    asked(call.says("yes"))
    retry = asked(call.scheduler(BookingRejected(2, RejectReason.SLOT_TAKEN)))
    assert retry == FindFreeSlots(3, "check-up", TUESDAY, limit=WHOLE_DAY)
    offer = spoken(call.scheduler(FreeSlots(3, TUESDAY, (at(TUESDAY, 10),), True)))
    assert offer.startswith("Sorry, that time has just been taken. On Tuesday the 1st of December")
    # Name and number are kept: the new time goes straight to the read-back.
    assert spoken(call.says("ten")).endswith("for John Smith. Shall I book it?")


def test_a_time_taken_at_booking_is_followed_by_the_free_times_nearest_it() -> None:
    """The staff put 2 PM in the calendar after it was offered: the caller hears the times
    around 2 PM, before and after it, not the morning's."""
    call = Call()
    to_the_time_step(call)
    call.scheduler(FreeSlots(1, TUESDAY, (at(TUESDAY, 9), at(TUESDAY, 14)), True))
    call.says("two pm")
    call.says("john smith")
    call.says("yes")
    assert asked(call.says("yes")) == BookSlot(
        2, "check-up", at(TUESDAY, 14), "John Smith", CALLER, "check up"
    )
    assert asked(call.scheduler(BookingRejected(2, RejectReason.SLOT_TAKEN))) == (
        FindFreeSlots(3, "check-up", TUESDAY, limit=WHOLE_DAY)
    )
    free = [at(TUESDAY, 9), at(TUESDAY, 9, 30), at(TUESDAY, 13, 15), at(TUESDAY, 14, 30),
            at(TUESDAY, 14, 45), at(TUESDAY, 16)]  # fmt: skip
    offer = spoken(call.scheduler(FreeSlots(3, TUESDAY, tuple(free), True)))
    assert offer == (
        "Sorry, that time has just been taken. On Tuesday the 1st of December, I have "
        "1:15 PM, 2:30 PM or 2:45 PM. Which would suit you?"
    )
    assert spoken(call.says("two thirty")).endswith("at 2:30 PM for John Smith. Shall I book it?")
    assert asked(call.says("yes")) == BookSlot(
        4, "check-up", at(TUESDAY, 14, 30), "John Smith", CALLER, "check up"
    )


@pytest.mark.parametrize(
    "reason", [RejectReason.IN_THE_PAST, RejectReason.OUTSIDE_HOURS, RejectReason.TOO_FAR_AHEAD]
)
def test_rejections_ask_for_another_day(reason: RejectReason) -> None:
    call = Call()
    to_the_time_step(call)
    answer = spoken(call.scheduler(BookingRejected(1, reason)))
    assert answer.startswith("Sorry,")
    assert answer.endswith("Which day would suit you?")


def test_keying_a_number_answers_the_caller_id_question() -> None:
    call = Call()
    to_the_phone_question(call)
    assert "doesn't look like a full number. Please key in" in spoken(call.keys("55#"))
    assert "got 5 5 5, 9 8 7, 6 5 4 3." in spoken(call.keys("5559876543#"))


def test_no_at_the_read_back_lets_the_caller_change_the_name() -> None:
    call = Call()
    to_the_phone_question(call)
    call.says("yes")
    assert spoken(call.says("no")) == (
        "No problem. What would you like to change: the day and time, the name, "
        "or the phone number?"
    )
    assert spoken(call.says("the name")) == "What name should I put the appointment under?"
    assert spoken(call.says("it's jane dough")) == (
        "Thank you, Jane. That's a check-up on Tuesday the 1st of December at 9 AM "
        "for Jane Dough. Shall I book it?"
    )


def test_a_day_too_far_ahead_is_refused_without_asking_the_scheduler() -> None:
    call = Call()
    call.says("book a check up")
    assert spoken(call.says("the third of march")) == (
        "Sorry, I can only book 60 days ahead. Which day would suit you?"
    )


def test_a_day_given_for_the_reason_is_kept_and_the_reason_still_asked() -> None:
    call = Call()
    call.says("i'd like to book an appointment please")
    (speak,) = call.says("next tuesday")
    assert isinstance(speak, Speak)
    assert speak.text.startswith("Tuesday the 1st of December, got it.")
    assert "What's the appointment for?" in speak.text
    (ask,) = call.says("a check up")
    assert isinstance(ask, AskScheduler)
    assert isinstance(ask.request, FindFreeSlots)
    assert (ask.request.service, ask.request.day) == ("check-up", TUESDAY)
