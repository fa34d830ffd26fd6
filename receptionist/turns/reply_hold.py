"""A reply held back from a caller who went on speaking before hearing it. I/O-free.

The caller's turn ended on a final that sounded complete ("Hello there.", "Yes,"), the agent
began its answer, and the caller spoke again before its first frame reached them. Their turn
may not have been over, or it may have been a cough or an "mm". Either way nothing of the
answer may play over them, but throwing it away costs a whole model round trip when the
continuation brings no new words. So the answer is held: it goes on being written and
synthesised, its tools proposed (side-effecting ones still wait for the turn to settle), and
nothing of it reaches the caller. Then:

- the continuation brings new words (an interim or a final with words): the held answer is
  dropped (``TurnTaking.cut``: a ``CutOff`` with ``continued``) and the joined turn answered;
- it brings none (an empty final, a backchannel, or no words within ``false_barge_in_ms``
  of the caller stopping): the same words are still the turn, and the answer is released at
  once (``Release``), with no new model request.
"""

from __future__ import annotations

import math

from receptionist.turns.turn_events import Hold, Release

NO_DEADLINE = math.inf


class ReplyHold:
    """Which agent turn is held, and until when it waits for words. Not shared between calls."""

    def __init__(self) -> None:
        self._turn_id: int | None = None
        self.deadline = NO_DEADLINE
        """When, with no words since the caller stopped, the held turn is released."""

    @property
    def holding(self) -> bool:
        return self._turn_id is not None

    def hold(self, turn_id: int) -> list[Hold]:
        """The caller speaks before hearing turn ``turn_id``: hold it (once)."""
        self.deadline = NO_DEADLINE  # they are speaking: wait for what they say
        if self._turn_id == turn_id:
            return []
        self._turn_id = turn_id
        return [Hold(turn_id)]

    def speech_stopped(self, give_up_at: float) -> None:
        """The caller stopped: without words by ``give_up_at``, the turn is released."""
        if self._turn_id is not None:
            self.deadline = give_up_at

    def release(self) -> list[Release]:
        """No new words came: the held turn still answers the caller."""
        turn_id, self._turn_id, self.deadline = self._turn_id, None, NO_DEADLINE
        return [] if turn_id is None else [Release(turn_id)]

    def dropped(self) -> None:
        """The held turn was cut (new words) or ended: nothing is held any more."""
        self._turn_id, self.deadline = None, NO_DEADLINE
