"""Reading what a caller said, as a speech recogniser writes it.

Recognisers write lowercase words without punctuation and spell numbers out ("next tuesday",
"half past two", "five five five one two three four"). These pure functions pull out what the
conversation needs: a yes or a no, a service, a date, a time of day, a name, a phone number
(the caller's intent is read in ``intents``). Each returns None when the words do not say
it, so the conversation can ask again.

Numbers are read in ``spoken_numbers``, times and dates in ``spoken_time`` (dates by the
``dateparser`` library), and re-exported here, so callers need only this module.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from receptionist.config import Service
from receptionist.offline.spoken_numbers import numbers_to_digits, ordinal
from receptionist.offline.spoken_time import mentions_day, spoken_date, time_of_day, whole_words

__all__ = [
    "any_of",
    "any_will_do",
    "choice_index",
    "chosen_option",
    "keyed_phone_number",
    "last_digits",
    "mentions_day",
    "numbers_to_digits",
    "ordinal",
    "person_name",
    "phone_number",
    "reason",
    "service",
    "service_mention",
    "spoken_date",
    "time_of_day",
    "yes_or_no",
]


_NO = whole_words(
    "no",
    "nope",
    "nah",
    "not",
    r"don'?t",
    "do not",
    "wrong",
    "incorrect",
    "negative",
    r"isn'?t",
    r"wasn'?t",
)
_YES = whole_words(
    "yes",
    "yeah",
    "yep",
    "yup",
    "yah",
    "sure",
    "correct",
    "right",
    "ok",
    "okay",
    "alright",
    "fine",
    "absolutely",
    "definitely",
    "certainly",
    "please do",
    "go ahead",
    "sounds good",
    "perfect",
    "great",
    "lovely",
    "it is",
    "that works",
    "that one",
)


def yes_or_no(text: str) -> bool | None:
    """True for a yes, False for a no, None for neither.

    A negation wins over a yes-word, so "that's not right" is a no.
    """
    if _NO.search(text):
        return False
    return True if _YES.search(text) else None


def service_mention(text: str, services: Iterable[Service]) -> tuple[Service, str] | None:
    """The service the caller named and the words they used for it (longest match wins)."""
    mentions = [
        (len(words), service, words)
        for service in services
        for words in (service.name, *service.words)
        if re.search(rf"\b{re.escape(words)}\b", text)
    ]
    if not mentions:
        return None
    _, best, words = max(mentions, key=lambda mention: mention[0])
    return best, words


def service(text: str, services: Iterable[Service]) -> Service | None:
    mention = service_mention(text, services)
    return mention[0] if mention else None


_REASON_PREAMBLE = re.compile(
    r"^(?:(?:um|uh|er|well|so|yes|yeah|oh)\s+)*"
    r"(?:it'?s for|it is for|for|i need(?: to get)?|i'?d like|i want|i have|i'?ve got|"
    r"i'?m after|just)?\s*"
)


def reason(text: str) -> str:
    """The caller's own words for what the appointment is for, without the preamble."""
    return _REASON_PREAMBLE.sub("", text.strip()).strip() or text.strip()


# --- Choices, names and numbers -------------------------------------------------------------

_CHOICES = (
    (0, whole_words("first", "1st", "earliest", "earlier one", "first one")),
    (1, whole_words("second", "2nd", "middle")),
    (2, whole_words("third", "3rd")),
    (-1, whole_words("last", "latest", "later one", "last one")),
)


_ANY_WILL_DO = whole_words(
    "any",
    "anything",
    "whichever",
    "either",
    r"(?:i )?don'?t mind",
    r"doesn'?t matter",
    "you choose",
    "whatever",
)


def any_will_do(text: str) -> bool:
    """The caller does not mind which of the offered options."""
    return bool(_ANY_WILL_DO.search(text))


def any_of(text: str, *phrases: str) -> bool:
    """Whether the words hold any of the phrases, as whole words."""
    return bool(whole_words(*(re.escape(phrase) for phrase in phrases)).search(text))


def choice_index(text: str) -> int | None:
    """Which of the options read out the caller picked: "the second one" -> 1, "last" -> -1."""
    return next((index for index, pattern in _CHOICES if pattern.search(text)), None)


def chosen_option(text: str, count: int) -> int | None:
    """The index (0 to count - 1) of the option picked by position, if that is what was said.

    "the first of december" names a day, not the first option.
    """
    index = choice_index(text)
    if index is None or mentions_day(text) or not -count <= index < count:
        return None
    return index % count


_NAME_PREAMBLE = re.compile(
    r"^(?:(?:um|uh|er|yes|yeah|oh|sure|ok|okay|so)\s+)*"
    r"(?:(?:my|the) name(?:'s| is)|name(?:'s| is)|it'?s|it is|this is|i'?m|i am|call me|"
    r"(?:put it )?under(?: the name)?)?\s*"
)
_NAME_TAIL = re.compile(r"\s+(?:please|thanks|thank you)$")
_NOT_NAMES = frozenset({"yes", "no", "um", "uh", "er", "hello", "hi", "sorry", "what"})
MAX_NAME_WORDS = 4


def person_name(text: str) -> str | None:
    """The caller's name in title case ("my name is john smith" -> "John Smith")."""
    name = _NAME_TAIL.sub("", _NAME_PREAMBLE.sub("", text.strip()))
    words = name.split()
    if not 0 < len(words) <= MAX_NAME_WORDS or _NOT_NAMES.intersection(words):
        return None
    if not all(re.fullmatch(r"[a-z]+(?:['-][a-z]+)*", word) for word in words):
        return None
    return " ".join(word.title() for word in words)


MIN_PHONE_DIGITS = 7
MAX_PHONE_DIGITS = 15
"""E.164 allows at most 15 digits; fewer than 7 is not a number anyone can call back."""
_REPEATS = {"double": 2, "triple": 3}


def phone_number(text: str) -> str | None:
    """A phone number from spoken digits ("five five five one two three four" -> "5551234").

    Understands "oh" for zero and "double five".
    """
    digits, repeat = [], 1
    for word in text.replace("-", " ").split():
        if word in _REPEATS:
            repeat = _REPEATS[word]
            continue
        spoken = "0" if word in ("oh", "o") else numbers_to_digits(word)
        if spoken.isdigit():
            digits.append(spoken[0] * repeat + spoken[1:] if repeat > 1 else spoken)
        repeat = 1
    return keyed_phone_number("".join(digits))


def keyed_phone_number(digits: str) -> str | None:
    """A phone number from DTMF digits, or None when too short or too long to be one."""
    number = "".join(char for char in digits if char.isdigit())
    return number if MIN_PHONE_DIGITS <= len(number) <= MAX_PHONE_DIGITS else None


def last_digits(number: str, count: int = 4) -> Sequence[str]:
    """The last digits of a number, for "the number ending 4 5 6 7"."""
    return [char for char in number if char.isdigit()][-count:]
