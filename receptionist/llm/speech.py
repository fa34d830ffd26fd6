"""One agent turn's words while the model writes them: handed over sentence by sentence
(``Say``), and gathered for the history."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from receptionist.messages import EndCall
from receptionist.turns.sentences import SentenceSplitter

FIRST_CLAUSE_WORDS = 2
"""A reply's first piece goes to the voice at its first clause of at least this many words
("Of course," of "Of course, I can help with that."): the voice's first byte comes while
the model writes the rest. One-word openers ("Yes,", "Sure,") wait for more."""

Say = Callable[[str, bool], Awaitable[None]]
"""Hand one sentence over for speech; True on the turn's last (which may be "")."""


class Speech:
    """One turn's words: handed over sentence by sentence, and gathered for the history."""

    def __init__(self, say: Say) -> None:
        self._say = say
        self.splitter = SentenceSplitter(first_clause_words=FIRST_CLAUSE_WORDS)
        self.round_text: list[str] = []
        self.pending = ""
        """The end of the last stream: said before tools run, or as the turn's last words."""
        self.end: EndCall | None = None
        self.spoken = False
        """Words of this turn have been handed over (a holding line is then not needed)."""

    async def sentence(self, text: str) -> None:
        self.round_text.append(text)
        self.spoken = True
        await self._say(text, False)

    def end_of_stream(self) -> None:
        self.pending = self.splitter.flush()
        if self.pending:
            self.round_text.append(self.pending)

    async def say_pending(self, *, last: bool) -> None:
        """Say the pending words; on the turn's last call even if there are none."""
        text, self.pending = self.pending, ""
        self.spoken = self.spoken or bool(text)
        if text or last:
            await self._say(text, last)

    def take_round_text(self) -> list[str]:
        sentences, self.round_text = self.round_text, []
        return sentences
