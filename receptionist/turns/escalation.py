"""Escalation: signs that a caller is frustrated, from what they say and how well they are
understood. I/O-free: ``Frustration.handle(event)`` says when to escalate, and why.

Both brains feed it. The offline receptionist acts on it alone (it offers a person, or a
message after hours); the LLM brain adds it to what the model judges itself (its
``escalate`` tool). The signals are simple on purpose, and their thresholds are in
``[escalation]``: the caller asks for a person, says the same thing again, says no to the
same question again, could not be understood several times in a row, or uses angry words.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

from receptionist.config import EscalationConfig

RESUME_AFTER_TRANSFER = "transfer-unanswered"
"""``CallStarted.parameters["resume"]`` of a caller back after a transfer nobody answered."""
RESUMED_APOLOGY = "Sorry, nobody could take your call just now."
"""Both brains open with it, then take a message, instead of the greeting."""
MIN_REQUEST_WORDS = 3
"""Shorter turns ("yes", "tuesday") are answers, which callers rightly give more than once."""
_NO = re.compile(r"^(?:no|nope|nah|not really|that's not right|that's wrong|wrong)\b")
_NOT_A_WORD = re.compile(r"[^\w' ]+")


class EscalationReason(enum.Enum):
    ASKED_FOR_PERSON = "asked_for_person"
    REPEATED_REQUEST = "repeated_request"
    REPEATED_NO = "repeated_no"
    NOT_UNDERSTOOD = "not_understood"
    ANGRY_WORDS = "angry_words"
    MODEL = "model"
    """The LLM judged the caller frustrated (its ``escalate`` tool)."""


@dataclass(frozen=True, slots=True)
class Heard:
    """The caller's words, as an answer to ``question`` (what the receptionist last asked)."""

    text: str
    question: str = ""
    asks_for_person: bool = False
    """The brain's own reading of the words (the offline one has a phrase list for it)."""


@dataclass(frozen=True, slots=True)
class Misheard:
    """The caller's turn could not be understood (or recognised) at all."""


@dataclass(frozen=True, slots=True)
class Understood:
    """The caller's turn was understood: the run of failures is over."""


Event = Heard | Misheard | Understood


class Frustration:
    """One call's signals. After an escalation the counts start again, so the caller who
    declines a person is offered one again only on fresh signs."""

    def __init__(self, config: EscalationConfig) -> None:
        self._config = config
        self._angry = re.compile(
            r"\b(?:" + "|".join(re.escape(word) for word in config.angry_words) + r")\b"
        )
        self._misheard = 0
        self._last_words = ""
        self._repeats = 0
        self._noes: dict[str, int] = {}

    @property
    def misheard_in_a_row(self) -> int:
        return self._misheard

    def handle(self, event: Event) -> EscalationReason | None:
        """Why to escalate now, or None."""
        match event:
            case Misheard():
                self._misheard += 1
                if self._misheard >= self._config.failed_recognitions:
                    return self._escalate(EscalationReason.NOT_UNDERSTOOD)
            case Understood():
                self._misheard = 0
            case Heard():
                reason = self._heard(event)
                if reason is not None:
                    return self._escalate(reason)
        return None

    def _heard(self, heard: Heard) -> EscalationReason | None:
        words = " ".join(_NOT_A_WORD.sub(" ", heard.text.lower()).split())
        if heard.asks_for_person:
            return EscalationReason.ASKED_FOR_PERSON
        if words and self._angry.search(words):
            return EscalationReason.ANGRY_WORDS
        if _NO.match(words) and heard.question:
            self._noes[heard.question] = self._noes.get(heard.question, 0) + 1
            if self._noes[heard.question] >= self._config.repeated_noes:
                return EscalationReason.REPEATED_NO
        if len(words.split()) >= MIN_REQUEST_WORDS and words == self._last_words:
            self._repeats += 1
        else:
            self._repeats = 1
        self._last_words = words
        if self._repeats >= self._config.repeated_requests:
            return EscalationReason.REPEATED_REQUEST
        return None

    def _escalate(self, reason: EscalationReason) -> EscalationReason:
        self._misheard, self._repeats, self._last_words, self._noes = 0, 0, "", {}
        return reason
