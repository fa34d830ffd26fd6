"""The one sentence splitter: streamed in deltas of any size, or a whole text at once."""

from __future__ import annotations

import pytest

from receptionist.turns.sentences import SentenceSplitter, split_sentences


def split_streamed(text: str, step: int) -> list[str]:
    splitter = SentenceSplitter()
    pieces = [text[i : i + step] for i in range(0, len(text), step)]
    sentences = [s for piece in pieces for s in splitter.feed(piece)]
    rest = splitter.flush()
    return [*sentences, rest] if rest else sentences


@pytest.mark.parametrize("step", [1, 2, 3, 7, 1000])
def test_sentences_whatever_the_deltas(step: int) -> None:
    text = (
        "Sure. Dr. Patel can see you at 10 a.m. on Tuesday, e.g. for 3.30 hours! "
        'Is that OK? "Great." I\'ll book it, okay'
    )
    assert split_streamed(text, step) == [
        "Sure.",
        "Dr. Patel can see you at 10 a.m. on Tuesday, e.g. for 3.30 hours!",
        "Is that OK?",
        '"Great."',
        "I'll book it, okay",
    ]


def test_a_sentence_waits_for_the_space_after_its_stop() -> None:
    splitter = SentenceSplitter()
    assert splitter.feed("Our website is example.") == []
    assert splitter.feed("com. Anything") == ["Our website is example.com."]
    assert splitter.feed(" else?") == []
    assert splitter.flush() == "Anything else?"
    assert splitter.flush() == ""


def test_line_breaks_end_sentences_too() -> None:
    assert split_streamed("We're open:\nMonday to Friday\n\n", 4) == [
        "We're open:",
        "Monday to Friday",
    ]


def test_split_sentences() -> None:
    assert split_sentences("Sorry, 10 AM isn't free. On Tuesday, I have 9 AM. Which?") == [
        "Sorry, 10 AM isn't free.",
        "On Tuesday, I have 9 AM.",
        "Which?",
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Dr. Patel is at 10 a.m. on Tuesday.", ["Dr. Patel is at 10 a.m. on Tuesday."]),
        ("Mr. and Mrs. Khan, and Ms. Lee.", ["Mr. and Mrs. Khan, and Ms. Lee."]),
        ("We're on St. Mary's Road. Come in.", ["We're on St. Mary's Road.", "Come in."]),
        ("Bring ID, e.g. a passport, i.e. a card.", ["Bring ID, e.g. a passport, i.e. a card."]),
        ("Shots, check-ups, etc. are free. Ask.", ["Shots, check-ups, etc. are free.", "Ask."]),
        ("Your visit is at 4 p.m. See you then.", ["Your visit is at 4 p.m.", "See you then."]),
        ("We close at 5 p.m. on Fridays.", ["We close at 5 p.m. on Fridays."]),
        ("Is it 10 a.m.? Yes.", ["Is it 10 a.m.?", "Yes."]),
        ("It's 12.50 dollars. Thanks.", ["It's 12.50 dollars.", "Thanks."]),
        ("See you at 10:30. Bye.", ["See you at 10:30.", "Bye."]),
        ("Room No. 5 is free. No. It isn't.", ["Room No. 5 is free.", "No.", "It isn't."]),
        ("Let me see... yes, Tuesday.", ["Let me see... yes, Tuesday."]),
        ("Let me see... Tuesday works.", ["Let me see...", "Tuesday works."]),
        ("Hmm… let me check. Done!", ["Hmm… let me check.", "Done!"]),
        ("Wait... (yes) we can.", ["Wait... (yes) we can."]),
        ("", []),
        ("  One sentence, no stop  ", ["One sentence, no stop"]),
    ],
)
def test_abbreviations_decimals_times_and_ellipses(text: str, expected: list[str]) -> None:
    assert split_sentences(text) == expected
    assert split_streamed(text, 1) == expected


def test_a_word_that_may_end_a_sentence_waits_for_the_next_one() -> None:
    splitter = SentenceSplitter()
    assert splitter.feed("Come at 10 a.m. ") == []
    assert splitter.feed('"') == []  # an opening quote does not say yet
    assert splitter.feed("Bye") == ["Come at 10 a.m."]
    assert splitter.flush() == '"Bye'


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Of course, I can help with that. Which day?", ["Of course,", "I can help with that.",
                                                          "Which day?"]),
        ("Yes, I can. Which day, then?", ["Yes, I can.", "Which day, then?"]),  # one word
        ("We have 10,000 slots; pick one. Or not.", ["We have 10,000 slots;", "pick one.",
                                                     "Or not."]),
        ("Thank you. Goodbye, then.", ["Thank you.", "Goodbye, then."]),  # first piece is out
    ],
)  # fmt: skip
def test_the_first_piece_may_end_at_its_first_clause(text: str, expected: list[str]) -> None:
    splitter = SentenceSplitter(first_clause_words=2)
    pieces = [piece for char in text for piece in splitter.feed(char)]
    assert [*pieces, splitter.flush()] == expected
