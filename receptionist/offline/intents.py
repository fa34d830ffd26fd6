"""What the caller wants to do, from their words: book, cancel, move, hear the opening
hours, speak to a person, be called back, or say goodbye. Pure, like ``spoken``."""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable

from receptionist.config import Service
from receptionist.offline.spoken import service
from receptionist.offline.spoken_time import whole_words


class Intent(enum.Enum):
    BOOK = "book"
    CANCEL = "cancel"
    MOVE = "move"
    HOURS = "hours"
    PERSON = "person"
    CALLBACK = "callback"
    GOODBYE = "goodbye"


# Checked in this order: "cancel my appointment" is a cancellation, not a booking.
_INTENT_PHRASES: tuple[tuple[Intent, re.Pattern[str]], ...] = (
    (
        Intent.CALLBACK,
        whole_words(
            r"call (?:me|us) back",
            r"ring (?:me|us) back",
            "callback",
            "call back",
            r"(?:leave|take) a message",
        ),
    ),
    (
        Intent.PERSON,
        whole_words(
            r"speak (?:to|with)",
            r"talk (?:to|with)",
            "real person",
            "a person",
            "human",
            "operator",
            "receptionist",
            "representative",
            "member of staff",
            "someone real",
        ),
    ),
    (Intent.CANCEL, whole_words("cancel", "cancellation", r"can(?:no|')t make", "call off")),
    (
        Intent.MOVE,
        whole_words(
            "move",
            "re ?schedule",
            "change",
            "rearrange",
            "postpone",
            "push back",
            "bring forward",
            r"different (?:time|day|date)",
        ),
    ),
    (
        Intent.HOURS,
        whole_words(
            "hours",
            "open",
            "opening",
            "close",
            "closing",
            "closed",
            "what time do you",
        ),
    ),
    (
        Intent.BOOK,
        whole_words(
            "book",
            "booking",
            "appointment",
            "schedule",
            "make an",
            r"see (?:a|the) doctor",
            "come in",
            "get in",
        ),
    ),
    (
        Intent.GOODBYE,
        whole_words(
            "bye",
            "goodbye",
            r"that'?s (?:all|it|everything)",
            "nothing",
            "no thanks",
            "no thank you",
            r"i'?m (?:good|fine|all set)",
            "all good",
        ),
    ),
)


def intent(text: str, services: Iterable[Service] = ()) -> Intent | None:
    """What the caller wants to do, or None when they did not say.

    Naming a service ("i need a flu shot") counts as wanting to book.
    """
    for found, pattern in _INTENT_PHRASES:
        if pattern.search(text):
            return found
    return Intent.BOOK if service(text, services) else None
