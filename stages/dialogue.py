"""Dialogue: the actor that holds the conversation of one call.

It carries out turn-taking: agent turns of sentences for the Synthesizer, barge-in (the
caller speaks over a turn), the end of the caller's turn, reprompts (the caller stays silent
after a turn) and ending the call once the last words have played. The decisions are made
by the I/O-free ``receptionist.turn_taking.TurnTaking``. What to say comes from one of two
brains, chosen by ``engines.dialogue``: the I/O-free ``Receptionist`` ("offline", through
``receptionist.offline.brain``), or the streaming LLM ("openai",
``receptionist.llm.turn.LlmBrain``), whose turns are written sentence by sentence while the
model streams.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from typing import Never

import structlog
import trio

from receptionist.config import Config
from receptionist.errors import ConfigError
from receptionist.llm.brain import AgentTurn, Brain, LlmBrain
from receptionist.llm.client import LlmClient
from receptionist.messages import (
    CallStarted,
    CallStopped,
    ClearAudio,
    DialogueEvent,
    DtmfPressed,
    EndCall,
    Expectation,
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
from receptionist.scheduling.messages import SchedulerRequest
from receptionist.turns.cancellation import TurnCancellation
from receptionist.turns.turn_taking import (
    Action,
    Anticipate,
    CallerTurn,
    CutOff,
    Resume,
    Tick,
    TurnEvent,
    TurnPlayed,
    TurnTaking,
    Withdraw,
    split_sentences,
)

log = structlog.get_logger()

__all__ = ["DialogueEvent", "run_dialogue", "split_sentences"]

NO_DEADLINE = math.inf
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
            dialogue = _Dialogue(sentences, to_twilio, hints, scheduler, config=config, turns=turns)
            dialogue.brain = _brain(dialogue, config, llm, nursery, now)
            task_status.started()
            try:
                await dialogue.serve(events)
            finally:
                dialogue.brain.close()
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
    dialogue: _Dialogue,
    config: Config,
    llm: LlmClient | None,
    nursery: trio.Nursery,
    now: Callable[[], datetime],
) -> Brain:
    if config.engines.dialogue != "openai":
        return OfflineBrain(dialogue, offline.Receptionist(config), now)
    if llm is None:
        raise ConfigError("engines.dialogue = 'openai' needs an LLM client (build_llm)")
    return LlmBrain(dialogue, llm, config=config, nursery=nursery, now=now)


class _Dialogue:
    """Turn-taking for one call; offers ``DialoguePort`` to its brain."""

    brain: Brain

    def __init__(
        self,
        sentences: trio.MemorySendChannel[Sentence],
        to_twilio: trio.MemorySendChannel[ClearAudio | EndCall],
        hints: trio.MemorySendChannel[ListenFor],
        scheduler: trio.MemorySendChannel[SchedulerRequest],
        *,
        config: Config,
        turns: TurnCancellation,
    ) -> None:
        self._sentences, self._to_twilio = sentences, to_twilio
        self._hints, self._scheduler = hints, scheduler
        self._reprompt_after = config.dialogue.reprompt_after_s
        self.turns = turns
        self._taking = TurnTaking(config.turn_taking)
        self._last_turn_id = 0
        self._playing: AgentTurn | None = None
        self._heard: Transcript | None = None
        """The caller's last words, until a turn answers them (for the turn's timings)."""
        self._ending: EndCall | None = None
        """Set once the conversation is over; sent when its last turn has played."""
        self._silence_deadline = NO_DEADLINE

    async def serve(self, events: trio.MemoryReceiveChannel[DialogueEvent]) -> None:
        try:
            while True:
                message = await self._receive(events)
                if message is None:
                    await self.brain.caller_silent()
                elif isinstance(message, CallStopped):
                    return
                else:
                    await self._on_message(message)
        except trio.EndOfChannel:
            return

    async def _receive(
        self, events: trio.MemoryReceiveChannel[DialogueEvent]
    ) -> DialogueEvent | Tick | None:
        """The next message; Tick when turn-taking's deadline passed; None once the caller
        has been silent too long."""
        with trio.move_on_at(min(self._silence_deadline, self._taking.deadline)):
            return await events.receive()
        if self._taking.deadline <= trio.current_time():
            return Tick()
        self._silence_deadline = NO_DEADLINE
        return None

    async def _on_message(self, message: DialogueEvent | Tick) -> None:
        match message:
            case CallStarted(caller=caller):
                await self.brain.call_began(caller)
            case (
                SpeechStarted() | SpeechPaused() | SpeechResumed() | SpeechStopped()
                | Transcript() | MarkPlayed() | Tick()
            ):  # fmt: skip
                self._track_silence(message)
                for action in self._taking.handle(message, trio.current_time()):
                    await self._carry_out(action, message)
            case DtmfPressed(digit=digit):
                await self.brain.caller_keyed(digit)
                self._wait_for_caller()
            case CallStopped():
                pass  # serve() returns on it first
            case _:
                await self.brain.scheduler_answered(message)

    def _track_silence(self, message: TurnEvent) -> None:
        match message:
            case SpeechStarted() | Transcript(is_final=False):
                self._silence_deadline = NO_DEADLINE  # the caller is talking
            case SpeechStopped() | Transcript(is_final=True):
                self._wait_for_caller()

    async def _carry_out(self, action: Action, cause: object) -> None:
        match action:
            case CutOff():
                await self._cut_off(action)
                if isinstance(cause, SpeechStarted):
                    log.info("dialogue.barge_in_reaction", ms=_ms_since(cause.at))
            case CallerTurn(text=text, last=last):
                log.info("dialogue.heard", text=text, confidence=last.confidence)
                self._heard = replace(last, text=text)
                await self.brain.caller_said(text)
            case Resume(cut=cut, said=said):
                log.info("dialogue.resume", turn_id=cut.turn_id, said=said)
                await self.brain.resume(cut, said)
            case TurnPlayed():
                self._turn_over()
                if self._ending is not None:
                    await self._to_twilio.send(self._ending)
            case Anticipate(text=text):
                log.info("dialogue.anticipate", text=text)
                self.brain.anticipate(text)
            case Withdraw():
                self.brain.withdraw()

    async def _cut_off(self, cut: CutOff) -> None:
        self._playing = None
        self.turns.cancel_through(cut.turn_id)
        await self._to_twilio.send(ClearAudio(cut.turn_id, at=trio.current_time()))
        self.brain.cut_off(cut)
        log.info("dialogue.barge_in", turn_id=cut.turn_id, heard=" ".join(cut.heard),
                 unheard=" ".join(cut.unheard))  # fmt: skip

    def _turn_over(self) -> None:
        self._playing = None
        self._wait_for_caller()

    def _wait_for_caller(self) -> None:
        """Start the silence clock, unless the agent is still talking or the call is over."""
        if self._playing is None and self._ending is None:
            self._silence_deadline = trio.current_time() + self._reprompt_after

    # --- DialoguePort: what the brains use ------------------------------------------------

    @property
    def ending(self) -> bool:
        return self._ending is not None

    async def interrupt(self) -> None:
        """Stop the turn being written or played, everywhere, and clear Twilio."""
        cut = self._taking.cut()
        if cut is not None:
            await self._cut_off(cut)

    def begin_turn(self, expect: Expectation, *, interruptible: bool = True) -> int:
        """Start an agent turn; its sentences follow with ``say``."""
        self._last_turn_id += 1
        self._playing = AgentTurn(self._last_turn_id, self._heard)
        self._taking.agent_began(self._last_turn_id, interruptible=interruptible)
        self._heard, self._silence_deadline = None, NO_DEADLINE
        self._send_hint(expect)
        return self._last_turn_id

    async def say(
        self, turn_id: int, text: str, last: bool, first_output: float | None = None
    ) -> None:
        """Send one sentence of turn ``turn_id`` ("" with ``last`` closes it); ``first_output``
        is when the brain's first output (the LLM's first token) appeared, if not now."""
        turn = self._playing
        if turn is None or turn.turn_id != turn_id:
            return  # cut off by barge-in
        sentence = turn.next_sentence(text, last, first_output, now=trio.current_time())
        if sentence is not None:
            self._taking.agent_sent(sentence)
            await self._sentences.send(sentence)
        elif last:
            self._taking.agent_done()
            self._turn_over()  # nothing to say after all

    async def speak(
        self, text: str, expect: Expectation = Expectation.OPEN, *, end_of_call: bool = False
    ) -> None:
        """Say a whole turn at once."""
        texts = split_sentences(text)
        if not texts:
            return
        # The goodbye is not cut short: the call ends when it has played.
        turn_id = self.begin_turn(expect, interruptible=not end_of_call)
        heard = self._playing.heard if self._playing else None
        log.info(
            "dialogue.said",
            turn_id=turn_id,
            text=text,
            caller_text=heard.text if heard else "",
            expect=expect.value,
        )
        with self.turns.scope(turn_id):
            for index, sentence in enumerate(texts):
                await self.say(turn_id, sentence, last=index == len(texts) - 1)

    async def end_after_turn(self, end: EndCall) -> None:
        """End the call once the caller has heard the turn being played (now if none is)."""
        self._ending, self._silence_deadline = end, NO_DEADLINE
        if self._playing is None:
            await self._to_twilio.send(end)
        else:
            self._taking.agent_not_interruptible()  # the last words are not cut short

    async def ask_scheduler(self, request: SchedulerRequest) -> None:
        await self._scheduler.send(request)

    def _send_hint(self, expect: Expectation) -> None:
        try:
            self._hints.send_nowait(ListenFor(expect))
        except trio.WouldBlock:
            log.warning("dialogue.hint_dropped", expect=expect.value)


def _ms_since(at: float) -> float:
    return round((trio.current_time() - at) * 1000, 1)
