"""Messages for the clinic and escalation in the offline receptionist (issue 13): the
callback number is read back and confirmed, the message is written before it is promised,
a person is offered only while someone can take the call, and a frustrated caller is offered
a person (or a message) instead of more of the same."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from receptionist.offline.conversation import Hangup, Speak, TakeMessage, TransferCall
from receptionist.scheduling.messages import (
    BookingRejected,
    LeaveMessage,
    MessageReason,
    MessageSaved,
    RejectReason,
)
from tests.helpers.conversation import (
    CALLER,
    CONFIG,
    TZ,
    WITH_TRANSFER,
    Call,
    asked,
    escalation,
    said_goodbye,
    spoken,
)

EVENING = datetime(2026, 11, 26, 20, 0, tzinfo=TZ)
"""Thursday 8 PM: the clinic closed at 7."""
CALL_ME_BACK = "Of course. I'll take a message, and someone from our team will call you back."


def leave_a_message(call: Call, first: str) -> LeaveMessage:
    """Name, what about, yes to the number read back: the request that writes it."""
    assert spoken(call.says(first)).endswith("What's your name, please?")
    assert spoken(call.says("jane doe")) == "Thank you. And what is it about?"
    confirm = spoken(call.says("my test results"))
    assert confirm == "Thank you. Shall we call you back on 5 5 5, 1 2 3, 4 5 6 7?"
    request = asked(call.says("yes"))
    assert isinstance(request, LeaveMessage)
    return request


def test_can_someone_call_me_back_leaves_a_message_with_the_confirmed_number() -> None:
    call = Call()
    request = leave_a_message(call, "can someone call me back please")
    assert request == LeaveMessage(
        1, "CA1", "Jane Doe", CALLER, "my test results", MessageReason.ASKED
    )
    taken, *goodbye = call.scheduler(MessageSaved(1, 42, request))
    assert taken == TakeMessage("Jane Doe", CALLER, "my test results")
    done = said_goodbye(goodbye, "message_taken")
    assert done.startswith("Thank you. I've passed your message on, and we'll call you back on")


def test_another_number_is_read_back_before_it_is_used() -> None:
    call = Call()
    call.says("i'd like to leave a message")
    call.says("jane doe")
    call.says("my test results")
    assert "key in" in spoken(call.says("no"))
    confirm = spoken(call.keys("5559876543#"))
    assert confirm == "Thanks. Shall we call you back on 5 5 5, 9 8 7, 6 5 4 3?"
    assert spoken(call.says("no")).startswith("No problem.")
    confirm = spoken(call.says("five five five two two two three three three three"))
    assert confirm == "Thanks. Shall we call you back on 5 5 5, 2 2 2, 3 3 3 3?"
    request = asked(call.says("yes"))
    assert isinstance(request, LeaveMessage)
    assert request.phone == "+15552223333"


def test_a_message_that_could_not_be_written_is_not_promised() -> None:
    call = Call()
    leave_a_message(call, "can someone call me back")
    failed = call.scheduler(BookingRejected(1, RejectReason.STORE_UNAVAILABLE))
    assert not [action for action in failed if isinstance(action, TakeMessage)]
    goodbye = said_goodbye(failed, "message_not_saved")
    assert goodbye.startswith("I'm sorry, I couldn't save your message. Please call us back")
    assert "passed" not in goodbye


def test_a_failed_message_offers_a_person_when_one_is_there() -> None:
    call = Call(WITH_TRANSFER)
    leave_a_message(call, "can someone call me back")
    offer = spoken(call.scheduler(BookingRejected(1, RejectReason.STORE_UNAVAILABLE)))
    assert offer == (
        "I'm sorry, I couldn't save your message. "
        "Would you like me to put you through to a member of our team?"
    )
    assert call.says("yes")[-1] == TransferCall("+15550001111")


def test_back_after_an_unanswered_transfer_the_caller_is_asked_for_a_message() -> None:
    call = Call(WITH_TRANSFER, resume="transfer-unanswered")
    assert spoken(call.greeting) == (
        "Sorry, nobody could take your call just now. I'll take a message, and someone "
        "from our team will call you back. What's your name, please?"
    )
    call.says("jane doe")
    call.says("my test results")
    request = asked(call.says("yes"))
    assert isinstance(request, LeaveMessage)
    assert request.reason is MessageReason.TRANSFER_UNANSWERED


def test_after_hours_a_person_is_never_offered_a_message_is() -> None:
    call = Call(WITH_TRANSFER, now=EVENING)
    reason, said = escalation(call.says("can i speak to a receptionist"))
    assert reason == "asked_for_person"
    assert said.startswith("We're closed right now, so no one can take your call.")
    call.says("jane doe")
    call.says("my test results")
    request = asked(call.says("yes"))
    assert isinstance(request, LeaveMessage)
    assert request.reason is MessageReason.AFTER_HOURS


def test_three_failed_recognitions_offer_a_person_during_hours() -> None:
    call = Call(WITH_TRANSFER)
    call.says("purple")
    call.says("monkey")
    reason, said = escalation(call.says("dishwasher"))
    assert reason == "not_understood"
    assert said.endswith("Would you like me to put you through to a member of our team?")


def test_three_failed_recognitions_take_a_message_after_hours() -> None:
    call = Call(WITH_TRANSFER, now=EVENING)
    call.says("purple")
    call.says("monkey")
    reason, said = escalation(call.says("dishwasher"))
    assert reason == "not_understood"
    assert said.endswith("What's your name, please?")
    call.says("jane doe")
    call.says("my test results")
    request = asked(call.says("yes"))
    assert isinstance(request, LeaveMessage)
    assert request.reason is MessageReason.NOT_UNDERSTOOD


def test_angry_words_offer_a_person_never_an_argument() -> None:
    call = Call(WITH_TRANSFER)
    reason, said = escalation(call.says("this is ridiculous"))
    assert reason == "angry_words"
    assert said == (
        "I'm sorry about that. Would you like me to put you through to a member of our team?"
    )
    assert spoken(call.says("no")) == "No problem, let's try again. How can I help?"


def test_angry_words_after_hours_take_a_message_for_the_escalation() -> None:
    call = Call(WITH_TRANSFER, now=EVENING)
    reason, said = escalation(call.says("you are useless"))
    assert reason == "angry_words"
    assert said.endswith("What's your name, please?")
    call.says("jane doe")
    call.says("my bill")
    request = asked(call.says("yes"))
    assert isinstance(request, LeaveMessage)
    assert request.reason is MessageReason.AFTER_HOURS


def test_the_same_request_twice_is_escalated() -> None:
    no_one = replace(CONFIG, escalation=replace(CONFIG.escalation, angry_words=("rude",)))
    call = Call(no_one)
    call.says("i need my test results")  # not something the receptionist does
    reason, said = escalation(call.says("i need my test results"))
    assert reason == "repeated_request"
    assert said.startswith("I'm sorry about that. I'll take a message")


def test_no_twice_to_the_same_question_is_escalated() -> None:
    call = Call(WITH_TRANSFER)
    call.says("book a check up")
    call.says("no")  # not an answer to "what's the appointment for?"
    reason, said = escalation(call.says("no"))
    assert reason == "repeated_no"
    assert said.endswith("put you through to a member of our team?")
    assert call.says("yes") == [
        Speak("Of course. I'll put you through to a member of our team now.", end_of_call=True),
        TransferCall("+15550001111"),
    ]


def test_words_in_a_message_are_not_read_for_frustration() -> None:
    call = Call()
    call.says("can someone call me back")
    call.says("jane doe")
    confirm = spoken(call.says("a ridiculous bill, i want to speak to a person"))
    assert confirm.startswith("Thank you. Shall we call you back on")
    assert not [a for a in call.says("yes") if isinstance(a, Hangup)]


def test_misheard_answers_in_a_message_do_not_start_it_again() -> None:
    call = Call(WITH_TRANSFER, now=EVENING)
    call.says("can someone call me back")
    call.says("jane doe")
    call.says("my test results")
    for _ in range(3):
        assert spoken(call.says("purple")).startswith("Sorry, I")  # asked again, nothing else
    assert isinstance(asked(call.says("yes")), LeaveMessage)
