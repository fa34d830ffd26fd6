"""Agent turns written sentence by sentence, and the LLM brain of the Dialogue actor.

``stages/dialogue.py`` owns turn-taking (barge-in, marks, silence, ending the call) and
offers it to its ``Brain`` through ``DialoguePort``; an ``AgentTurn`` numbers and times the
sentences of one turn as they come. ``LlmBrain`` answers each caller turn with
``LlmAgent.reply`` in a task of the Dialogue's nursery, under the turn's cancel scope, so a
barge-in (``turns.cancel_through``) stops the model's stream at once. Scheduler round trips
go out through the port and their replies come back through ``scheduler_answered``.
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
from receptionist.messages import (
    BookingRejected,
    EndCall,
    EndReason,
    Expectation,
    RejectReason,
    SchedulerReply,
    SchedulerRequest,
    Sentence,
    Transcript,
    TurnTimings,
)
from receptionist.turns import TurnCancellation

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
    def close(self) -> None: ...


@dataclass(slots=True)
class AgentTurn:
    """The agent turn being written or played to the caller."""

    turn_id: int
    interruptible: bool
    heard: Transcript | None
    """What the caller said that this turn answers, for its timings and log."""
    sent: int = 0
    timings: TurnTimings | None = None
    last_mark: str | None = None
    """Echoed by Twilio once the turn's last sentence has played; None until it is sent."""

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
        if last:
            self.last_mark = f"turn{self.turn_id}-s{self.sent}"
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
        self, port: DialoguePort, client: LlmClient, *, config: Config,
        nursery: trio.Nursery, now: Callable[[], datetime],
    ) -> None:
        self._port, self._client, self._config = port, client, config
        self._nursery, self._now = nursery, now
        self._replies = PendingReplies(port.ask_scheduler)
        self._agent = self._new_agent(caller=None)
        self._idle = trio.Event()
        """Set once the latest reply task is over, history written: the next one waits."""
        self._idle.set()
        self._silences = 0

    def _new_agent(self, caller: str | None) -> LlmAgent:
        return LlmAgent(self._client, self._config, call_tool=self._replies.ask,
                        now=self._now, caller=caller)

    async def call_began(self, caller: str | None) -> None:
        self._agent = self._new_agent(caller)
        await self._say_fixed(self._config.clinic.greeting)

    async def caller_said(self, text: str) -> None:
        if self._port.ending:
            return  # the goodbye is playing; the call ends after it
        self._silences = 0
        await self._port.interrupt()  # a reply still being written answers old words
        turn_id = self._port.begin_turn(Expectation.OPEN)
        previous, self._idle = self._idle, trio.Event()
        self._nursery.start_soon(self._reply, turn_id, text, previous, self._idle)

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
        self._replies.close()

    async def _say_fixed(self, text: str, *, end_of_call: bool = False) -> None:
        self._agent.record_spoken(text)
        await self._port.speak(text, end_of_call=end_of_call)

    async def _reply(
        self, turn_id: int, text: str, previous: trio.Event, idle: trio.Event
    ) -> None:
        try:
            with self._port.turns.scope(turn_id):
                await previous.wait()  # an interrupted reply records its history first
                reply = await self._answer(turn_id, text)
                if reply.end is not None:
                    await self._port.end_after_turn(reply.end)
        finally:
            idle.set()

    async def _answer(self, turn_id: int, text: str) -> Reply:
        said: list[str] = []

        async def say(sentence: str, last: bool) -> None:
            said.append(sentence)
            await self._port.say(turn_id, sentence, last, self._agent.first_token_at)

        reply = await self._agent.reply(text, say)
        log.info("dialogue.said", turn_id=turn_id, text=" ".join(said).strip(),
                 caller_text=text, fell_back=reply.fell_back,
                 end=reply.end.reason.value if reply.end else None)
        return reply
