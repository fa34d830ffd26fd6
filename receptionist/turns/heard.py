"""What the caller heard of an agent turn, from Twilio's mark echoes. I/O-free.

Twilio echoes a sentence's mark (``turn{t}-s{i}``) once it has played. A turn cut off is
reported as the sentences whose marks came back before the cut; marks Twilio echoes for
audio dropped by ``clear`` come later and are ignored. A sentence cut midway counts as
unheard.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from receptionist.messages import MarkPlayed, Sentence
from receptionist.turns.turn_events import CutOff

_MARK = re.compile(r"turn(\d+)-s(\d+)")


@dataclass(slots=True)
class TurnPlayback:
    """The sentences of the agent turn being played, and how many of them have played."""

    turn_id: int
    texts: list[str] = field(default_factory=list)
    played: int = 0
    last_index: int | None = None

    def sent(self, sentence: Sentence) -> None:
        self.texts.append(sentence.text)
        if sentence.last:
            self.last_index = sentence.index

    def handle(self, mark: MarkPlayed) -> bool:
        """Count a mark of this turn; True once the turn's last sentence has played."""
        match = _MARK.fullmatch(mark.name)
        if match is None or int(match[1]) != self.turn_id:
            return False  # an earlier turn's, or one echoed after a clear
        index = int(match[2])
        self.played = max(self.played, index + 1)
        return index == self.last_index

    def cut(self) -> CutOff:
        heard = tuple(t for t in self.texts[: self.played] if t)
        unheard = tuple(t for t in self.texts[self.played :] if t)
        return CutOff(self.turn_id, heard, unheard)
