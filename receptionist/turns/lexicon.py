"""What the caller's words say about turn-taking: a backchannel, or a sentence not finished.

Pure text functions for ``turn_taking``. Both recognisers' styles are handled: Deepgram's
smart format ("My number is 555-123", "10:30") and the offline one's words ("five five").
"""

from __future__ import annotations

import re

BACKCHANNELS = frozenset(
    {
        "mm", "mhm", "mmhm", "mmhmm", "hm", "hmm", "uhhuh", "uh", "um", "ah", "oh",
        "okay", "ok", "yeah", "yep", "right", "sure", "alright", "gotcha", "cool",
    }
)  # fmt: skip
"""Words that only say "go on" while the agent speaks. "yes" and "no" are not among them:
said over a question, they answer it."""
BACKCHANNEL_PHRASES = frozenset({"i see", "got it", "all right", "uh huh", "mm hm", "mm hmm"})

FAREWELL_WORDS = frozenset(
    {
        "bye", "goodbye", "byebye", "thanks", "thank", "you", "so", "much", "very", "again",
        "have", "a", "nice", "good", "great", "day", "evening", "night", "take", "care",
        "cheers", "see", "ya", "later", "too", "same", "to", "that's", "all", "it", "everything",
        "no", "nope", "that", "was", "is",
    }
)  # fmt: skip
"""Words of a caller's goodbye ("Thanks, you too, bye!", "No, that's all, goodbye")."""

UNFINISHED_ENDINGS = frozenset(
    {
        # Conjunctions and prepositions that rarely end a sentence ("come in", "I think so",
        # "Tuesday then" and "drop by" do, so those are left out).
        "and", "or", "but", "because", "with", "for", "to", "of", "at", "on", "from",
        "about", "like", "than", "around",
        # Determiners and possessives: "on the", "my", "next".
        "the", "a", "an", "my", "our", "his", "her", "their", "next",
        # A copula waiting for its value: "my number is", "it's", "that's", "the name's".
        "is", "it's", "that's", "name's", "number's",
        # Fillers: the caller is thinking.
        "um", "uh", "er", "erm", "hmm",
    }
)  # fmt: skip
DIGIT_WORDS = frozenset(
    {"zero", "oh", "o", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"}
)
PHONE_DIGITS = 10
"""A North American number; fewer digits at the end of a turn means one half read out."""
MIN_DIGITS_READ = 3
"""Fewer trailing digits are an hour or a date ("at 10", "the 3rd"), not a number read out."""

_TOKEN = re.compile(r"[a-z0-9':\-()+]+")


def words(text: str) -> list[str]:
    """Lower-case words, punctuation dropped, apostrophes and digit groups kept."""
    return [t.strip("-()") for t in _TOKEN.findall(text.lower().replace("\u2019", "'"))
            if t.strip("-()")]  # fmt: skip


def is_backchannel(text: str) -> bool:
    """True when ``text`` is nothing but "mm-hm", "okay", "yeah", "right", "sure"...

    False for "" (noise is judged by the caller of this function) and for anything with
    another word in it ("okay, Tuesday then").
    """
    tokens = [t.replace("-", "") for t in words(text)]
    if not tokens:
        return False
    joined = " ".join(tokens)
    if joined in BACKCHANNEL_PHRASES or " ".join(words(text)) in BACKCHANNEL_PHRASES:
        return True
    return all(t in BACKCHANNELS for t in tokens)


def is_farewell(text: str) -> bool:
    """True when ``text`` says nothing but goodbye, thanks or "mm-hm": said over or after the
    agent's goodbye, it does not keep the line open. "" (noise) is no farewell."""
    tokens = [t.replace("-", "") for t in words(text)]
    if not tokens:
        return False
    return is_backchannel(text) or all(t in FAREWELL_WORDS or t in BACKCHANNELS for t in tokens)


def sounds_unfinished(text: str) -> bool:
    """True when the caller seems to be mid-sentence: a trailing "and", "my number is",
    "on the", a filler, or digits being read out (fewer than a phone number's)."""
    tokens = words(text)
    if not tokens:
        return False
    if tokens[-1] in UNFINISHED_ENDINGS:
        return True
    digits = _trailing_digits(tokens)
    return MIN_DIGITS_READ <= digits < PHONE_DIGITS


def _trailing_digits(tokens: list[str]) -> int:
    """How many digits the words end with: "555 12" -> 5, "five five" -> 2, "10:30" -> 0."""
    count = 0
    for token in reversed(tokens):
        if token in DIGIT_WORDS:
            count += 1
        elif ":" not in token and re.fullmatch(r"[0-9()\-+]+", token):
            count += sum(c.isdigit() for c in token)
        else:
            break
    return count


_NOT_A_WORD = re.compile(r"[^\w']+")


def same_words(a: str, b: str) -> bool:
    """The same words, whatever the case and punctuation (interims are not punctuated)."""
    return _NOT_A_WORD.sub(" ", a).lower().split() == _NOT_A_WORD.sub(" ", b).lower().split()
