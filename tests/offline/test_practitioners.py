"""The offline receptionist with [[practitioners]]: a caller may ask for one by name; the
confirmation says who the appointment is with."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

from receptionist.config import parse_config
from receptionist.offline.practitioners import practitioner_mention
from receptionist.scheduling.messages import (
    BookingConfirmed,
    BookingMoved,
    BookingsFound,
    BookSlot,
    FindFreeSlots,
    FreeSlots,
    MoveBooking,
)
from tests.helpers.conversation import (
    CALLER,
    CONFIG,
    TUESDAY,
    Call,
    appointment,
    asked,
    at,
    spoken,
)

RAW: dict[str, Any] = {
    "clinic": {"timezone": "America/New_York", "hours": {"tuesday": "09:00-17:00"}},
    "services": [
        {"name": "check-up", "minutes": 30, "words": ["check up"]},
        {"name": "vaccination", "minutes": 15, "words": ["flu shot"]},
    ],
    "practitioners": [
        {"name": "Dr. Patel", "services": ["check-up"]},
        {"name": "Sarah Jones", "services": ["check-up", "vaccination"]},
    ],
}
STAFFED = parse_config(RAW)
PRACTITIONERS = STAFFED.practitioners


def test_a_practitioner_is_recognised_by_any_word_of_their_name_but_a_title() -> None:
    assert practitioner_mention("with doctor patel please", PRACTITIONERS) == "Dr. Patel"
    assert practitioner_mention("can I see Sarah", PRACTITIONERS) == "Sarah Jones"
    assert practitioner_mention("with the doctor", PRACTITIONERS) == ""
    assert practitioner_mention("patel or sarah", PRACTITIONERS) == "", "two: nobody chosen"


def test_a_name_that_is_also_a_word_is_taken_for_a_practitioner_only_when_asked_for() -> None:
    """ "Dr. May" and "Dr. Anna Day" are not asked for by "may I book", "any day": a name word
    counts after a title, "with" or "see", or as the whole name."""
    staff = parse_config({
        **{key: value for key, value in RAW.items() if key != "practitioners"},
        "practitioners": [{"name": "Dr. May"}, {"name": "Dr. Anna Day"}],
    }).practitioners  # fmt: skip
    assert practitioner_mention("may i book a check up", staff) == ""
    assert practitioner_mention("any day next week", staff) == ""
    assert practitioner_mention("what day is she in", staff) == ""
    assert practitioner_mention("with doctor may please", staff) == "Dr. May"
    assert practitioner_mention("can i see anna", staff) == "Dr. Anna Day"
    assert practitioner_mention("anna day if she's free", staff) == "Dr. Anna Day"


def test_a_caller_asks_for_a_practitioner_and_hears_who_it_is_with() -> None:
    call = Call(replace(CONFIG, services=STAFFED.services, practitioners=PRACTITIONERS))
    call.says("i'd like to book a check up with doctor patel")
    request = asked(call.says("next tuesday"))
    assert request == FindFreeSlots(1, "check-up", TUESDAY, practitioner="Dr. Patel")
    call.scheduler(FreeSlots(1, TUESDAY, (at(TUESDAY, 9),), True))
    call.says("nine")
    call.says("jane doe")
    read_back = spoken(call.says("yes"))
    assert "check-up on Tuesday the 1st of December at 9 AM with Dr. Patel" in read_back
    booking = asked(call.says("yes"))
    assert isinstance(booking, BookSlot)
    assert booking.practitioner == "Dr. Patel"
    booked = replace(appointment(7, at(TUESDAY, 9)), name="Jane Doe", phone=CALLER,
                     practitioner="Dr. Patel")  # fmt: skip
    confirmed = spoken(call.scheduler(BookingConfirmed(2, booked)))
    assert confirmed.startswith(
        "You're all booked: a check-up on Tuesday the 1st of December at 9 AM, with Dr. Patel."
    )


def test_a_practitioner_who_does_not_do_the_service_is_not_asked_for() -> None:
    call = Call(replace(CONFIG, services=STAFFED.services, practitioners=PRACTITIONERS))
    request = asked(call.says("can i get a flu shot with doctor patel next tuesday"))
    assert request == FindFreeSlots(1, "vaccination", TUESDAY)
    offer = spoken(call.scheduler(FreeSlots(1, TUESDAY, (at(TUESDAY, 9),), True)))
    assert offer.startswith("Dr. Patel doesn't do vaccinations, so I'll look for anyone.")


def test_anyone_free_when_no_name_is_said() -> None:
    call = Call(replace(CONFIG, services=STAFFED.services, practitioners=PRACTITIONERS))
    call.says("i'd like to book a check up")
    assert asked(call.says("next tuesday")) == FindFreeSlots(1, "check-up", TUESDAY)


def test_a_move_says_who_the_appointment_is_with_now_when_that_changed() -> None:
    """The store keeps a moved appointment's practitioner when they are free at the new
    time, else gives it to another doing the service: the caller must hear which."""
    call = Call(replace(CONFIG, services=STAFFED.services, practitioners=PRACTITIONERS))
    asked(call.says("can i reschedule my appointment"))
    booked = replace(appointment(7, at(TUESDAY, 10)), practitioner="Dr. Patel")
    found = spoken(call.scheduler(BookingsFound(1, (booked,))))
    assert found.startswith(
        "I can see a check-up on Tuesday the 1st of December at 10 AM, with Dr. Patel."
    )
    asked(call.says("tuesday"))
    call.scheduler(FreeSlots(2, TUESDAY, (at(TUESDAY, 14),), True))
    call.says("two o'clock")
    assert isinstance(asked(call.says("yes")), MoveBooking)
    moved = replace(booked, start=at(TUESDAY, 14), end=at(TUESDAY, 14) + timedelta(minutes=30),
                    practitioner="Sarah Jones")  # fmt: skip
    assert spoken(call.scheduler(BookingMoved(3, moved))).startswith(
        "Done. Your check-up is now on Tuesday the 1st of December at 2 PM,"
        " with Sarah Jones instead of Dr. Patel."
    )


def test_a_move_with_the_same_practitioner_says_so() -> None:
    call = Call(replace(CONFIG, services=STAFFED.services, practitioners=PRACTITIONERS))
    asked(call.says("can i reschedule my appointment"))
    booked = replace(appointment(7, at(TUESDAY, 10)), practitioner="Dr. Patel")
    call.scheduler(BookingsFound(1, (booked,)))
    asked(call.says("tuesday"))
    call.scheduler(FreeSlots(2, TUESDAY, (at(TUESDAY, 14),), True))
    call.says("two o'clock")
    asked(call.says("yes"))
    moved = replace(booked, start=at(TUESDAY, 14), end=at(TUESDAY, 14) + timedelta(minutes=30))
    assert spoken(call.scheduler(BookingMoved(3, moved))).startswith(
        "Done. Your check-up is now on Tuesday the 1st of December at 2 PM, with Dr. Patel."
    )


def test_a_practitioner_named_late_who_does_not_do_the_service_is_not_read_back() -> None:
    """Named at the time step ("nine with doctor patel" for a flu shot, which only Sarah
    Jones gives): the read-back must not promise Dr. Patel, whom the store would refuse."""
    call = Call(replace(CONFIG, services=STAFFED.services, practitioners=PRACTITIONERS))
    call.says("can i get a flu shot next tuesday")
    call.scheduler(FreeSlots(1, TUESDAY, (at(TUESDAY, 9),), True))
    call.says("nine with doctor patel")
    call.says("jane doe")
    read_back = spoken(call.says("yes"))
    assert "vaccination on Tuesday the 1st of December at 9 AM for Jane Doe" in read_back
    booking = asked(call.says("yes"))
    assert isinstance(booking, BookSlot)
    assert booking.practitioner == ""
