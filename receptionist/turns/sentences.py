"""Cutting text into sentences, streamed or whole: the one splitter. I/O-free.

The Synthesizer starts speaking a sentence the moment it gets it, so the first sentence of
a reply should leave while the model is still writing the second; a whole line (a greeting,
an offline answer) is cut the same way with ``split_sentences``, so a sentence is the same
unit whoever wrote it (the LLM's history counts what the caller heard in sentences).

A sentence ends at ".", "?", "!" or an ellipsis ("..." or "…"), with any closing quotes or
brackets, followed by white space; or at a line break. A "." that is part of a word ends
nothing ("3.30", "example.com", "10:30" has no stop at all). After a word that something
always follows ("Dr.", "Mrs.", "St.", "e.g.", "i.e."), a "." ends nothing. After one that
may end a sentence or not ("10 a.m.", "5 p.m.", "etc."), and after an ellipsis, the next
word decides: a capital starts a new sentence ("at 10 a.m. Is that OK?"), anything else goes
on ("at 10 a.m. on Tuesday", "let me see... yes"). "No." ends a sentence unless a number
follows ("No. 5"). A "?" or "!" always ends one.

The end of a delta is not white space: "Hello." may be followed by "com" in the next delta,
so a sentence waits for the next character (or, where the next word decides, for its first
letter), or for ``flush()`` at the end of the stream.

A streamed reply's first piece may end sooner, at its first clause (``first_clause_words``):
a ",", ";" or ":" followed by white space after at least that many words ("Of course, I can
help with that." gives "Of course," first), so the voice starts on it while the model writes
the rest. Later pieces are whole sentences.
"""

from __future__ import annotations

import re

_OPENERS = "\"'\u201c\u2018(["
_CLOSERS = "\"'\u201d\u2019)]"
_BOUNDARY = re.compile(rf"(?:\.\.\.|…|[.?!])+[{re.escape(_CLOSERS)}]*(?=\s)|\n")
_CLAUSE = re.compile(r"[,;:](?=\s)")
_LAST_WORD = re.compile(r"(\S+)$")
_NEXT_WORD = re.compile(rf"\s*[{re.escape(_OPENERS)}]*([^\s{re.escape(_OPENERS)}])")
NEVER_FINAL = frozenset(
    {"dr", "mr", "mrs", "ms", "prof", "st", "vs", "approx", "appt", "dept", "e.g", "i.e"}
)
"""Words (lowercase, without their last ".") that always have something after them."""
FINAL_BEFORE_A_CAPITAL = frozenset({"a.m", "p.m", "etc", "jr", "sr", "u.s"})
"""Words (lowercase, without their last ".") that end a sentence when a capital follows."""
FINAL_UNLESS_A_NUMBER = frozenset({"no"})
"""Words that end a sentence unless a number follows: "No. 5"."""


class SentenceSplitter:
    """Feed text deltas with ``feed``; take the remainder with ``flush`` at the end."""

    def __init__(self, first_clause_words: int = 0) -> None:
        self._buffer = ""
        """Text not yet part of a finished sentence: rarely longer than one sentence, so
        rescanning it on every delta costs microseconds."""
        self._first_clause_words = first_clause_words
        """Cut the first piece at a clause of at least this many words (0: whole sentences)."""

    def feed(self, text: str) -> list[str]:
        """The sentences that ``text`` completes, in order (often none)."""
        self._buffer += text
        sentences = []
        while (end := self._sentence_end()) is not None:
            sentence, self._buffer = self._buffer[:end].strip(), self._buffer[end:]
            if sentence:
                sentences.append(sentence)
                self._first_clause_words = 0  # the first piece is out
        return sentences

    def flush(self) -> str:
        """Whatever is left: the last sentence of the stream ("" if none)."""
        rest, self._buffer = self._buffer.strip(), ""
        return rest

    def _sentence_end(self) -> int | None:
        """Where the first finished sentence ends; None if none has, or it is too soon to say."""
        clause = self._first_clause()
        for match in _BOUNDARY.finditer(self._buffer):
            if clause is not None and clause <= match.start():
                return clause
            ends = _ends_sentence(self._buffer, match)
            if ends is None:
                return None  # the next word decides, and it has not come yet
            if ends:
                return match.end()
        return clause

    def _first_clause(self) -> int | None:
        """Where the first piece's first clause ends, if it is to be cut there."""
        if not self._first_clause_words:
            return None
        for match in _CLAUSE.finditer(self._buffer):
            if len(self._buffer[: match.start()].split()) >= self._first_clause_words:
                return match.end()
        return None


def split_sentences(text: str) -> list[str]:
    """The sentences of a whole text, cut as if it had streamed in."""
    splitter = SentenceSplitter()
    sentences = splitter.feed(text)
    rest = splitter.flush()
    return [*sentences, rest] if rest else sentences


def _ends_sentence(text: str, match: re.Match[str]) -> bool | None:
    """Whether the stop ``match`` ends a sentence; None when the word after it, not yet
    written, decides."""
    stop = match.group()
    if stop == "\n" or "?" in stop or "!" in stop:
        return True
    ellipsis = stop.startswith("..") or "…" in stop
    word = _LAST_WORD.search(text, 0, match.start())
    before = word.group(1).lower().lstrip(_OPENERS) if word else ""
    if not ellipsis and before in NEVER_FINAL:
        return False
    if not ellipsis and before not in FINAL_BEFORE_A_CAPITAL | FINAL_UNLESS_A_NUMBER:
        return True
    following = _NEXT_WORD.match(text, match.end())
    if following is None:
        return None
    if before in FINAL_UNLESS_A_NUMBER and not ellipsis:
        return not following.group(1).isdigit()
    return following.group(1).isupper()
