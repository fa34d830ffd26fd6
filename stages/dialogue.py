"""Dialogue: the actor that holds the conversation of one call.

It carries out turn-taking: agent turns of sentences for the Synthesizer, barge-in (the
caller speaks over a turn), the end of the caller's turn, reprompts (the caller stays silent
after a turn) and ending the call once the last words have played. The decisions are made
by the I/O-free ``receptionist.turns.turn_taking.TurnTaking``; this module is the actor's
loop, and ``receptionist.turns.floor.AgentFloor`` carries the decisions out. What to say comes
from one of two brains (``receptionist.turns.brain.Brain``), chosen by ``engines.dialogue``:
the I/O-free ``Receptionist`` ("offline", through ``receptionist.offline.brain``), or the
streaming LLM ("openai", ``receptionist.llm.brain.LlmBrain``), whose turns are written
sentence by sentence while the model streams.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Never

import structlog
import trio

from receptionist.config import Config
from receptionist.errors import ConfigError
from receptionist.llm.brain import LlmBrain
from receptionist.llm.client import LlmClient
from receptionist.messages import (
    CallerSettled,
    CallStarted,
    CallStopped,
    ClearAudio,
    DtmfPressed,
    EndCall,
    ListenFor,
    MarkPlayed,
    Sentence,
    SpeechPaused,
    SpeechResumed,
    SpeechStarted,
    SpeechStopped,
    Transcript,
)
from receptionist.offline import conversation as offline
from receptionist.offline.brain import OfflineBrain
from receptionist.scheduling.messages import SchedulerReply, SchedulerRequest
from receptionist.turns.brain import Brain
from receptionist.turns.cancellation import TurnCancellation
from receptionist.turns.floor import NO_DEADLINE, AgentFloor
from receptionist.turns.lexicon import is_farewell
from receptionist.turns.turn_events import (
    Action,
    Anticipate,
    CallerTurn,
    CutOff,
    Hold,
    Release,
    Resume,
    Tick,
    TurnPlayed,
    Withdraw,
)

log = structlog.get_logger()

DialogueEvent = (
    CallStarted
    | MarkPlayed
    | DtmfPressed
    | CallStopped
    | SpeechStarted
    | SpeechPaused
    | SpeechResumed
    | SpeechStopped
    | Transcript
    | CallerSettled
    | SchedulerReply
)
"""Everything the Dialogue receives: TwilioIO, Listener and Scheduler messages, fanned in."""

__all__ = ["DialogueEvent", "run_dialogue"]

DRAIN_TIMEOUT_S = 5.0
"""Longest a finished call waits for the Scheduler and Listener to put their pens down."""


async def run_dialogue(
    events: trio.MemoryReceiveChannel[DialogueEvent],
    sentences: trio.MemorySendChannel[Sentence],
    to_twilio: trio.MemorySendChannel[ClearAudio | EndCall],
    hints: trio.MemorySendChannel[ListenFor],
    scheduler: trio.MemorySendChannel[SchedulerRequest],
    *,
    config: Config,
    turns: TurnCancellation,
    now: Callable[[], datetime],
    llm: LlmClient | None = None,
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Hold the conversation until the call stops.

    Args:
        events: call events, transcripts and Scheduler replies, fanned in.
        sentences: each agent turn's sentences, to the Synthesizer.
        to_twilio: ClearAudio on barge-in; EndCall once the goodbye (or the "putting you
            through" line) has played.
        hints: what the caller is expected to say next, to the Listener.
        scheduler: requests to the Scheduler; replies come back on ``events``.
        now: the clinic's wall clock (aware datetime), for "tomorrow" and "next tuesday".
        llm: the model client, needed when ``config.engines.dialogue == "openai"``.

    Resource handling:
        Closes every channel end it was given on exit. The work of a turn (its sentences;
        with the LLM, the stream and tool calls, in a task of an inner nursery that is
        cancelled on exit) runs under that turn's scope in ``turns``. Hints are advisory:
        when the Listener is not keeping up, a hint is dropped rather than stall the call.

    Error handling:
        Returns on CallStopped or when ``events`` closes. The LLM's failures are spoken as
        a fallback line by the agent; everything else propagates to the call's boundary.
    """
    with events, sentences, to_twilio, hints, scheduler:
        async with trio.open_nursery() as nursery:
            floor = AgentFloor(sentences, to_twilio, hints, scheduler, config=config, turns=turns)
            floor.brain = _brain(floor, config, llm, nursery, now)
            task_status.started()
            try:
                await _Dialogue(floor).serve(events)
            finally:
                floor.brain.close()
                nursery.cancel_scope.cancel()
        await _drain_after_the_call(events, (sentences, to_twilio, hints, scheduler))


async def _drain_after_the_call(
    events: trio.MemoryReceiveChannel[DialogueEvent],
    outputs: tuple[trio.MemorySendChannel[Never], ...],
) -> None:
    """Close what we send on, then read our inbox until every sender has closed its end.

    The Scheduler may still be answering and the Listener still decoding when the caller
    hangs up; a send into a closed inbox would turn a normal hang-up into a crash.
    """
    for channel in outputs:
        channel.close()
    with trio.move_on_after(DRAIN_TIMEOUT_S):
        async for late in events:
            log.debug("dialogue.after_call", kind=type(late).__name__)


def _brain(
    floor: AgentFloor,
    config: Config,
    llm: LlmClient | None,
    nursery: trio.Nursery,
    now: Callable[[], datetime],
) -> Brain:
    if config.engines.dialogue != "openai":
        return OfflineBrain(floor, offline.Receptionist(config), now)
    if llm is None:
        raise ConfigError("engines.dialogue = 'openai' needs an LLM client (build_llm)")
    return LlmBrain(floor, llm, config=config, nursery=nursery, now=now)


class _Dialogue:
    """The actor's loop: call events in, turn-taking's actions carried out by ``floor``."""

    def __init__(self, floor: AgentFloor) -> None:
        self.floor = floor
        self.brain = floor.brain

    async def serve(self, events: trio.MemoryReceiveChannel[DialogueEvent]) -> None:
        try:
            while True:
                message = await self._receive(events)
                if message is None:
                    await self.brain.caller_silent()
                elif isinstance(message, _HangUpDue):
                    await self.floor.ending_due()
                elif isinstance(message, CallStopped):
                    return
                else:
                    await self._on_message(message)
        except trio.EndOfChannel:
            return

    async def _receive(
        self, events: trio.MemoryReceiveChannel[DialogueEvent]
    ) -> DialogueEvent | Tick | _HangUpDue | None:
        """The next message; Tick when turn-taking's deadline passed; HANG_UP_DUE when the
        ending's; None once the caller has been silent too long."""
        floor = self.floor
        deadline = min(floor.silence_deadline, floor.taking.deadline, floor.ending_deadline)
        with trio.move_on_at(deadline):
            return await events.receive()
        if floor.taking.deadline <= trio.current_time():
            return Tick()
        if floor.ending_deadline <= trio.current_time():
            return HANG_UP_DUE
        floor.silence_deadline = NO_DEADLINE
        return None

    async def _on_message(self, message: DialogueEvent | Tick) -> None:
        match message:
            case CallStarted():
                await self.brain.call_began(message)
            case (
                SpeechStarted() | SpeechPaused() | SpeechResumed() | SpeechStopped()
                | Transcript() | MarkPlayed() | Tick()
            ):  # fmt: skip
                self.floor.track_silence(message)
                self.floor.taking.agent_audible(self.floor.turns.audible_through)
                for action in self.floor.taking.handle(message, trio.current_time()):
                    await self._carry_out(action, message)
            case CallerSettled():
                self.floor.caller_settled()
            case DtmfPressed(digit=digit):
                await self.brain.caller_keyed(digit)
                self.floor.wait_for_caller()
            case CallStopped():
                pass  # serve() returns on it first
            case _:
                await self.brain.scheduler_answered(message)

    async def _carry_out(self, action: Action, cause: object) -> None:
        match action:
            case CutOff():
                await self.floor.cut_off(action)
                if isinstance(cause, SpeechStarted):
                    log.info("dialogue.barge_in_reaction", ms=_ms_since(cause.at))
            case CallerTurn(text=text, last=last):
                log.info("dialogue.heard", text=text, confidence=last.confidence)
                if self.floor.is_farewell_time():
                    if is_farewell(text):
                        return  # "Bye!" over the goodbye: the line closes after their silence
                    self.floor.reopen()
                self.floor.caller_turn_ended(last, text)
                await self.brain.caller_said(text, last.confidence)
            case Resume(cut=cut, said=said):
                log.info("dialogue.resume", turn_id=cut.turn_id, said=said)
                await self.brain.resume(cut, said)
            case TurnPlayed():
                await self.floor.turn_played()
            case Anticipate(text=text):
                log.info("dialogue.anticipate", text=text)
                self.brain.anticipate(text)
            case Withdraw():
                self.brain.withdraw()
            case Hold(turn_id=turn_id):
                self.floor.hold(turn_id)
            case Release(turn_id=turn_id):
                self.floor.release(turn_id)


class _HangUpDue:
    """The ending's deadline passed (``AgentFloor.ending_due``)."""


HANG_UP_DUE = _HangUpDue()


def _ms_since(at: float) -> float:
    return round((trio.current_time() - at) * 1000, 1)
