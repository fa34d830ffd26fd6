"""The offline receptionist when it mishears (issue 10): a faint or off-script answer is
checked or re-asked, never acted on; the keypad after a second failure; a message, not a
hang-up, when the caller cannot be understood."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, time

from receptionist.config import OpeningHours
from receptionist.offline.conversation import (
    CallerSaid,
    Hangup,
    Speak,
    TakeMessage,
)
from receptionist.scheduling.messages import (
    BookSlot,
    FindFreeSlots,
    FreeSlots,
    LeaveMessage,
    MessageReason,
    MessageSaved,
)
from tests.helpers.conversation import (
    CALLER,
    CONFIG,
    NOW,
    TUESDAY,
    WITH_TRANSFER,
    Call,
    asked,
    at,
    escalation,
    spoken,
)

FAINT = 0.03
CHECKING = replace(CONFIG, dialogue=replace(CONFIG.dialogue, min_confidence=0.1))
TUESDAY_THE_8TH = date(2026, 12, 8)


def faintly(call: Call, text: str) -> list:  # type: ignore[type-arg]
    return call.receptionist.handle(CallerSaid(text, NOW, confidence=FAINT))


def to_one_offered_time(call: Call) -> None:
    call.says("i'd like to book a check up")
    call.says("tuesday")
    assert "I have 9 AM" in spoken(call.scheduler(FreeSlots(1, TUESDAY, (at(TUESDAY, 9),), True)))


def to_the_read_back(call: Call) -> None:
    to_one_offered_time(call)
    call.says("nine")
    call.says("jane doe")
    assert spoken(call.says("yes")).endswith("Shall I book it?")


def test_a_day_the_caller_did_not_say_is_never_offered() -> None:
    call = Call(CHECKING)
    to_one_offered_time(call)
    check = spoken(faintly(call, "the eighth please"))
    assert check == "Just to check, did you say Tuesday the 8th of December?"
    again = spoken(call.says("no"))
    assert again.startswith("Sorry about that. On Tuesday the 1st of December, I have 9 AM.")


def test_an_off_script_day_is_checked_then_acted_on_when_confirmed() -> None:
    call = Call()
    to_one_offered_time(call)
    check = spoken(call.says("what about tuesday the eighth"))
    assert check == "Just to check, did you say Tuesday the 8th of December?"
    assert asked(call.says("yes")) == FindFreeSlots(2, "check-up", TUESDAY_THE_8TH)


def test_a_faint_yes_is_confirmed_before_booking() -> None:
    call = Call(CHECKING)
    to_the_read_back(call)
    assert spoken(faintly(call, "yes")) == "Sorry, was that a yes?"
    assert isinstance(asked(call.says("yes")), BookSlot)


def test_a_faint_answer_that_says_nothing_is_re_asked() -> None:
    call = Call(CHECKING)
    to_the_read_back(call)
    assert spoken(faintly(call, "purple")).startswith("Sorry, I didn't catch that.")


def test_the_keypad_after_a_second_failed_yes_or_no() -> None:
    call = Call()
    to_the_read_back(call)
    call.says("purple")
    second = spoken(call.says("monkey"))
    assert second.endswith("You can also press 1 for yes, or 2 for no.")
    assert isinstance(asked(call.keys("1")), BookSlot)


def test_the_keypad_for_a_day_of_the_month() -> None:
    call = Call()
    call.says("i'd like to book a check up")
    call.says("purple")
    second = spoken(call.says("monkey"))
    assert second.endswith("You can also key in the day of the month, then the hash key.")
    assert call.keys("8") == []
    assert asked(call.keys("#")) == FindFreeSlots(1, "check-up", TUESDAY_THE_8TH)


def test_the_keypad_for_an_offered_time() -> None:
    call = Call()
    to_one_offered_time(call)
    call.says("purple")
    assert spoken(call.says("monkey")).endswith("You can also press 1 for 9 AM.")
    assert spoken(call.keys("1")).startswith("Lovely, 9 AM on Tuesday the 1st of December.")


def fail_three_times(call: Call) -> list:  # type: ignore[type-arg]
    call.says("purple")
    call.says("monkey")
    return call.says("dishwasher")


def test_a_caller_who_cannot_be_understood_leaves_a_message() -> None:
    call = Call()
    reason, asking = escalation(fail_three_times(call))
    assert reason == "not_understood"
    assert asking.endswith("What's your name, please?")
    assert spoken(call.says("jane doe")) == "Thank you. And what is it about?"
    confirm = spoken(call.says("my prescription"))
    assert confirm == "Thank you. Shall we call you back on 5 5 5, 1 2 3, 4 5 6 7?"
    request = asked(call.says("yes"))
    assert request == LeaveMessage(
        1, "CA1", "Jane Doe", CALLER, "my prescription", MessageReason.NOT_UNDERSTOOD
    )
    message, goodbye, hangup = call.scheduler(MessageSaved(1, 7, request))
    assert message == TakeMessage("Jane Doe", CALLER, "my prescription")
    assert isinstance(goodbye, Speak)
    assert goodbye.text.startswith("Thank you. I've passed your message on")
    assert "5 5 5, 1 2 3, 4 5 6 7" in goodbye.text
    assert hangup == Hangup("message_taken")


def test_a_message_without_caller_id_asks_for_a_number() -> None:
    call = Call(caller=None)
    fail_three_times(call)
    call.says("jane doe")
    assert "key in" in spoken(call.says("my prescription"))
    confirm = spoken(call.keys("5559876543#"))
    assert confirm == "Thanks. Shall we call you back on 5 5 5, 9 8 7, 6 5 4 3?"
    request = asked(call.says("yes"))
    assert isinstance(request, LeaveMessage)
    assert request.phone == "+15559876543"


def test_a_person_is_offered_only_while_the_clinic_is_open() -> None:
    open_call = Call(WITH_TRANSFER)  # Thursday 3 PM: open
    assert "put you through" in escalation(fail_three_times(open_call))[1]
    early_close = replace(WITH_TRANSFER.clinic.hours, thursday=OpeningHours(time(9), time(14)))
    closed = replace(WITH_TRANSFER, clinic=replace(WITH_TRANSFER.clinic, hours=early_close))
    assert "take a message" in escalation(fail_three_times(Call(closed)))[1]  # closed at 2 PM
