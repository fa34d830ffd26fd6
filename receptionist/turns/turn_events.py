"""What goes in and out of ``TurnTaking``: the events it is fed besides the Listener's and
TwilioIO's messages, and the actions it asks the Dialogue to carry out. I/O-free."""

from __future__ import annotations

from dataclasses import dataclass

from receptionist.messages import (
    MarkPlayed,
    SpeechPaused,
    SpeechResumed,
    SpeechStarted,
    SpeechStopped,
    Transcript,
)


@dataclass(frozen=True, slots=True)
class Tick:
    """Nothing arrived before ``deadline``."""


@dataclass(frozen=True, slots=True)
class CutOff:
    """Barge-in: stop turn ``turn_id`` (cancel its scopes, clear Twilio)."""

    turn_id: int
    heard: tuple[str, ...]
    """The sentences whose audio played before the cut, in order."""
    unheard: tuple[str, ...]
    """The sentences written but not (wholly) heard."""
    continued: str | None = None
    """The caller's words the turn answered, when the caller went on speaking before hearing
    any of it: their turn was not over, and the words will come again, joined with the rest."""


@dataclass(frozen=True, slots=True)
class CallerTurn:
    """The caller's turn is over: answer ``text`` (its finals joined)."""

    text: str
    last: Transcript
    """Its last final transcript, for the reply's timings."""


@dataclass(frozen=True, slots=True)
class Anticipate:
    """The caller paused after ``text``: the reply may be started on it (a guess)."""

    text: str


@dataclass(frozen=True, slots=True)
class Withdraw:
    """The last ``Anticipate`` no longer holds: the caller went on."""


@dataclass(frozen=True, slots=True)
class Resume:
    """The barge-in was a false alarm: carry on with the cut turn."""

    cut: CutOff
    said: str
    """The backchannel that cut it ("mm-hm"), or "" for noise."""


@dataclass(frozen=True, slots=True)
class Hold:
    """The caller went on before hearing any of turn ``turn_id``: keep it (its writing, its
    audio) but let none of it reach them until ``Release``; a ``CutOff`` drops it instead."""

    turn_id: int


@dataclass(frozen=True, slots=True)
class Release:
    """The held turn still answers the caller (what they went on with brought no words):
    let it play."""

    turn_id: int


@dataclass(frozen=True, slots=True)
class TurnPlayed:
    """The agent turn's last sentence has played: the caller has the floor."""

    turn_id: int


TurnEvent = (
    SpeechStarted | SpeechPaused | SpeechResumed | SpeechStopped | Transcript | MarkPlayed | Tick
)
Action = CutOff | CallerTurn | Resume | TurnPlayed | Anticipate | Withdraw | Hold | Release
