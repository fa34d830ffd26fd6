"""Agent turns written sentence by sentence, and the LLM brain of the Dialogue actor.

``stages/dialogue.py`` owns turn-taking (barge-in, marks, silence, ending the call) and
offers it to its ``Brain`` through ``DialoguePort``; an ``AgentTurn`` numbers and times the
sentences of one turn as they come. ``LlmBrain`` answers each caller turn with
``LlmAgent.reply`` in a task of the Dialogue's nursery, under the turn's cancel scope, so a
barge-in (``turns.cancel_through``) stops the model's stream at once. Scheduler round trips
go out through the port and their replies come back through ``scheduler_answered``.

History after a barge-in: the tasks that touch the agent's history run one after another
(each waits for the previous one's ``idle`` event), and a cut-off queues one more that keeps
only what the caller heard, marked "[interrupted]" (``LlmAgent.keep_heard``), once the cut
reply has recorded what it did. A resumed turn (false barge-in) asks the model to go on.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

import structlog
import trio

from receptionist.config import Config
from receptionist.llm.agent import LlmAgent, Reply
from receptionist.llm.client import LlmClient
from receptionist.llm.speculation import Speculation, same_words
from receptionist.messages import EndCall, EndReason, Expectation, Sentence, Transcript, TurnTimings
from receptionist.scheduling.messages import (
    BookingRejected,
    RejectReason,
    SchedulerReply,
    SchedulerRequest,
)
from receptionist.turns.cancellation import TurnCancellation
from receptionist.turns.turn_taking import CutOff, split_sentences

log = structlog.get_logger()

REPROMPT = "Are you still there?"
GIVE_UP = "I haven't heard anything, so I'll end the call now. Goodbye!"


class Brain(Protocol):
    """What decides what to say: the offline ``Receptionist`` or ``LlmBrain``."""

    async def call_began(self, caller: str | None) -> None: ...
    async def caller_said(self, text: str) -> None: ...
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


@dataclass(slots=True)
class AgentTurn:
    """The agent turn being written or played to the caller."""

    turn_id: int
    heard: Transcript | None
    """What the caller said that this turn answers, for its timings and log."""
    sent: int = 0
    timings: TurnTimings | None = None

    def next_sentence(
        self, text: str, last: bool, first_output: float | None, *, now: float
    ) -> Sentence | None:
        """The turn's next Sentence; None when there is nothing to send.

        A streamed turn learns it is over only after its last sentence may have gone:
        then ``last`` comes with "" and closes the turn with an empty sentence.
        """
        if not text and not (last and self.sent):
            return None
        if self.timings is None:
            heard = self.heard
            self.timings = TurnTimings(
                speech_ended=heard.speech_ended_at if heard else None,
                transcript_final=heard.at if heard else None,
                first_output=now if first_output is None else first_output,
                first_sentence=now,
            )
        caller_text = self.heard.text if self.heard else ""
        self.sent += 1
        return Sentence(self.turn_id, self.sent - 1, text, last, self.timings, caller_text)


class DialoguePort(Protocol):
    """What the Dialogue actor offers its brain."""

    @property
    def turns(self) -> TurnCancellation: ...

    @property
    def ending(self) -> bool: ...

    def begin_turn(self, expect: Expectation, *, interruptible: bool = True) -> int: ...

    async def say(
        self, turn_id: int, text: str, last: bool, first_output: float | None = None
    ) -> None: ...

    async def speak(
        self, text: str, expect: Expectation = Expectation.OPEN, *, end_of_call: bool = False
    ) -> None: ...

    async def interrupt(self) -> None: ...

    async def end_after_turn(self, end: EndCall) -> None: ...

    async def ask_scheduler(self, request: SchedulerRequest) -> None: ...


class PendingReplies:
    """Scheduler round trips in flight, matched to replies by ``request_id``."""

    def __init__(self, send: Callable[[SchedulerRequest], Awaitable[None]]) -> None:
        self._send = send
        self._waiting: dict[int, _Waiter] = {}
        self._closed = False

    async def ask(self, request: SchedulerRequest) -> SchedulerReply:
        """Send ``request`` and wait for its reply (the caller owns the time box)."""
        waiter = self._waiting[request.request_id] = _Waiter()
        try:
            if not self._closed:
                await self._send(request)
                await waiter.arrived.wait()
        finally:
            del self._waiting[request.request_id]
        if waiter.reply is None:  # the call ended first
            return BookingRejected(request.request_id, RejectReason.STORE_UNAVAILABLE, "call over")
        return waiter.reply

    def deliver(self, reply: SchedulerReply) -> None:
        waiter = self._waiting.get(reply.request_id)
        if waiter is None:
            log.warning("dialogue.stale_reply", request_id=reply.request_id)
            return
        waiter.reply = reply
        waiter.arrived.set()

    def close(self) -> None:
        """The call is over: wake every waiter, so no shielded wait outlives it."""
        self._closed = True
        for waiter in self._waiting.values():
            waiter.arrived.set()


class _Waiter:
    __slots__ = ("arrived", "reply")

    def __init__(self) -> None:
        self.arrived = trio.Event()
        self.reply: SchedulerReply | None = None


class LlmBrain:
    """One call's conversation with the model, driven by the Dialogue actor."""

    def __init__(
        self,
        port: DialoguePort,
        client: LlmClient,
        *,
        config: Config,
        nursery: trio.Nursery,
        now: Callable[[], datetime],
    ) -> None:
        self._port, self._client, self._config = port, client, config
        self._nursery, self._now = nursery, now
        self._replies = PendingReplies(port.ask_scheduler)
        self._agent = self._new_agent(caller=None)
        self._idle = trio.Event()
        """Set once the latest reply task is over, history written: the next one waits."""
        self._idle.set()
        self._silences = 0
        self._speculation: Speculation | None = None

    def _new_agent(self, caller: str | None) -> LlmAgent:
        return LlmAgent(
            self._client, self._config, call_tool=self._replies.ask, now=self._now, caller=caller
        )

    async def call_began(self, caller: str | None) -> None:
        self._agent = self._new_agent(caller)
        await self._say_fixed(self._config.clinic.greeting)

    async def caller_said(self, text: str) -> None:
        speculation, self._speculation = self._speculation, None
        if self._port.ending:
            if speculation is not None:
                speculation.cancel()
            return  # the goodbye is playing; the call ends after it
        self._silences = 0
        await self._port.interrupt()  # a reply still being written answers old words
        self._start_reply(text, self._adoptable(speculation, text))

    def _adoptable(self, speculation: Speculation | None, text: str) -> Speculation | None:
        """``speculation`` if it was started on ``text`` and on the history as it is now."""
        if speculation is None:
            return None
        keep = (
            not speculation.failed
            and same_words(speculation.text, text)
            and speculation.revision == self._agent.revision
            and self._idle.is_set()
        )
        started = round((trio.current_time() - speculation.started_at) * 1000, 1)
        log.info("dialogue.preemptive", kept=keep, guessed=speculation.text,
                 started_ms_before=started)  # fmt: skip
        if not keep:
            speculation.cancel()
        return speculation if keep else None

    def anticipate(self, text: str) -> None:
        self.withdraw()
        if self._port.ending or not self._idle.is_set():
            return  # a reply is still being written or recorded: the history will change
        buffer = self._config.buffers.preemptive_tokens
        self._speculation = self._agent.speculate(text, buffer)
        self._nursery.start_soon(self._speculation.run)

    def withdraw(self) -> None:
        if self._speculation is not None:
            self._speculation.cancel()
            self._speculation = None

    def cut_off(self, cut: CutOff) -> None:
        self._then(self._agent.keep_heard, cut.turn_id, len(cut.heard))

    async def resume(self, cut: CutOff, said: str) -> None:
        if not self._port.ending:
            self._start_reply(said or None)  # the model sees "[interrupted]" and goes on

    def _start_reply(self, text: str | None, head_start: Speculation | None = None) -> None:
        self.withdraw()
        turn_id = self._port.begin_turn(Expectation.OPEN)
        previous, self._idle = self._idle, trio.Event()
        self._nursery.start_soon(self._reply, turn_id, text, previous, self._idle, head_start)

    def _then(self, edit: Callable[[int, int], None], turn_id: int, heard: int) -> None:
        """Edit the history once the tasks already queued are done with it."""
        previous, self._idle = self._idle, trio.Event()
        self._nursery.start_soon(self._edit, edit, turn_id, heard, previous, self._idle)

    async def _edit(
        self, edit: Callable[[int, int], None], turn_id: int, heard: int,
        previous: trio.Event, idle: trio.Event,
    ) -> None:  # fmt: skip
        try:
            await previous.wait()
            edit(turn_id, heard)
        finally:
            idle.set()

    async def caller_keyed(self, digit: str) -> None:
        log.info("dialogue.key_ignored", digit=digit)  # the model is given words only

    async def caller_silent(self) -> None:
        self._silences += 1
        if self._silences <= self._config.dialogue.max_reprompts:
            await self._say_fixed(REPROMPT)
            return
        await self._say_fixed(GIVE_UP, end_of_call=True)
        await self._port.end_after_turn(EndCall(EndReason.COMPLETED))

    async def scheduler_answered(self, reply: SchedulerReply) -> None:
        self._replies.deliver(reply)

    def close(self) -> None:
        self.withdraw()
        self._replies.close()

    async def _say_fixed(self, text: str, *, end_of_call: bool = False) -> None:
        sentences = split_sentences(text)
        # The goodbye is not cut short: the call ends when it has played.
        turn_id = self._port.begin_turn(Expectation.OPEN, interruptible=not end_of_call)
        self._agent.record_spoken(text, turn=turn_id)
        log.info("dialogue.said", turn_id=turn_id, text=text, caller_text="", expect="open")
        with self._port.turns.scope(turn_id):
            for index, sentence in enumerate(sentences):
                await self._port.say(turn_id, sentence, last=index == len(sentences) - 1)

    async def _reply(
        self, turn_id: int, text: str | None, previous: trio.Event, idle: trio.Event,
        head_start: Speculation | None,
    ) -> None:  # fmt: skip
        try:
            with self._port.turns.scope(turn_id):
                # An interrupted reply records its history first. Shielded: a reply cut
                # before it began still records the caller's words, so they are not lost.
                with trio.CancelScope(shield=True):
                    await previous.wait()
                reply = await self._answer(turn_id, text, head_start)
                if reply.end is not None:
                    await self._port.end_after_turn(reply.end)
        finally:
            if head_start is not None:
                head_start.cancel()  # cut before it began reading: the stream goes too
            idle.set()

    async def _answer(
        self, turn_id: int, text: str | None, head_start: Speculation | None
    ) -> Reply:
        said: list[str] = []

        async def say(sentence: str, last: bool) -> None:
            said.append(sentence)
            await self._port.say(turn_id, sentence, last, self._agent.first_token_at)

        reply = await self._agent.reply(text, say, turn=turn_id, head_start=head_start)
        log.info(
            "dialogue.said",
            turn_id=turn_id,
            text=" ".join(said).strip(),
            caller_text=text,
            fell_back=reply.fell_back,
            end=reply.end.reason.value if reply.end else None,
        )
        return reply
