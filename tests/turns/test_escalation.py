"""Signs of a frustrated caller (turns/escalation.py), driven synchronously."""

from __future__ import annotations

import pytest

from receptionist.config import EscalationConfig
from receptionist.turns.escalation import (
    EscalationReason,
    Frustration,
    Heard,
    Misheard,
    Understood,
)

QUESTION = "Shall I book it?"


def test_three_failed_recognitions_in_a_row_escalate() -> None:
    frustration = Frustration(EscalationConfig())
    assert frustration.handle(Misheard()) is None
    assert frustration.handle(Misheard()) is None
    assert frustration.handle(Misheard()) is EscalationReason.NOT_UNDERSTOOD
    assert frustration.misheard_in_a_row == 0, "the count starts again after an escalation"


def test_an_understood_turn_ends_the_run_of_failures() -> None:
    frustration = Frustration(EscalationConfig())
    frustration.handle(Misheard())
    frustration.handle(Misheard())
    frustration.handle(Understood())
    assert frustration.handle(Misheard()) is None


def test_the_threshold_is_configured() -> None:
    frustration = Frustration(EscalationConfig(failed_recognitions=1))
    assert frustration.handle(Misheard()) is EscalationReason.NOT_UNDERSTOOD


@pytest.mark.parametrize(
    "text", ["This is ridiculous!", "you're USELESS", "I'm fed up with this", "damn it"]
)
def test_angry_words_escalate_at_once(text: str) -> None:
    assert Frustration(EscalationConfig()).handle(Heard(text)) is EscalationReason.ANGRY_WORDS


def test_angry_words_are_whole_words() -> None:
    frustration = Frustration(EscalationConfig(angry_words=("damn",)))
    assert frustration.handle(Heard("amsterdam next tuesday")) is None


def test_the_same_request_twice_escalates() -> None:
    frustration = Frustration(EscalationConfig())
    assert frustration.handle(Heard("I want to cancel my appointment")) is None
    again = frustration.handle(Heard("i want to cancel my appointment."))
    assert again is EscalationReason.REPEATED_REQUEST


def test_short_answers_said_again_are_not_repeats() -> None:
    frustration = Frustration(EscalationConfig())
    assert frustration.handle(Heard("yes")) is None
    assert frustration.handle(Heard("yes")) is None


def test_no_to_the_same_question_twice_escalates() -> None:
    frustration = Frustration(EscalationConfig())
    assert frustration.handle(Heard("no", QUESTION)) is None
    assert frustration.handle(Heard("no", "Which day suits you?")) is None
    assert frustration.handle(Heard("no that's wrong", QUESTION)) is EscalationReason.REPEATED_NO


def test_asking_for_a_person_escalates() -> None:
    heard = Heard("let me talk to someone", asks_for_person=True)
    assert Frustration(EscalationConfig()).handle(heard) is EscalationReason.ASKED_FOR_PERSON
