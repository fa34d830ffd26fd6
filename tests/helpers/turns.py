"""Turn-taking driven synchronously: its config and the events a call feeds it."""

from __future__ import annotations

from receptionist.config import TurnTakingConfig
from receptionist.messages import (
    MarkPlayed,
    Sentence,
    Transcript,
    TurnTimings,
)
from receptionist.turns.turn_taking import TurnTaking

CONFIG = TurnTakingConfig(unfinished_wait_ms=1500, false_barge_in_ms=800, complete_wait_step_ms=250)
"""With a wait that grows when the caller goes on (off by default), so that its rules show."""


GREETING = ("Thank you for calling.", "I can book an appointment.", "How can I help?")


def final(text: str, at: float = 10.0) -> Transcript:
    return Transcript(text, True, speech_ended_at=at - 0.7, at=at)


def speaking(*texts: str, turn_id: int = 1, interruptible: bool = True) -> TurnTaking:
    """The agent has begun turn ``turn_id`` and sent ``texts`` for synthesis."""
    taking = TurnTaking(CONFIG)
    taking.agent_began(turn_id, interruptible=interruptible)
    for index, text in enumerate(texts):
        taking.agent_sent(Sentence(turn_id, index, text, index == len(texts) - 1, TurnTimings()))
    return taking


def mark(turn_id: int, index: int) -> MarkPlayed:
    return MarkPlayed(f"turn{turn_id}-s{index}", 0.0)


def interim(text: str, at: float = 9.0) -> Transcript:
    return Transcript(text, False, None, at)


def listening() -> TurnTaking:
    return TurnTaking(CONFIG)
