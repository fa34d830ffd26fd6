"""What the Dialogue actor and its brains say to each other: ``Brain`` and ``DialoguePort``.

``stages/dialogue.py`` owns turn-taking (barge-in, marks, silence, ending the call) and tells
its brain what the caller did through ``Brain``; the brain decides what to say, and says it
through the ``DialoguePort`` the Dialogue offers it. The two brains are the offline
``receptionist.offline.brain.OfflineBrain`` and the ``receptionist.llm.brain.LlmBrain``;
neither knows of the other.
"""

from __future__ import annotations

from typing import Protocol

from receptionist.messages import CallStarted, EndCall, Expectation
from receptionist.scheduling.messages import SchedulerReply, SchedulerRequest
from receptionist.turns.cancellation import TurnCancellation
from receptionist.turns.turn_events import CutOff


class Brain(Protocol):
    """What decides what to say: ``OfflineBrain`` or ``LlmBrain``."""

    async def call_began(self, started: CallStarted) -> None:
        """The stream started: greet the caller (or, back after an unanswered transfer,
        ``started.parameters["resume"]``, apologise and take a message)."""

    async def caller_said(self, text: str, confidence: float | None = None) -> None:
        """The caller's turn, with the recogniser's confidence when it gives one."""

    async def caller_keyed(self, digit: str) -> None: ...
    async def caller_silent(self) -> None: ...
    async def scheduler_answered(self, reply: SchedulerReply) -> None: ...
    def cut_off(self, cut: CutOff) -> None:
        """The caller cut a turn off, having heard only ``cut.heard`` of it."""

    async def resume(self, cut: CutOff, said: str) -> None:
        """The cut was a false alarm (a backchannel ``said``, or noise): carry on."""

    def anticipate(self, text: str) -> None:
        """The caller paused after ``text``: start on a reply, to be kept if they said so."""

    def withdraw(self) -> None:
        """The caller went on: drop the reply started on the last ``anticipate``."""

    def close(self) -> None: ...


class DialoguePort(Protocol):
    """What the Dialogue actor offers its brain."""

    @property
    def turns(self) -> TurnCancellation: ...

    @property
    def ending(self) -> bool: ...

    def begin_turn(self, expect: Expectation, *, interruptible: bool = True) -> int:
        """Start an agent turn; its sentences follow with ``say``. Its id."""

    async def say(
        self, turn_id: int, text: str, last: bool, first_output: float | None = None
    ) -> None:
        """Send one sentence of turn ``turn_id`` ("" with ``last`` closes it)."""

    async def speak(
        self, text: str, expect: Expectation = Expectation.OPEN, *, end_of_call: bool = False
    ) -> int | None:
        """Say a whole turn at once: the turn's id (None when ``text`` has no words)."""

    async def interrupt(self) -> None:
        """Stop the turn being written or played, everywhere."""

    async def end_after_turn(self, end: EndCall) -> None:
        """End the call once the caller has heard the turn being played."""

    async def ask_scheduler(self, request: SchedulerRequest) -> None: ...

    async def settled(self) -> None:
        """Return once the caller's last turn has stayed over for the settle time (speech
        before then cuts the turn waiting here)."""
