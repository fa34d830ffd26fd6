"""The LLM agent: one call's conversation with the model (its stream and tool loop), one
caller turn at a time.

``LlmAgent.reply(caller_text, say)`` streams the model's answer. Text is cut into sentences
as the tokens arrive and each is handed to ``say`` at once, so the caller hears the first
sentence while the model writes the next. Tool calls run through the injected ``call_tool``
(the Dialogue's round trip to the Scheduler); their results go back to the model, which then
speaks, for at most ``max_tool_rounds`` rounds. What was said and done goes into the call's
``History`` (``receptionist.llm.history``).

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

import itertools
from collections.abc import Awaitable, Callable
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
from receptionist.llm.results import tool_call_detail
from receptionist.llm.speculation import Speculation
from receptionist.llm.speech import Say, Speech
from receptionist.llm.stream import Finished, LlmEvent, TextDelta, ToolCall, ToolCallsReady
from receptionist.llm.tools import (
    Book,
    Cancel,
    Escalate,
    Hangup,
    Invalid,
    Message,
    ToolContext,
    Transfer,
    ValidCall,
    to_request,
    tool_schemas,
    validate,
)
from receptionist.messages import EndCall, EndReason
from receptionist.scheduling.messages import (
    BookingsFound,
    CancelBooking,
    SchedulerReply,
    SchedulerRequest,
)
from receptionist.scheduling.slots import is_open_at
from receptionist.turns.escalation import EscalationReason

log = structlog.get_logger()

FALLBACK = "Sorry, I didn't catch that, could you say it again?"
TOOL_TIMEOUT_S = 10.0
"""The time box of one Scheduler round trip: twice the store's 5 s busy timeout."""
TERMINAL_TOOLS = frozenset({"end_call", "transfer_to_human"})
SIDE_EFFECTS = (Book, Cancel, Hangup, Transfer, Message)
"""Tools that change something: they wait for the caller's turn to settle. Checking
availability changes nothing and may run at once."""

CallTool = Callable[[SchedulerRequest], Awaitable[SchedulerReply]]
Settled = Callable[[], Awaitable[None]]
"""Returns once the caller's turn has stayed over (``AgentFloor.settled``)."""


async def _already_settled() -> None:
    """For an agent with no caller to wait for (tests of the tool loop alone)."""


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
        settled: Settled = _already_settled,
        call_sid: str = "",
        resumed: bool = False,
    ) -> None:
        self._client, self._settings = client, config.llm
        self._settled = settled
        self._call_tool, self._now = call_tool, now
        self._config, self._caller, self._call_sid = config, caller, call_sid
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
        self._request_ids = itertools.count(1)
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
            if calls:
                await speech.say_pending(last=False)  # "Let me check." plays while tools run
            for call in calls:
                await trio.lowlevel.checkpoint()  # a cancelled turn starts no new tool call
                done[call.id] = await self._execute(call, speech)
        finally:
            said = speech.take_round_text()
            self.history.record_round(said, calls, done)
        # After "Goodbye." and end_call there is nothing left to say.
        ended = speech.end is not None and {call.name for call in calls} <= TERMINAL_TOOLS
        return bool(calls) and not (ended and said)

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

    async def _execute(self, call: ToolCall, speech: Speech) -> dict[str, Any]:
        """Run one validated tool call; its result for the model."""
        context = ToolContext(self._config, self._now(), self._caller, self._call_sid)
        valid = validate(call, context)
        if isinstance(valid, SIDE_EFFECTS):
            # Only from a whole turn: if the caller goes on meanwhile, the turn is cut here
            # (its scope cancelled) and the tool never runs. Overlaps the model's latency.
            await self._settled()
        result = results.INTERRUPTED
        try:
            result = await self._run_tool(valid, speech)
            return result
        finally:
            # What was asked and answered (a name, a phone number) goes to the call's record
            # only, never to a log line (RECORD_ONLY, records/collector.py).
            log.info("llm.tool_call", tool=call.name, outcome=type(valid).__name__,
                     turn_id=self._turn, call_id=call.id,
                     **tool_call_detail(call.arguments, result))  # fmt: skip

    async def _run_tool(self, valid: ValidCall | Invalid, speech: Speech) -> dict[str, Any]:
        match valid:
            case Invalid(detail=detail):
                return results.invalid(detail)
            case Hangup():
                speech.end = EndCall(EndReason.COMPLETED)
                return results.WILL_HANG_UP
            case Transfer(number=number, reason=reason):
                speech.end = EndCall(EndReason.TRANSFER, transfer_to=number, why=reason)
                return results.WILL_TRANSFER
            case Escalate(reason=reason):
                if not self._noted:
                    log.info("call.escalated", reason=EscalationReason.MODEL.value, why=reason)
                return results.OFFER_PERSON if self._can_transfer else results.OFFER_MESSAGE
            case Message():
                request = to_request(valid, next(self._request_ids))
                return results.message_result(await self._ask(request))
            case Cancel(appointment_id=None, start=datetime() as start):
                return await self._cancel_at(valid, start)
            case _:
                return _result(await self._ask(to_request(valid, next(self._request_ids))))

    async def _cancel_at(self, cancel: Cancel, start: datetime) -> dict[str, Any]:
        """Cancel the caller's appointment at ``start``: find it, then cancel it by id."""
        found = await self._ask(to_request(cancel, next(self._request_ids)))
        if not isinstance(found, BookingsFound):
            return _result(found)
        match = next((a for a in found.appointments if a.start == start), None)
        if match is None:
            return results.not_found_among(found, start)
        await trio.lowlevel.checkpoint()  # the caller may have barged in meanwhile
        cancelling = CancelBooking(next(self._request_ids), match.id, cancel.phone)
        return _result(await self._ask(cancelling))

    async def _ask(self, request: SchedulerRequest) -> SchedulerReply | None:
        """One Scheduler round trip: once sent, it completes even if the turn is cancelled."""
        with trio.move_on_after(TOOL_TIMEOUT_S, shield=True):
            return await self._call_tool(request)
        log.warning("llm.tool_timeout", request=type(request).__name__)
        return None


def _result(reply: SchedulerReply | None) -> dict[str, Any]:
    return results.TIMED_OUT if reply is None else results.reply_result(reply)
