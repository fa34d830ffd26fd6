"""The LLM agent: one call's conversation with the model (its stream and tool loop), one
caller turn at a time.

``LlmAgent.reply(caller_text, say)`` streams the model's answer. Text is cut into sentences
as the tokens arrive and each is handed to ``say`` at once, so the caller hears the first
sentence while the model writes the next. Tool calls run through ``tool_runner.ToolRunner``
(the Dialogue's round trip to the Scheduler); their results go back to the model, which then
speaks, for at most ``max_tool_rounds`` rounds. When the model answers with tool calls alone
and nothing of the turn has been said, the caller hears a holding line at once ("One moment,
please.", ``ToolRunner.holding_line``) while the tools run and the model writes the answer.
What was said and done goes into the call's ``History`` (``receptionist.llm.history``).

Resource handling:
    Each Scheduler round trip runs shielded and time-boxed: a booking sent to the Scheduler
    is waited for and recorded in the history even when the caller barges in, so it is
    never lost nor made twice. A cancelled turn starts no new tool call. Whatever a round
    did is recorded in the history however it ends (a ``finally`` with no awaits), so the
    history always pairs each tool call with a result, as the API requires. After a
    barge-in, ``History.keep_heard`` trims the turn's words to those the caller heard.

Error handling:
    No first token within ``first_token_timeout_s`` (or a stall mid-reply), or an
    ``LlmError`` after the client's one retry: the caller hears ``FALLBACK`` instead of
    silence, and the call goes on. ``Cancelled`` (barge-in) propagates.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import aclosing
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import structlog
import trio

from receptionist.config import Config
from receptionist.errors import LlmError
from receptionist.llm import results
from receptionist.llm.client import LlmClient
from receptionist.llm.history import History
from receptionist.llm.prompt import system_prompt
from receptionist.llm.speculation import Speculation
from receptionist.llm.speech import Say, Speech
from receptionist.llm.stream import Finished, LlmEvent, TextDelta, ToolCall, ToolCallsReady
from receptionist.llm.tool_runner import (
    CallTool,
    Settled,
    ToolRunner,
    already_settled,
)
from receptionist.llm.tools import Invalid, ValidCall, tool_schemas
from receptionist.messages import EndCall
from receptionist.scheduling.slots import is_open_at
from receptionist.turns.escalation import EscalationReason

log = structlog.get_logger()

FALLBACK = "Sorry, I didn't catch that, could you say it again?"
TERMINAL_TOOLS = frozenset({"end_call", "transfer_to_human"})


@dataclass(frozen=True, slots=True)
class Reply:
    """How a turn ended."""

    end: EndCall | None = None
    """Hang up or transfer once the turn has played."""
    fell_back: bool = False
    """The model failed and the caller heard ``FALLBACK``."""


class LlmAgent:
    """One call's model conversation. Not shared between calls."""

    def __init__(
        self,
        client: LlmClient,
        config: Config,
        *,
        call_tool: CallTool,
        now: Callable[[], datetime],
        caller: str | None,
        settled: Settled = already_settled,
        call_sid: str = "",
        resumed: bool = False,
    ) -> None:
        self._client, self._settings = client, config.llm
        open_now = is_open_at(config.clinic, now())
        self._can_transfer = bool(config.clinic.transfer_number) and open_now
        prompt = system_prompt(
            config, now(), caller_known=bool(caller), caller_number=caller or "",
            open_now=open_now, resumed=resumed,
        )  # fmt: skip
        self.history = History(prompt, max_tokens=config.llm.history_max_tokens)
        self._tools = tool_schemas(config, open_now=open_now)
        self._noted_for_next = self._noted = False
        """The caller's words escalated this turn (``escalated``): the model's own
        ``escalate`` in it is not logged again."""
        self._tools_run = ToolRunner(
            config, call_tool=call_tool, now=now, caller=caller, settled=settled,
            call_sid=call_sid, can_transfer=self._can_transfer,
        )  # fmt: skip
        self.first_token_at: float | None = None
        """When the current turn's first token arrived, for its TurnTimings."""
        self._turn = 0
        """The agent turn being written, for the log."""

    def escalated(self, reason: EscalationReason) -> str:
        """Signs in the caller's words (``turns.escalation``) before the next ``reply``: log
        them; the note for the model to add to the caller's words."""
        log.info("call.escalated", reason=reason.value)
        self._noted_for_next = True
        advice = results.OFFER_PERSON if self._can_transfer else results.OFFER_MESSAGE
        return f"[note: the caller seems frustrated ({reason.value}); {advice['detail']}]"

    def speculate(self, caller_text: str, buffer: int) -> Speculation:
        """A completion on ``caller_text`` as the next caller turn, for ``reply``'s
        ``head_start``; the caller runs it (``Speculation.run``). The history is untouched."""
        messages = [*self.history.messages, {"role": "user", "content": caller_text}]
        allow_tools = self._settings.max_tool_rounds > 0
        stream = self._client.stream(messages, self._tools, allow_tools=allow_tools)
        return Speculation(caller_text, self.history.revision, stream, buffer)

    async def reply(
        self, caller_text: str | None, say: Say, *, turn: int = 0,
        head_start: Speculation | None = None,
    ) -> Reply:  # fmt: skip
        """Answer the caller: speak through ``say``, run tools, return how the turn ended.

        ``caller_text`` None: no new words (a false barge-in); the model goes on. ``turn``
        names the agent turn, for ``keep_heard``. ``head_start``: a ``speculate`` on these
        words, on this revision of the history, whose stream is the first round's.
        """
        if caller_text is not None:
            self.history.caller_said(caller_text)
        self.history.agent_turn(turn)
        self._turn = turn
        self._noted, self._noted_for_next = self._noted_for_next, False
        self.first_token_at = head_start.first_token_at if head_start else None
        speech = Speech(say)
        try:
            for round_number in range(self._settings.max_tool_rounds + 1):
                allow_tools = round_number < self._settings.max_tool_rounds
                if not await self._round(speech, allow_tools, head_start):
                    break
                head_start = None
        except LlmError as exc:
            log.warning("llm.fallback", error=str(exc))
            self.history.record_spoken(FALLBACK)
            await say(FALLBACK, True)
            # "Could you say it again?" asks for an answer: the call does not end on it.
            return Reply(None, fell_back=True)
        await speech.say_pending(last=True)
        return Reply(speech.end)

    async def _round(
        self, speech: Speech, allow_tools: bool, head_start: Speculation | None
    ) -> bool:
        """One completion and its tool calls; True when the model should speak again."""
        calls: tuple[ToolCall, ...] = ()
        done: dict[str, dict[str, Any]] = {}
        said: list[str] = []
        try:
            calls = await self._stream(speech, allow_tools, head_start)
            checked = self._tools_run.check(calls)
            if calls:
                await speech.say_pending(last=False)  # "Let me check." plays while tools run
                await self._hold_the_line(speech, checked)
            for call, valid in zip(calls, checked, strict=True):
                await trio.lowlevel.checkpoint()  # a cancelled turn starts no new tool call
                done[call.id] = await self._tools_run.execute(
                    call, valid, speech, turn=self._turn, noted=self._noted
                )
        finally:
            said = speech.take_round_text()
            self.history.record_round(said, calls, done)
        # After "Goodbye." and end_call there is nothing left to say.
        ended = speech.end is not None and {call.name for call in calls} <= TERMINAL_TOOLS
        return bool(calls) and not (ended and said)

    async def _hold_the_line(self, speech: Speech, checked: list[ValidCall | Invalid]) -> None:
        """The model wrote only tool calls and the caller has heard nothing yet: a holding
        line now, as a person would say it, before the tools wait for the turn to settle,
        run, and the model writes the answer. It is a sentence of this turn like any other
        (held or cut with it) and of this round in the history, so the model sees it said."""
        line = "" if speech.spoken else self._tools_run.holding_line(checked)
        if line:
            log.info("llm.holding_line", turn_id=self._turn, line=line)
            await speech.sentence(line)

    async def _stream(
        self, speech: Speech, allow_tools: bool, head_start: Speculation | None
    ) -> tuple[ToolCall, ...]:
        """Stream one completion, saying its sentences; its tool calls, once complete."""
        settings = self._settings
        calls: tuple[ToolCall, ...] = ()
        deadline = trio.CancelScope(deadline=trio.current_time() + settings.first_token_timeout_s)
        with deadline:
            if head_start is not None:
                stream = head_start.events()
            else:
                messages = self.history.messages
                stream = self._client.stream(messages, self._tools, allow_tools=allow_tools)
            async with aclosing(stream) as events:
                async for event in events:
                    calls = await self._on_event(event, speech) or calls
                    deadline.deadline = trio.current_time() + settings.stall_timeout_s
        if deadline.cancelled_caught:
            waited = "first" if self.first_token_at is None else "next"
            raise LlmError(f"no {waited} token in time", transient=True)
        speech.end_of_stream()
        return calls if allow_tools else ()  # past the last round, words only

    async def _on_event(self, event: LlmEvent, speech: Speech) -> tuple[ToolCall, ...]:
        if self.first_token_at is None:
            self.first_token_at = trio.current_time()
        match event:
            case TextDelta(text=text):
                for sentence in speech.splitter.feed(text):
                    await speech.sentence(sentence)
            case ToolCallsReady(calls=calls):
                return calls
            case Finished(reason=reason, usage=usage):
                log.info("llm.finished", reason=reason, usage=usage)
        return ()
