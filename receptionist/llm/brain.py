"""The LLM brain of the Dialogue actor: each caller turn answered by the model.

``stages/dialogue.py`` owns turn-taking (barge-in, marks, silence, ending the call) and
offers it to its ``Brain`` through ``DialoguePort`` (``receptionist.turns.brain``).
``LlmBrain`` answers each caller turn with ``LlmAgent.reply`` in a task of the Dialogue's
nursery, under the turn's cancel scope, so a barge-in (``turns.cancel_through``) stops the
model's stream at once. Scheduler round trips go out through the port and their replies come
back through ``scheduler_answered``. Silence gets the reprompts of ``turns.reprompts``.

History after a barge-in: the tasks that touch the agent's history run one after another
(each waits for the previous one's ``idle`` event), and a cut-off queues one more that keeps
only what the caller heard, marked "[interrupted]" (``History.keep_heard``), once the cut
reply has recorded what it did. A resumed turn (false barge-in) asks the model to go on.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import structlog
import trio

from receptionist.config import Config
from receptionist.llm.agent import LlmAgent, Reply
from receptionist.llm.client import LlmClient
from receptionist.llm.pending_replies import PendingReplies
from receptionist.llm.speculation import Speculation
from receptionist.llm.tool_runner import TOOL_TIMEOUT_S
from receptionist.messages import CallStarted, EndCall, EndReason, Expectation
from receptionist.scheduling.messages import SchedulerReply
from receptionist.turns.brain import DialoguePort
from receptionist.turns.escalation import (
    RESUME_AFTER_TRANSFER,
    RESUMED_APOLOGY,
    Frustration,
    Heard,
    Misheard,
    Understood,
)
from receptionist.turns.lexicon import same_words
from receptionist.turns.reprompts import NOTHING_HEARD, STILL_THERE, Reprompts
from receptionist.turns.turn_events import CutOff

log = structlog.get_logger()

PREVIOUS_TURN_TIMEOUT_S = 2 * TOOL_TIMEOUT_S
"""How long a reply waits for the one before it to finish with the history. A cut reply ends
within its one shielded Scheduler round trip (``TOOL_TIMEOUT_S``); past twice that,
something is stuck, and answering the caller matters more than the history's order."""
GIVE_UP = f"{NOTHING_HEARD} Goodbye!"
MESSAGE_OFFER = (
    "I'll take a message, and someone from our team will call you back. What's your name?"
)
KEYED_PREFIX = "(keyed on the phone keypad)"
"""Marks keypad digits in the caller's turn, so the model tells them from spoken words."""


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
        self._agent = self._new_agent(CallStarted("", "", None))
        self._frustration = Frustration(config.escalation)
        self._last_said = ""
        """The agent's last sentence: the question a "no" answers."""
        self._idle = trio.Event()
        """Set once the latest reply task is over, history written: the next one waits."""
        self._idle.set()
        self._reprompts = Reprompts(config.dialogue.max_reprompts)
        self._speculation: Speculation | None = None
        self._guess_waiting: trio.CancelScope | None = None
        """A guess offered while a reply was busy, started once it is idle (``anticipate``)."""
        self._keyed = ""
        """Keypad digits so far, until "#" or a silence."""

    def _new_agent(self, started: CallStarted) -> LlmAgent:
        return LlmAgent(
            self._client, self._config, call_tool=self._replies.ask, now=self._now,
            caller=started.caller, settled=self._port.settled, call_sid=started.call_sid,
            resumed=_resumed(started),
        )  # fmt: skip

    async def call_began(self, started: CallStarted) -> None:
        self._agent = self._new_agent(started)
        if _resumed(started):
            await self._say_fixed(f"{RESUMED_APOLOGY} {MESSAGE_OFFER}")
        else:
            await self._say_fixed(self._config.clinic.greeting)

    async def caller_said(self, text: str, confidence: float | None = None) -> None:
        speculation, self._speculation = self._speculation, None
        self.withdraw()  # a guess still waiting to start would come too late
        if self._port.ending:
            if speculation is not None:
                speculation.cancel()
            return  # the goodbye is playing; the call ends after it
        self._reprompts.caller_answered()
        await self._port.interrupt()  # a reply still being written answers old words
        note = self._signs_in(text, confidence)
        if note:
            if speculation is not None:
                speculation.cancel()  # written without the note
            self._start_reply(f"{text} {note}")
            return
        self._start_reply(text, self._adoptable(speculation, text))

    def _signs_in(self, text: str, confidence: float | None) -> str:
        """A note for the model when the caller's words show frustration, else ""."""
        frustration = self._frustration
        faint = confidence is not None and confidence < self._config.dialogue.min_confidence
        reason = frustration.handle(Misheard() if faint or not text.strip() else Understood())
        reason = reason or frustration.handle(Heard(text, self._last_said))
        if reason is None:
            return ""
        return self._agent.escalated(reason)

    def _adoptable(self, speculation: Speculation | None, text: str) -> Speculation | None:
        """``speculation`` if it was started on ``text`` and on the history as it is now."""
        if speculation is None:
            return None
        keep = (
            not speculation.failed
            and same_words(speculation.text, text)
            and speculation.revision == self._agent.history.revision
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
        if self._port.ending:
            return
        if self._idle.is_set():
            self._guess(text)
            return
        # A reply is still being written, or a cut one's history put right: the guess starts
        # on the history once it is done. The caller who went on before hearing an answer
        # ("Great, | thank you. Bye.") cuts it in the very step that offers the guess; dropped,
        # the whole model latency came after their final.
        waiting = trio.CancelScope()
        self._guess_waiting = waiting
        self._nursery.start_soon(self._guess_when_idle, text, self._idle, waiting)

    async def _guess_when_idle(
        self, text: str, idle: trio.Event, waiting: trio.CancelScope
    ) -> None:
        with waiting:
            await idle.wait()
            # Woken, this task may run after a withdraw or a newer guess in the same step:
            # a cancel that came once it was woken shows only here.
            if waiting.cancel_called or self._idle is not idle or self._port.ending:
                return
            self._guess_waiting = None
            self._guess(text)

    def _guess(self, text: str) -> None:
        if self._speculation is not None:
            self._speculation.cancel()  # never two standing: the other's stream would hang
        buffer = self._config.buffers.preemptive_tokens
        self._speculation = self._agent.speculate(text, buffer)
        self._nursery.start_soon(self._speculation.run)

    def withdraw(self) -> None:
        if self._guess_waiting is not None:
            self._guess_waiting.cancel()
            self._guess_waiting = None
        if self._speculation is not None:
            self._speculation.cancel()
            self._speculation = None

    def cut_off(self, cut: CutOff) -> None:
        if cut.continued is not None:
            # The caller went on before hearing a word: what they said so far comes again,
            # joined with the rest, as one turn. The answer to the fragment is forgotten.
            self._then(self._agent.history.take_back, cut.turn_id, 0)
        else:
            self._then(self._agent.history.keep_heard, cut.turn_id, len(cut.heard))

    async def resume(self, cut: CutOff, said: str) -> None:
        if self._port.ending:
            return
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
        """Keys are gathered until "#" ("*" starts again), then given to the model as the
        caller's turn; a single key ("press 1 for yes") goes when the caller falls silent."""
        self._reprompts.caller_answered()
        if digit == "*":
            self._keyed = ""
        elif digit != "#":
            self._keyed += digit
        elif self._keyed:
            await self._keys_done()

    async def _keys_done(self) -> None:
        keyed, self._keyed = self._keyed, ""
        await self.caller_said(f"{KEYED_PREFIX} {keyed}")

    async def caller_silent(self) -> None:
        if self._keyed:
            await self._keys_done()
            return
        if self._reprompts.may_reprompt():
            await self._say_fixed(STILL_THERE)
            return
        await self._say_fixed(GIVE_UP, end_of_call=True)
        await self._port.end_after_turn(EndCall(EndReason.COMPLETED))

    async def scheduler_answered(self, reply: SchedulerReply) -> None:
        self._replies.deliver(reply)

    def close(self) -> None:
        self.withdraw()
        self._replies.close()

    async def _say_fixed(self, text: str, *, end_of_call: bool = False) -> None:
        """Words of ours, not the model's (greeting, reprompts): the model is told of them.

        Recorded once said: nothing reads or edits the history meanwhile, since the
        Dialogue handles no caller event until this returns."""
        turn_id = await self._port.speak(text, Expectation.OPEN, end_of_call=end_of_call)
        if turn_id is not None:
            self._agent.history.record_spoken(text, turn=turn_id)

    async def _reply(
        self, turn_id: int, text: str | None, previous: trio.Event, idle: trio.Event,
        head_start: Speculation | None,
    ) -> None:  # fmt: skip
        try:
            with self._port.turns.scope(turn_id):
                # An interrupted reply records its history first. Shielded: a reply cut
                # before it began still records the caller's words, so they are not lost.
                with trio.move_on_after(PREVIOUS_TURN_TIMEOUT_S, shield=True):
                    await previous.wait()
                if not previous.is_set():
                    log.error("llm.previous_turn_overdue", turn_id=turn_id,
                              timeout_s=PREVIOUS_TURN_TIMEOUT_S)  # fmt: skip
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
        if said:
            self._last_said = said[-1] or (said[-2] if len(said) > 1 else "")
        log.info(
            "dialogue.said",
            turn_id=turn_id,
            text=" ".join(said).strip(),
            caller_text=text,
            fell_back=reply.fell_back,
            end=reply.end.reason.value if reply.end else None,
        )
        return reply


def _resumed(started: CallStarted) -> bool:
    return started.parameters.get("resume") == RESUME_AFTER_TRANSFER
