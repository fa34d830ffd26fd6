"""The offline receptionist cancelling and moving appointments, driven synchronously through
whole scripted calls."""

from __future__ import annotations

from receptionist.messages import Expectation
from receptionist.offline.conversation import Speak
from receptionist.scheduling.messages import (
    BookingCancelled,
    BookingMoved,
    BookingsFound,
    CancelBooking,
    FindBookings,
    FindFreeSlots,
    FreeSlots,
    MoveBooking,
)
from tests.helpers.conversation import (
    CALLER,
    GOODBYE,
    TUESDAY,
    WEDNESDAY,
    Call,
    appointment,
    asked,
    at,
    said_goodbye,
    spoken,
)


def test_cancel_the_one_appointment() -> None:
    call = Call()
    assert asked(call.says("i need to cancel my appointment")) == FindBookings(1, CALLER)
    booked = appointment(7, at(TUESDAY, 10))
    assert call.scheduler(BookingsFound(1, (booked,))) == [
        Speak(
            "I can see a check-up on Tuesday the 1st of December at 10 AM. "
            "Would you like me to cancel it?",
            Expectation.YES_NO,
        )
    ]
    assert asked(call.says("yes")) == CancelBooking(2, 7, CALLER)
    assert spoken(call.scheduler(BookingCancelled(2, booked))) == (
        "That's cancelled: a check-up on Tuesday the 1st of December at 10 AM. "
        "Is there anything else I can help with?"
    )


def test_cancel_when_there_is_none() -> None:
    call = Call()
    call.says("cancel my appointment")
    assert spoken(call.scheduler(BookingsFound(1, ()))) == (
        "I'm sorry, I can't find any upcoming appointments under 5 5 5, 1 2 3, 4 5 6 7. "
        "Is there anything else I can help with?"
    )
    assert said_goodbye(call.says("no"), "caller_done") == GOODBYE


def test_cancel_one_of_several() -> None:
    call = Call()
    call.says("i want to cancel")
    found = (
        appointment(7, at(TUESDAY, 10)),
        appointment(8, at(WEDNESDAY, 14, 30), "vaccination"),
    )
    assert spoken(call.scheduler(BookingsFound(1, found))) == (
        "I can see 2 appointments: a check-up on Tuesday the 1st of December at 10 AM and a "
        "vaccination on Wednesday the 2nd of December at 2:30 PM. "
        "Which one would you like to cancel?"
    )
    assert spoken(call.says("the wednesday one")) == (
        "That's your vaccination on Wednesday the 2nd of December at 2:30 PM. "
        "Would you like me to cancel it?"
    )
    assert asked(call.says("yes")) == CancelBooking(2, 8, CALLER)


def test_move_an_appointment() -> None:
    call = Call()
    asked(call.says("can i reschedule my appointment"))
    booked = appointment(7, at(TUESDAY, 10))
    assert spoken(call.scheduler(BookingsFound(1, (booked,)))) == (
        "I can see a check-up on Tuesday the 1st of December at 10 AM. "
        "What day would you like to move it to?"
    )
    assert asked(call.says("wednesday")) == FindFreeSlots(2, "check-up", WEDNESDAY)
    call.scheduler(FreeSlots(2, WEDNESDAY, (at(WEDNESDAY, 9), at(WEDNESDAY, 14)), True))
    assert call.says("two o'clock") == [
        Speak(
            "So that's your check-up moved to Wednesday the 2nd of December at 2 PM. "
            "Shall I do that?",
            Expectation.YES_NO,
        )
    ]
    assert asked(call.says("yes")) == MoveBooking(3, 7, CALLER, at(WEDNESDAY, 14))
    moved = appointment(7, at(WEDNESDAY, 14))
    assert spoken(call.scheduler(BookingMoved(3, moved))).startswith(
        "Done. Your check-up is now on Wednesday the 2nd of December at 2 PM."
    )
