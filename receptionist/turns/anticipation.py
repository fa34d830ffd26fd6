"""Preemptive generation's guesses: which words the model may start on early. I/O-free.

When the VAD hears the caller pause (``SpeechPaused``, shorter than the silence after which
the Deepgram listener sends Finalize), ``TurnTaking`` offers the words so far (the finals of
this turn and the latest interim) so the model can start on them before the final
transcript comes (``Anticipate``). When the caller goes on (speech, a different interim, an
unfinished final) the guess is withdrawn (``Withdraw``). The brain keeps the guess's reply
if the ``CallerTurn`` says the same words, and starts again if not. A guess is only offered
while nobody holds the floor, and never for words that sound unfinished or are only a
backchannel.
"""

from __future__ import annotations

from receptionist.turns.lexicon import is_backchannel, same_words, sounds_unfinished
from receptionist.turns.turn_events import Anticipate, Withdraw


class Anticipation:
    """The guess standing in one call. Not shared between calls."""

    def __init__(self, enabled: bool) -> None:
        self._enabled = enabled
        self._guess: str | None = None
        """The words last offered, until withdrawn or the turn ends."""

    def offer(self, words: str) -> list[Anticipate | Withdraw]:
        """The caller paused after ``words``: guess them, unless they cannot be a turn."""
        if not self._enabled:
            return []
        if not words or is_backchannel(words) or sounds_unfinished(words):
            return [*self.withdraw()]
        if self._guess is not None and same_words(words, self._guess):
            return []  # the model is already on these words (the final only punctuates them)
        self._guess = words
        return [Anticipate(words)]

    def withdraw(self) -> list[Withdraw]:
        if self._guess is None:
            return []
        self._guess = None
        return [Withdraw()]

    def turn_ended(self) -> None:
        """The turn is over: a guess standing is left to the brain to keep or drop."""
        self._guess = None
