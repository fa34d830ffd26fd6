"""Turn-taking decisions, driven synchronously: barge-in, end of turn, what was heard."""

from __future__ import annotations

from dataclasses import replace

import pytest

from receptionist.messages import (
    SpeechPaused,
    SpeechResumed,
    SpeechStarted,
    SpeechStopped,
    Transcript,
)
from receptionist.turns.lexicon import is_backchannel, sounds_unfinished
from receptionist.turns.turn_events import (
    Anticipate,
    CallerTurn,
    CutOff,
    Resume,
    Tick,
    TurnPlayed,
    Withdraw,
)
from receptionist.turns.turn_taking import TurnTaking
from tests.helpers.turns import CONFIG, GREETING, final, interim, listening, mark, speaking


@pytest.mark.parametrize(
    "text", ["mm-hm", "Mm-hmm.", "Uh-huh.", "okay", "Okay, okay.", "yeah", "Right.", "sure",
             "I see", "uh huh"],
)  # fmt: skip
def test_backchannels(text: str) -> None:
    assert is_backchannel(text)


@pytest.mark.parametrize("text", ["", "yes", "no", "okay tuesday", "sure, book it", "wait"])
def test_not_backchannels(text: str) -> None:
    assert not is_backchannel(text)


@pytest.mark.parametrize(
    "text",
    ["I'd like a check-up and", "My number is", "my number is...", "It's", "on the",
     "Tuesday at", "five five five one", "555-123", "my name's", "um"],
)  # fmt: skip
def test_sounds_unfinished(text: str) -> None:
    assert sounds_unfinished(text)


@pytest.mark.parametrize(
    "text",
    ["yes", "Tuesday", "at 10", "10:30", "on the 3rd", "555-123-4567", "I'll take it",
     "five five five one two three four five six seven", "come in", "I think so", ""],
)  # fmt: skip
def test_sounds_finished(text: str) -> None:
    assert not sounds_unfinished(text)


# --- Barge-in -----------------------------------------------------------------------------


def test_speech_cuts_the_agent_off_only_while_it_has_the_floor() -> None:
    taking = TurnTaking(CONFIG)
    assert taking.handle(SpeechStarted(1.0), 1.12) == []
    taking = speaking(*GREETING)
    assert taking.handle(SpeechStarted(1.0), 1.12) == [CutOff(1, (), GREETING)]
    assert not taking.agent_has_floor


def test_the_same_speech_reported_twice_cuts_once() -> None:
    taking = speaking(*GREETING)
    assert taking.handle(SpeechStarted(1.0), 1.12) == [CutOff(1, (), GREETING)]
    assert taking.handle(SpeechStarted(1.0), 1.14) == []


def test_the_last_words_are_not_cut_short() -> None:
    taking = speaking("Goodbye!", interruptible=False)
    assert taking.handle(SpeechStarted(1.0), 1.12) == []
    taking = speaking("Goodbye!")
    taking.agent_not_interruptible()
    assert taking.handle(SpeechStarted(1.0), 1.12) == []


def test_heard_is_what_played_before_the_cut_and_marks_echoed_by_clear_do_not_count() -> None:
    taking = speaking(*GREETING)
    assert taking.handle(mark(1, 0), 1.0) == []
    [cut] = taking.handle(SpeechStarted(2.0), 2.12)
    assert cut == CutOff(1, GREETING[:1], GREETING[1:])
    # Twilio echoes the pending marks after a clear: the caller did not hear those.
    assert taking.handle(mark(1, 1), 2.2) == []
    assert taking.handle(mark(1, 2), 2.2) == []


def test_the_turn_is_over_when_its_last_mark_comes_back() -> None:
    taking = speaking(*GREETING, turn_id=3)
    assert taking.handle(mark(2, 2), 1.0) == []  # an earlier turn's
    assert taking.handle(mark(3, 1), 1.0) == []
    assert taking.handle(mark(3, 2), 2.0) == [TurnPlayed(3)]
    assert not taking.agent_has_floor


def test_a_backchannel_before_any_barge_in_is_ignored() -> None:
    taking = speaking(*GREETING)
    assert taking.handle(final("Mm-hm."), 2.0) == []
    assert taking.handle(final(""), 2.0) == []
    assert taking.agent_has_floor


def test_words_the_vad_missed_still_take_the_floor() -> None:
    taking = speaking(*GREETING)
    words = final("I need a flu shot")
    assert taking.handle(words, 2.0) == [
        CutOff(1, (), GREETING),
        CallerTurn("I need a flu shot", words),
    ]


def test_a_barge_in_that_was_a_backchannel_resumes_the_turn() -> None:
    taking = speaking(*GREETING)
    taking.handle(mark(1, 0), 1.0)
    [cut] = taking.handle(SpeechStarted(2.0), 2.12)
    taking.handle(SpeechStopped(2.4), 3.1)
    assert taking.handle(final("Uh-huh.", at=3.3), 3.3) == [Resume(cut, "Uh-huh.")]
    assert taking.deadline == float("inf")


def test_a_barge_in_with_no_words_was_noise_and_resumes_the_turn() -> None:
    taking = speaking(*GREETING)
    [cut] = taking.handle(SpeechStarted(2.0), 2.12)
    taking.handle(SpeechStopped(2.3), 3.0)
    assert taking.deadline == pytest.approx(3.8)
    assert taking.handle(Tick(), 3.79) == []
    assert taking.handle(Tick(), 3.8) == [Resume(cut, "")]


def test_a_barge_in_with_words_is_the_callers_turn() -> None:
    taking = speaking(*GREETING)
    taking.handle(SpeechStarted(2.0), 2.12)
    taking.handle(Transcript("actually", False, None, 2.5), 2.5)  # words: a real barge-in
    taking.handle(SpeechStopped(3.0), 3.7)
    assert taking.handle(Tick(), 5.0) == []  # no resume, whatever the wait
    words = final("actually Wednesday", at=3.8)
    assert taking.handle(words, 3.8) == [CallerTurn("actually Wednesday", words)]


# --- End of turn --------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["yes", "Tuesday", "I'd like to book a check-up for my son"])
def test_a_complete_answer_ends_the_turn_at_once_short_or_long(text: str) -> None:
    taking = TurnTaking(CONFIG)
    words = final(text)
    assert taking.handle(words, 10.0) == [CallerTurn(text, words)]


def test_a_backchannel_word_is_an_answer_when_the_agent_is_not_speaking() -> None:
    words = final("okay")
    assert TurnTaking(CONFIG).handle(words, 10.0) == [CallerTurn("okay", words)]


def test_an_unfinished_turn_waits_and_joins_the_next_final() -> None:
    taking = TurnTaking(CONFIG)
    assert taking.handle(final("my number is", at=10.0), 10.0) == []
    assert taking.deadline == pytest.approx(11.5)
    taking.handle(SpeechStarted(10.4), 10.52)
    assert taking.deadline == float("inf")  # still talking: wait for the words
    taking.handle(SpeechStopped(12.0), 12.2)
    rest = final("555 123 4567", at=12.5)
    assert taking.handle(rest, 12.5) == [CallerTurn("my number is 555 123 4567", rest)]


def test_digits_half_read_out_wait_for_the_rest() -> None:
    taking = TurnTaking(CONFIG)
    assert taking.handle(final("it's five five five", at=10.0), 10.0) == []
    rest = final("one two three four five six seven", at=11.0)
    [turn] = taking.handle(rest, 11.0)
    assert isinstance(turn, CallerTurn)
    assert turn.text == "it's five five five one two three four five six seven"


def test_an_unfinished_turn_ends_after_the_wait_if_nothing_more_comes() -> None:
    taking = TurnTaking(CONFIG)
    words = final("on the", at=10.0)
    taking.handle(words, 10.0)
    assert taking.handle(Tick(), 11.49) == []
    assert taking.handle(Tick(), 11.5) == [CallerTurn("on the", words)]


def test_speech_that_brings_no_words_ends_the_held_turn_after_the_wait() -> None:
    taking = TurnTaking(CONFIG)
    words = final("and", at=10.0)
    taking.handle(words, 10.0)
    taking.handle(SpeechStarted(10.5), 10.62)  # a cough
    taking.handle(SpeechStopped(10.7), 11.4)
    assert taking.deadline == pytest.approx(12.9)
    assert taking.handle(Tick(), 12.9) == [CallerTurn("and", words)]


# --- Preemptive generation -------------------------------------------------------------------


def test_a_pause_offers_the_words_so_far() -> None:
    taking = listening()
    taking.handle(SpeechStarted(at=8.0), now=8.1)
    taking.handle(interim("I'd like a check-up"), now=9.0)
    assert taking.handle(SpeechStopped(at=9.2), now=9.4) == [Anticipate("I'd like a check-up")]
    # The final says the same: the turn ends, and the brain compares the words.
    done = taking.handle(final("I'd like a check-up."), now=9.6)
    assert done == [CallerTurn("I'd like a check-up.", final("I'd like a check-up."))]


def test_speaking_again_withdraws_the_guess() -> None:
    taking = listening()
    taking.handle(SpeechStarted(at=8.0), now=8.1)
    taking.handle(interim("I'd like a check-up"), now=9.0)
    taking.handle(SpeechStopped(at=9.2), now=9.4)
    assert taking.handle(SpeechStarted(at=9.5), now=9.6) == [Withdraw()]
    assert taking.handle(interim("I'd like a check-up on Tuesday"), now=10.0) == []
    assert taking.handle(SpeechStopped(at=10.2), now=10.4) == [
        Anticipate("I'd like a check-up on Tuesday")
    ]


def test_words_recognised_after_the_pause_renew_the_guess() -> None:
    taking = listening()
    taking.handle(SpeechStarted(at=8.0), now=8.1)
    taking.handle(interim("book me in for"), now=9.0)
    assert taking.handle(SpeechStopped(at=9.2), now=9.4) == []  # sounds unfinished
    assert taking.handle(interim("book me in for Tuesday"), now=9.5) == [
        Anticipate("book me in for Tuesday")
    ]
    assert taking.handle(interim("book me in for Tuesday"), now=9.55) == []  # no news


def test_an_unfinished_final_withdraws_the_guess() -> None:
    taking = listening()
    taking.handle(SpeechStarted(at=8.0), now=8.1)
    taking.handle(interim("my number is five five five"), now=9.0)
    taking.handle(SpeechStopped(at=9.2), now=9.4)  # digits being read out: no guess
    taking.handle(interim("yes"), now=9.45)
    assert taking.handle(final("my number is five five five"), now=9.6) == [Withdraw()]


@pytest.mark.parametrize("words", ["mm-hm", "", "and"])
def test_no_guess_on_backchannels_silence_or_unfinished_words(words: str) -> None:
    taking = listening()
    taking.handle(SpeechStarted(at=8.0), now=8.1)
    if words:
        taking.handle(interim(words), now=9.0)
    assert taking.handle(SpeechStopped(at=9.2), now=9.4) == []


def test_no_guess_while_the_agent_holds_the_floor() -> None:
    taking = speaking(*GREETING, interruptible=False)  # the goodbye: not cut short
    taking.handle(SpeechStarted(at=8.0), now=8.1)
    taking.handle(interim("what about Tuesday"), now=9.0)
    assert taking.handle(SpeechStopped(at=9.2), now=9.4) == []


def test_a_barge_in_with_words_offers_a_guess() -> None:
    taking = speaking(*GREETING)
    [cut] = taking.handle(SpeechStarted(at=8.0), now=8.14)
    assert isinstance(cut, CutOff)
    taking.handle(interim("actually I need to cancel"), now=8.6)
    assert taking.handle(SpeechStopped(at=9.0), now=9.2) == [
        Anticipate("actually I need to cancel")
    ]


def test_preemptive_generation_can_be_turned_off() -> None:
    taking = TurnTaking(replace(CONFIG, preemptive_generation=False))
    taking.handle(SpeechStarted(at=8.0), now=8.1)
    taking.handle(interim("I'd like a check-up"), now=9.0)
    assert taking.handle(SpeechStopped(at=9.2), now=9.4) == []


def test_a_short_pause_offers_the_guess_and_resuming_withdraws_it() -> None:
    taking = listening()
    taking.handle(SpeechStarted(at=8.0), now=8.1)
    taking.handle(interim("I'd like a check-up"), now=9.0)
    assert taking.handle(SpeechPaused(at=9.2), now=9.3) == [Anticipate("I'd like a check-up")]
    assert taking.handle(SpeechResumed(at=9.35), now=9.35) == [Withdraw()]
    assert taking.handle(interim("I'd like a check-up on Monday"), now=9.6) == []
    assert taking.handle(SpeechPaused(at=9.8), now=9.9) == [
        Anticipate("I'd like a check-up on Monday")
    ]
    assert taking.handle(SpeechStopped(at=9.8), now=10.0) == []  # the same guess stands
