"""Spoken numbers as digits: recognisers spell them out ("the twenty first", "two thirty"),
and times, dates and phone numbers are read from digits."""

from __future__ import annotations

import calendar
import re

_UNITS = {
    word: value
    for value, word in enumerate(
        (
            "zero",
            "one",
            "two",
            "three",
            "four",
            "five",
            "six",
            "seven",
            "eight",
            "nine",
            "ten",
            "eleven",
            "twelve",
            "thirteen",
            "fourteen",
            "fifteen",
            "sixteen",
            "seventeen",
            "eighteen",
            "nineteen",
        )
    )
}
_TENS = {"twenty": 20, "thirty": 30, "forty": 40, "fifty": 50}
_ORDINALS = {
    word: value
    for value, word in enumerate(
        (
            "first",
            "second",
            "third",
            "fourth",
            "fifth",
            "sixth",
            "seventh",
            "eighth",
            "ninth",
            "tenth",
            "eleventh",
            "twelfth",
            "thirteenth",
            "fourteenth",
            "fifteenth",
            "sixteenth",
            "seventeenth",
            "eighteenth",
            "nineteenth",
            "twentieth",
        ),
        start=1,
    )
} | {"thirtieth": 30}


_ONE_AS_PRONOUN_AFTER = frozenset(
    {
        "the",
        "that",
        "this",
        "which",
        "a",
        "any",
        "either",
        "another",
        "other",
        "no",
        "each",
        "earlier",
        "later",
        "early",
        "late",
        "last",
        "morning",
        "afternoon",
        "1st",
        "2nd",
        "3rd",
        *(day.lower() for day in calendar.day_name),
    }
)


def ordinal(number: int) -> str:
    """1 -> "1st", 22 -> "22nd", 13 -> "13th"."""
    if 10 <= number % 100 <= 20:
        return f"{number}th"
    suffix = {1: "st", 2: "nd", 3: "rd"}.get(number % 10, "th")
    return f"{number}{suffix}"


def numbers_to_digits(text: str) -> str:
    """Spoken numbers as digits: "twenty first" -> "21st", "two thirty" -> "2 30".

    Also joins "a m" / "p m" into "am" / "pm".
    """
    words, out = text.split(), list[str]()
    while words:
        word = words.pop(0)
        follower = words[0] if words else ""
        if word == "one" and out and out[-1] in _ONE_AS_PRONOUN_AFTER:
            out.append(word)  # "the first one", "the tuesday one": a choice, not a number
        elif word in _TENS and 0 < _UNITS.get(follower, 0) < 10:
            out.append(str(_TENS[word] + _UNITS[words.pop(0)]))
        elif word in _TENS and _ORDINALS.get(follower, 10) < 10:
            out.append(ordinal(_TENS[word] + _ORDINALS[words.pop(0)]))
        elif word in _UNITS:
            out.append(str(_UNITS[word]))
        elif word in _TENS:
            out.append(str(_TENS[word]))
        elif word in _ORDINALS:
            out.append(ordinal(_ORDINALS[word]))
        else:
            out.append(word)
    joined = " ".join(out)
    return re.sub(r"\b([ap])\.? ?m\b\.?", r"\1m", joined)
