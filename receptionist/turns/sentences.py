"""Cutting streamed text into sentences as soon as each one ends: I/O-free.

The Synthesizer starts speaking a sentence the moment it gets it, so the first sentence of
a reply should leave while the model is still writing the second. A sentence ends at ".",
"?" or "!" (with any closing quotes or brackets) followed by white space, or at a line
break. A "." that is part of "Dr." or "10 a.m." or "e.g." ends nothing, and neither does
one inside "3.30" (no space follows). The end of a delta is not white space: "Hello." may
be followed by "com" in the next delta, so a sentence waits for the next character or for
``flush()`` at the end of the stream.
"""

from __future__ import annotations

import re

_BOUNDARY = re.compile(r"[.?!]+[\"')\]]*(?=\s)|\n")
_LAST_WORD = re.compile(r"(\S+)$")
ABBREVIATIONS = frozenset(
    {
        "dr",
        "mr",
        "mrs",
        "ms",
        "st",
        "jr",
        "sr",
        "prof",
        "vs",
        "approx",
        "appt",
        "dept",
        "e.g",
        "i.e",
        "a.m",
        "p.m",
        "u.s",
        "no",
    }
)
"""Words (lowercase, without their final ".") after which a "." does not end a sentence.

"no" is here for "No. 5"; a caller-facing "No." ending a sentence is then joined to the
next one, which costs a little latency, never a wrong word."""


class SentenceSplitter:
    """Feed text deltas with ``feed``; take the remainder with ``flush`` at the end."""

    def __init__(self) -> None:
        self._buffer = ""
        """Text not yet part of a finished sentence: rarely longer than one sentence, so
        rescanning it on every delta costs microseconds."""

    def feed(self, text: str) -> list[str]:
        """The sentences that ``text`` completes, in order (often none)."""
        self._buffer += text
        sentences = []
        while (end := self._sentence_end()) is not None:
            sentence, self._buffer = self._buffer[:end].strip(), self._buffer[end:]
            if sentence:
                sentences.append(sentence)
        return sentences

    def flush(self) -> str:
        """Whatever is left: the last sentence of the stream ("" if none)."""
        rest, self._buffer = self._buffer.strip(), ""
        return rest

    def _sentence_end(self) -> int | None:
        for match in _BOUNDARY.finditer(self._buffer):
            if match.group() == "\n" or not _is_abbreviation(self._buffer, match.start()):
                return match.end()
        return None


def _is_abbreviation(text: str, dot: int) -> bool:
    if text[dot] != ".":
        return False
    word = _LAST_WORD.search(text, 0, dot)
    return word is not None and word.group(1).lower().lstrip("(\"'") in ABBREVIATIONS
