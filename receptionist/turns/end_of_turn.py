"""How long a caller's turn is waited on after its final transcript. I/O-free.

A turn that sounds complete ("yes", "Tuesday") ends when its final arrives: the recogniser's
endpointing has already waited for silence, whatever the answer's length. One that sounds
unfinished ("and", "my number is", "on the", digits half read out:
``lexicon.sounds_unfinished``) waits ``unfinished_wait_ms`` for more.

A caller who pauses mid-sentence once is likely to do it again: each turn the caller went on
with before hearing any of the answer lengthens the wait after a complete-sounding final by
``complete_wait_step_ms``, for the rest of the call, up to ``complete_wait_max_ms``.
"""

from __future__ import annotations

from receptionist.config import TurnTakingConfig
from receptionist.turns.lexicon import sounds_unfinished


class EndOfTurnWait:
    """One call's waits after a final, in seconds. Not shared between calls."""

    def __init__(self, config: TurnTakingConfig) -> None:
        self.unfinished = config.unfinished_wait_ms / 1000
        self.complete = config.complete_wait_ms / 1000
        self._step = config.complete_wait_step_ms / 1000
        self._max = config.complete_wait_max_ms / 1000

    def after(self, joined: str) -> float:
        """The wait after a final that makes the caller's turn ``joined``."""
        return self.unfinished if sounds_unfinished(joined) else self.complete

    def lengthen(self) -> None:
        """The caller went on after a turn that sounded complete."""
        self.complete = min(self.complete + self._step, self._max)
