"""The offline receptionist, driven synchronously through whole scripted calls: the scheduler
unavailable or slow, opening hours, a person asked for, not understood, silence."""

from __future__ import annotations

from receptionist.messages import Expectation
from receptionist.offline.conversation import Escalated, Speak, TransferCall
from receptionist.scheduling.messages import BookingRejected, FreeSlots, RejectReason
from tests.helpers.conversation import (
    GOODBYE,
    TUESDAY,
    WITH_TRANSFER,
    Call,
    at,
    escalation,
    said_goodbye,
    spoken,
    to_the_time_step,
)


def test_booking_system_unavailable() -> None:
    call = Call()
    to_the_time_step(call)
    answer = spoken(call.scheduler(BookingRejected(1, RejectReason.STORE_UNAVAILABLE)))
    assert answer == (
        "I'm sorry, our booking system isn't available right now. Please call back a little "
        "later. Is there anything else I can help with?"
    )


def test_caller_speaking_while_the_scheduler_answers_is_asked_to_hold() -> None:
    call = Call()
    to_the_time_step(call)
    assert spoken(call.says("hello are you there")) == "One moment, I'm just checking that for you."
    assert "Which would suit you?" in spoken(
        call.scheduler(FreeSlots(1, TUESDAY, (at(TUESDAY, 9),), True))
    )


def test_a_stale_scheduler_reply_is_ignored() -> None:
    call = Call()
    to_the_time_step(call)
    assert call.scheduler(FreeSlots(99, TUESDAY, (at(TUESDAY, 9),), True)) == []


def test_opening_hours() -> None:
    call = Call()
    assert spoken(call.says("what are your opening hours")) == (
        "We're open Monday to Wednesday, 9 AM to 5 PM; Thursday, 9 AM to 7 PM; and Friday, "
        "9 AM to 4 PM. We're closed at the weekend. Is there anything else I can help with?"
    )
    assert "What can I do for you" not in spoken(call.says("yes"))


def test_transfer_to_a_person() -> None:
    call = Call(WITH_TRANSFER)
    escalated, putting_through, transfer = call.says("can i speak to a real person")
    assert escalated == Escalated("asked_for_person")
    assert putting_through == Speak(
        "Of course. I'll put you through to a member of our team now.", end_of_call=True
    )
    assert transfer == TransferCall("+15550001111")
    # Words before the line is handed over (the Dialogue passes on only those that are no
    # goodbye) reopen the conversation.
    assert spoken(call.says("hello")).startswith("Sorry, I didn't catch that.")


def test_no_one_to_transfer_to() -> None:
    call = Call()
    assert escalation(call.says("i want to talk to a human")) == (
        "asked_for_person",
        "I'm sorry, there's no one available to take your call right now. I'll take a "
        "message, and someone from our team will call you back. What's your name, please?",
    )


def test_not_understood_rephrases_then_lists_choices_then_offers_a_person() -> None:
    call = Call(WITH_TRANSFER)
    first = call.says("purple monkey dishwasher")
    assert first == [Speak("Sorry, I didn't catch that. What can I do for you today?")]
    assert spoken(call.says("banana")) == (
        "Sorry, I still didn't get that. I can book, move or cancel an appointment, "
        "or tell you our opening hours. Which would you like?"
    )
    assert call.says("flibbertigibbet") == [
        Escalated("not_understood"),
        Speak(
            "I'm sorry, I'm having trouble understanding. "
            "Would you like me to put you through to a member of our team?",
            Expectation.YES_NO,
        ),
    ]
    assert spoken(call.says("no")) == "No problem, let's try again. How can I help?"
    assert "What's the appointment for?" in spoken(call.says("book an appointment"))


def test_not_understood_without_a_person_to_offer_takes_a_message() -> None:
    call = Call()
    call.says("purple")
    call.says("monkey")
    reason, taking = escalation(call.says("dishwasher"))
    assert reason == "not_understood"
    assert taking.startswith("I'm sorry, I'm having trouble understanding. I'll take a message")


def test_silence_reprompts_then_says_goodbye() -> None:
    call = Call()
    call.says("book an appointment")
    assert call.silent() == [Speak("Are you still there? What's the appointment for?")]
    assert spoken(call.silent()) == "Are you still there? What's the appointment for?"
    goodbye = said_goodbye(call.silent(), "silence")
    assert goodbye == f"I haven't heard anything, so I'll end the call now. {GOODBYE}"
    assert call.silent() == []


def test_speaking_resets_the_reprompt_count() -> None:
    call = Call()
    call.silent()
    call.silent()
    call.says("book an appointment")
    assert spoken(call.silent()).startswith("Are you still there?")
