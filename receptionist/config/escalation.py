"""The [escalation] section: when a caller is taken to be frustrated, and offered a person
(or, after hours, a message) instead of more of the same (receptionist/turns/escalation.py)."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator
from pydantic.dataclasses import dataclass

from receptionist.config.values import SECTION, PositiveInt

DEFAULT_ANGRY_WORDS = (
    "ridiculous",
    "useless",
    "stupid",
    "annoying",
    "frustrating",
    "fed up",
    "sick of",
    "waste of time",
    "terrible",
    "damn",
)


def _angry_words(words: tuple[str, ...]) -> tuple[str, ...]:
    cleaned = tuple(word.strip().lower() for word in words)
    if any(not word for word in cleaned):
        raise ValueError("an angry word must not be empty")
    return cleaned


@dataclass(frozen=True, slots=True, config=SECTION)
class EscalationConfig:
    failed_recognitions: PositiveInt = 3
    """Answers in a row the receptionist could not understand before it offers a person."""
    repeated_requests: PositiveInt = 2
    """The same words said this many times in a row: the caller is repeating themselves."""
    repeated_noes: PositiveInt = 2
    """"No" to the same question this many times."""
    angry_words: Annotated[tuple[str, ...], AfterValidator(_angry_words)] = DEFAULT_ANGRY_WORDS
    """Words or phrases (whole words, any case) that escalate at once."""
