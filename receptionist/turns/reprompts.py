"""When the caller says nothing after a turn: ask if they are still there, then give up.
I/O-free; both brains follow it.

The Dialogue tells its brain once the caller has been silent for ``dialogue.reprompt_after_s``
after the agent's turn has played. The brain asks ``STILL_THERE`` (the offline one puts its
question again after it) up to ``dialogue.max_reprompts`` times in a row; at the next silence
it says ``NOTHING_HEARD`` and ends the call. The count starts again when the caller answers.
"""

from __future__ import annotations

STILL_THERE = "Are you still there?"
NOTHING_HEARD = "I haven't heard anything, so I'll end the call now."


class Reprompts:
    """Silences in a row, for one call."""

    def __init__(self, max_reprompts: int) -> None:
        self._max_reprompts = max_reprompts
        self._silences = 0

    def caller_answered(self) -> None:
        self._silences = 0

    def may_reprompt(self) -> bool:
        """Count one more silence: True to ask again, False to give up and end the call."""
        self._silences += 1
        return self._silences <= self._max_reprompts
