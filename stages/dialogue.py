"""Dialogue: the actor that holds the conversation of one call.

It owns turn-taking: agent turns of sentences for the Synthesizer, barge-in (the caller
speaks over a turn), reprompts (the caller stays silent after a turn) and ending the call
once the last words have played. What to say comes from one of two brains, chosen by
``engines.dialogue``: the I/O-free ``Receptionist`` ("offline"), whose actions are carried
out here, or the streaming LLM ("openai", ``receptionist.llm.turn.LlmBrain``), whose turns
are written sentence by sentence while the model streams.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from datetime import datetime

import structlog
import trio

from receptionist import conversation as offline
from receptionist.config import Config
from receptionist.errors import ConfigError
from receptionist.llm.client import LlmClient
from receptionist.llm.turn import AgentTurn, Brain, LlmBrain
from receptionist.messages import (
    CallStarted,
    CallStopped,
    ClearAudio,
    DtmfPressed,
    EndCall,
    EndReason,
    Expectation,
    ListenFor,
    MarkPlayed,
    SchedulerReply,
    SchedulerRequest,
    Sentence,
    SpeechStarted,
    SpeechStopped,
    Transcript,
)
from receptionist.turns import TurnCancellation

log = structlog.get_logger()

DialogueEvent = (
    CallStarted | MarkPlayed | DtmfPressed | CallStopped | SpeechStarted | SpeechStopped
    | Transcript | SchedulerReply
)
"""Everything the Dialogue receives: TwilioIO, Listener and Scheduler messages, fanned in."""

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
NO_DEADLINE = math.inf


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
            dialogue = _Dialogue(sentences, to_twilio, hints, scheduler, config=config,
                                 turns=turns)
            dialogue.brain = _brain(dialogue, config, llm, nursery, now)
            task_status.started()
            try:
                await dialogue.serve(events)
            finally:
                dialogue.brain.close()
                nursery.cancel_scope.cancel()


def _brain(
    dialogue: _Dialogue, config: Config, llm: LlmClient | None, nursery: trio.Nursery,
    now: Callable[[], datetime],
) -> Brain:
    if config.engines.dialogue != "openai":
        return _OfflineBrain(dialogue, offline.Receptionist(config), now)
    if llm is None:
        raise ConfigError("engines.dialogue = 'openai' needs an LLM client (build_llm)")
    return LlmBrain(dialogue, llm, config=config, nursery=nursery, now=now)


class _Dialogue:
    """Turn-taking for one call; offers ``DialoguePort`` to its brain."""

    brain: Brain

    def __init__(
        self, sentences: trio.MemorySendChannel[Sentence],
        to_twilio: trio.MemorySendChannel[ClearAudio | EndCall],
        hints: trio.MemorySendChannel[ListenFor],
        scheduler: trio.MemorySendChannel[SchedulerRequest], *, config: Config,
        turns: TurnCancellation,
    ) -> None:
        self._sentences, self._to_twilio = sentences, to_twilio
        self._hints, self._scheduler = hints, scheduler
        self._reprompt_after = config.dialogue.reprompt_after_s
        self.turns = turns
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
    ) -> DialogueEvent | None:
        """The next message, or None once the caller has been silent too long."""
        with trio.move_on_at(self._silence_deadline):
            return await events.receive()
        self._silence_deadline = NO_DEADLINE
        return None

    async def _on_message(self, message: DialogueEvent) -> None:
        match message:
            case CallStarted(caller=caller):
                await self.brain.call_began(caller)
            case Transcript(is_final=True):
                await self._on_transcript(message)
            case Transcript():  # an interim transcript: the caller is still talking
                self._silence_deadline = NO_DEADLINE
            case SpeechStarted():
                self._silence_deadline = NO_DEADLINE
                await self.interrupt()
            case SpeechStopped():
                self._wait_for_caller()
            case MarkPlayed(name=name):
                await self._on_mark(name)
            case DtmfPressed(digit=digit):
                await self.brain.caller_keyed(digit)
                self._wait_for_caller()
            case CallStopped():
                pass  # serve() returns on it first
            case _:
                await self.brain.scheduler_answered(message)

    async def _on_transcript(self, transcript: Transcript) -> None:
        self._silence_deadline = NO_DEADLINE
        if not transcript.text.strip():
            self._wait_for_caller()
            return
        log.info("dialogue.heard", text=transcript.text, confidence=transcript.confidence)
        self._heard = transcript
        await self.brain.caller_said(transcript.text)

    async def _on_mark(self, name: str) -> None:
        if self._playing is None or name != self._playing.last_mark:
            return  # a mark of an earlier sentence, or of a turn cut off by barge-in
        self._turn_over()
        if self._ending is not None:
            await self._to_twilio.send(self._ending)

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
        """Barge-in: stop the turn being written or played, everywhere, and clear Twilio."""
        turn = self._playing
        if turn is None or not turn.interruptible:
            return
        self._playing = None
        self.turns.cancel_through(turn.turn_id)
        await self._to_twilio.send(ClearAudio(turn.turn_id, at=trio.current_time()))
        log.info("dialogue.barge_in", turn_id=turn.turn_id)

    def begin_turn(self, expect: Expectation, *, interruptible: bool = True) -> int:
        """Start an agent turn; its sentences follow with ``say``."""
        self._last_turn_id += 1
        self._playing = AgentTurn(self._last_turn_id, interruptible, self._heard)
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
            await self._sentences.send(sentence)
        elif last:
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
        log.info("dialogue.said", turn_id=turn_id, text=text,
                 caller_text=heard.text if heard else "", expect=expect.value)
        with self.turns.scope(turn_id):
            for index, sentence in enumerate(texts):
                await self.say(turn_id, sentence, last=index == len(texts) - 1)

    async def end_after_turn(self, end: EndCall) -> None:
        """End the call once the caller has heard the turn being played (now if none is)."""
        self._ending, self._silence_deadline = end, NO_DEADLINE
        if self._playing is None:
            await self._to_twilio.send(end)
        else:
            self._playing.interruptible = False  # the last words are not cut short

    async def ask_scheduler(self, request: SchedulerRequest) -> None:
        await self._scheduler.send(request)

    def _send_hint(self, expect: Expectation) -> None:
        try:
            self._hints.send_nowait(ListenFor(expect))
        except trio.WouldBlock:
            log.warning("dialogue.hint_dropped", expect=expect.value)


class _OfflineBrain:
    """The I/O-free ``Receptionist``: call events in, its actions carried out."""

    def __init__(
        self, port: _Dialogue, receptionist: offline.Receptionist, now: Callable[[], datetime]
    ) -> None:
        self._port, self._receptionist, self._now = port, receptionist, now

    async def call_began(self, caller: str | None) -> None:
        await self._handle(offline.CallBegan(caller, self._now()))

    async def caller_said(self, text: str) -> None:
        await self._handle(offline.CallerSaid(text, self._now()))

    async def caller_keyed(self, digit: str) -> None:
        await self._handle(offline.CallerKeyed(digit, self._now()))

    async def caller_silent(self) -> None:
        await self._handle(offline.CallerSilent(self._now()))

    async def scheduler_answered(self, reply: SchedulerReply) -> None:
        await self._handle(offline.SchedulerAnswered(reply))

    def close(self) -> None:
        pass

    async def _handle(self, event: offline.Event) -> None:
        for action in self._receptionist.handle(event):
            match action:
                case offline.Speak(text=text, expect=expect, end_of_call=end_of_call):
                    await self._port.speak(text, expect, end_of_call=end_of_call)
                case offline.AskScheduler(request=request):
                    await self._port.ask_scheduler(request)
                case offline.Hangup():
                    await self._port.end_after_turn(EndCall(EndReason.COMPLETED))
                case offline.TransferCall(number=number):
                    end = EndCall(EndReason.TRANSFER, transfer_to=number)
                    await self._port.end_after_turn(end)


def split_sentences(text: str) -> list[str]:
    """Sentences for the Synthesizer, so the first is spoken while the rest are made."""
    return [sentence for sentence in _SENTENCE_END.split(text.strip()) if sentence]
