"""The floor belongs to whoever is speaking (issue 9): turn-taking's decisions, driven
synchronously (the same cases through the Dialogue and the supervisor: test_floor_calls.py).

A caller who pauses mid-sentence ("Hello there. | I'd like...", "Yes, | please cancel it.",
"No, | that's everything, goodbye.") is not talked over, not answered twice, not hung up on.
"""

from __future__ import annotations

import math
from dataclasses import replace

import pytest

from receptionist.messages import (
    Sentence,
    SpeechPaused,
    SpeechResumed,
    SpeechStarted,
    SpeechStopped,
    Transcript,
    TurnTimings,
)
from receptionist.turns.lexicon import is_farewell
from receptionist.turns.turn_events import (
    Anticipate,
    CallerTurn,
    CutOff,
    Hold,
    Release,
    Tick,
)
from receptionist.turns.turn_taking import TurnTaking
from tests.helpers.turns import CONFIG, final, interim, mark, speaking

REPLY = ("Hi!", "How can I help?")


def answering(text: str) -> tuple[TurnTaking, Transcript]:
    """The caller said ``text`` (a complete-sounding final) and the agent began turn 2."""
    taking = TurnTaking(CONFIG)
    words = final(text)
    assert taking.handle(words, 10.0) == [CallerTurn(text, words)]
    taking.agent_began(2, interruptible=True)
    for index, sentence in enumerate(REPLY):
        taking.agent_sent(Sentence(2, index, sentence, index == 1, TurnTimings()))
    return taking, words


def test_the_caller_going_on_before_the_first_frame_holds_the_answer() -> None:
    taking, _ = answering("Hello there.")
    assert taking.handle(SpeechStarted(10.3), 10.42) == [Hold(2)]
    assert taking.agent_has_floor  # held, not dropped: it may still answer them
    taking.handle(SpeechStopped(11.5), 11.7)
    rest = final("I'd like an appointment.", at=11.9)
    # New words: the held answer is dropped, and the caller's turn goes on (a little wait
    # now, the model started on the joined words meanwhile).
    assert taking.handle(rest, 11.9) == [
        CutOff(2, (), REPLY, continued="Hello there."),
        Anticipate("Hello there. I'd like an appointment."),
    ]
    assert taking.handle(Tick(), taking.deadline) == [
        CallerTurn("Hello there. I'd like an appointment.", rest)
    ]


def test_new_words_in_an_interim_drop_the_held_answer_at_once() -> None:
    taking, _ = answering("Yes,")
    assert taking.handle(SpeechStarted(10.3), 10.42) == [Hold(2)]
    assert taking.handle(interim("mm"), 10.5) == []  # no new words yet: still held
    assert taking.handle(interim("please"), 10.6) == [CutOff(2, (), REPLY, continued="Yes,")]


@pytest.mark.parametrize("said", ["", "Mm.", "mm-hm"])
def test_a_continuation_with_no_new_words_releases_the_held_answer(said: str) -> None:
    taking, _ = answering("What are your hours?")
    assert taking.handle(SpeechStarted(10.3), 10.42) == [Hold(2)]
    taking.handle(SpeechStopped(10.5), 10.7)
    assert taking.handle(final(said, at=10.8), 10.8) == [Release(2)]
    assert taking.agent_has_floor
    assert taking.complete_wait == 0  # it was not a turn cut in two
    # Still unheard: the caller going on again holds it again.
    assert taking.handle(SpeechStarted(11.0), 11.12) == [Hold(2)]


def test_a_held_answer_is_released_when_no_words_come_in_time() -> None:
    taking, _ = answering("What are your hours?")
    taking.handle(SpeechStarted(10.3), 10.42)
    taking.handle(SpeechStopped(10.5), 10.7)
    assert taking.deadline == pytest.approx(10.7 + CONFIG.false_barge_in_ms / 1000)
    assert taking.handle(Tick(), taking.deadline) == [Release(2)]
    assert taking.deadline == math.inf


def test_once_the_answer_is_heard_speech_is_a_barge_in_not_a_hold() -> None:
    taking, _ = answering("What are your hours?")
    taking.handle(SpeechStarted(10.3), 10.42)
    taking.handle(SpeechStopped(10.5), 10.7)
    taking.handle(final("", at=10.8), 10.8)
    taking.agent_audible(2)
    assert taking.handle(SpeechStarted(11.0), 11.12) == [CutOff(2, (), REPLY)]


def test_the_caller_going_on_after_the_first_frame_is_a_barge_in() -> None:
    taking, _ = answering("Hello there.")
    taking.agent_audible(2)
    assert taking.handle(SpeechStarted(10.6), 10.72) == [CutOff(2, (), REPLY)]
    taking.handle(SpeechStopped(11.5), 11.7)
    rest = final("I'd like an appointment.", at=11.9)
    assert taking.handle(rest, 11.9) == [CallerTurn("I'd like an appointment.", rest)]


def test_the_guess_stands_while_a_complete_final_is_waited_out() -> None:
    taking, _ = answering("Hello there.")
    taking.handle(SpeechStarted(10.3), 10.42)
    taking.handle(interim("I'd like to book"), 10.6)  # the turn goes on: the wait grows
    assert taking.handle(SpeechPaused(11.0), 11.1) == [Anticipate("Hello there. I'd like to book")]
    assert taking.handle(interim("I'd like to book a check up"), 11.2) == [
        Anticipate("Hello there. I'd like to book a check up")
    ]
    taking.handle(SpeechStopped(11.3), 11.5)
    rest = final("I'd like to book a check-up.", at=11.6)
    assert taking.handle(rest, 11.6) == []  # the model goes on with the same words meanwhile
    assert taking.handle(Tick(), taking.deadline) == [
        CallerTurn("Hello there. I'd like to book a check-up.", rest)
    ]


def test_a_continued_turn_is_guessed_whole() -> None:
    taking, _ = answering("Yes,")
    taking.handle(SpeechStarted(10.3), 10.42)
    taking.handle(interim("please cancel it"), 11.0)
    assert taking.handle(SpeechStopped(11.2), 11.4) == [Anticipate("Yes, please cancel it")]


def test_a_final_that_comes_after_the_caller_went_on_does_not_end_the_turn() -> None:
    taking = TurnTaking(CONFIG)
    taking.handle(SpeechStarted(9.0), 9.1)
    taking.handle(SpeechStopped(9.5), 9.7)
    taking.handle(SpeechStarted(9.8), 9.92)  # they resumed before the final came
    assert taking.handle(final("Yes,", at=10.0), 10.0) == []
    taking.handle(SpeechStopped(10.8), 11.0)
    rest = final("please cancel it.", at=11.2)
    assert taking.handle(rest, 11.2) == [CallerTurn("Yes, please cancel it.", rest)]


def test_a_final_that_came_while_the_caller_sounded_ends_the_turn_on_the_empty_answer() -> None:
    """Their final came while they were still sounding ("...thank you. Bye." finalised at a
    pause, the "Bye." still in the air): at their stop the recogniser answers our Finalize
    with nothing new, and the turn ends then, not after ``unfinished_wait_ms``."""
    taking = TurnTaking(CONFIG)
    taking.handle(SpeechStarted(9.0), 9.1)
    taking.handle(SpeechPaused(9.5), 9.7)
    taking.handle(SpeechResumed(9.8), 9.92)
    words = final("Great, thank you. Bye.", at=10.0)
    assert taking.handle(words, 10.0) == []  # they are sounding: not yet
    taking.handle(SpeechStopped(10.3), 10.5)
    assert taking.deadline == pytest.approx(12.0)  # waiting for the final of these sounds
    nothing = Transcript("", True, speech_ended_at=10.3, at=10.65)
    (turn,) = taking.handle(nothing, 10.65)
    assert turn == CallerTurn("Great, thank you. Bye.", replace(words, speech_ended_at=10.3))
    assert taking.deadline == math.inf


def test_an_empty_answer_keeps_the_wait_of_words_that_sound_unfinished() -> None:
    taking = TurnTaking(CONFIG)
    taking.handle(SpeechStarted(9.0), 9.1)
    assert taking.handle(final("my number is", at=10.0), 10.0) == []
    taking.handle(SpeechStopped(10.3), 10.5)
    assert taking.handle(Transcript("", True, speech_ended_at=10.3, at=10.65), 10.65) == []
    assert taking.deadline == pytest.approx(12.0)  # 1.5 s after their stop: more may come


def test_an_empty_answer_while_the_caller_speaks_changes_nothing() -> None:
    taking = TurnTaking(CONFIG)
    taking.handle(SpeechStarted(9.0), 9.1)
    taking.handle(final("Yes,", at=10.0), 10.0)
    taking.handle(SpeechStopped(10.3), 10.5)
    taking.handle(SpeechStarted(10.6), 10.72)
    assert taking.handle(Transcript("", True, speech_ended_at=None, at=10.8), 10.8) == []
    assert taking.deadline == math.inf


def test_speech_resumed_mid_utterance_cuts_the_agent() -> None:
    taking = speaking(*REPLY)
    taking.agent_audible(1)
    assert taking.handle(SpeechResumed(5.0), 5.1) == [CutOff(1, (), REPLY)]


def test_new_words_in_an_interim_cut_the_agent_a_backchannel_does_not() -> None:
    taking = speaking(*REPLY)
    assert taking.handle(interim("mm-hm"), 5.0) == []
    assert taking.agent_has_floor
    assert taking.handle(interim("actually I"), 5.2)[0] == CutOff(1, (), REPLY)


def test_the_wait_after_a_complete_final_grows_when_the_caller_goes_on() -> None:
    taking, _ = answering("Hello there.")
    assert taking.complete_wait == 0
    taking.handle(SpeechStarted(10.3), 10.42)
    taking.handle(interim("Tuesday"), 10.6)  # words: the turn was not over
    assert taking.complete_wait == CONFIG.complete_wait_step_ms / 1000
    taking.handle(SpeechStopped(11.5), 11.7)
    actions = taking.handle(final("Tuesday.", at=12.0), 12.0)
    assert not [a for a in actions if isinstance(a, CallerTurn)]  # waits a little now
    assert taking.deadline == 12.0 + taking.complete_wait
    [turn] = taking.handle(Tick(), taking.deadline)
    assert isinstance(turn, CallerTurn)
    assert turn.text == "Hello there. Tuesday."
    for _ in range(10):  # bounded
        taking.agent_began(9, interruptible=True)
        taking._answered = [final("x")]
        taking.handle(SpeechStarted(20.0), 20.1)
        taking.handle(interim("and"), 20.2)
    assert taking.complete_wait == CONFIG.complete_wait_max_ms / 1000


def test_a_backchannel_while_the_answer_plays_still_does_not_cut_it() -> None:
    taking, _ = answering("What are your hours?")
    taking.handle(mark(2, 0), 11.0)
    assert taking.handle(final("Mm-hm."), 11.2) == []
    assert taking.agent_has_floor


def test_farewells() -> None:
    assert is_farewell("Thank you, goodbye.")
    assert is_farewell("Thanks, you too. Bye!")
    assert is_farewell("mm-hm")
    assert not is_farewell("Oh, one more thing")
    assert not is_farewell("what are your opening hours")
    assert not is_farewell("")
