"""The LLM agent's tool calls, run: validated, side effects only from a settled caller turn,
Scheduler round trips shielded and time-boxed, each logged with its outcome; and the holding
line the caller hears meanwhile when the model answered with tool calls alone.

Resource handling:
    Each Scheduler round trip runs shielded and time-boxed: a booking sent to the Scheduler
    is waited for even when the caller barges in, so it is never lost nor made twice.
"""

from __future__ import annotations

import itertools
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Any

import structlog
import trio

from receptionist.config import Config
from receptionist.llm import results
from receptionist.llm.results import tool_call_detail
from receptionist.llm.speech import Speech
from receptionist.llm.stream import ToolCall
from receptionist.llm.tools import (
    Book,
    Cancel,
    CheckAvailability,
    Escalate,
    Hangup,
    Invalid,
    Message,
    ToolContext,
    Transfer,
    ValidCall,
    to_request,
    validate,
)
from receptionist.messages import EndCall, EndReason
from receptionist.scheduling.messages import (
    BookingsFound,
    CancelBooking,
    SchedulerReply,
    SchedulerRequest,
)
from receptionist.turns.escalation import EscalationReason

log = structlog.get_logger()

TOOL_TIMEOUT_S = 10.0
"""The time box of one Scheduler round trip: twice the store's 5 s busy timeout."""
SIDE_EFFECTS = (Book, Cancel, Hangup, Transfer, Message)
"""Tools that change something: they wait for the caller's turn to settle. Checking
availability changes nothing and may run at once."""
CHANGES = (Book, Cancel, Message)
"""Side effects the caller waits for: "One moment, please." (hanging up and transferring
carry their own lines)."""

CallTool = Callable[[SchedulerRequest], Awaitable[SchedulerReply]]
Settled = Callable[[], Awaitable[None]]
"""Returns once the caller's turn has stayed over (``AgentFloor.settled``)."""


async def already_settled() -> None:
    """For an agent with no caller to wait for (tests of the tool loop alone)."""


class ToolRunner:
    """Runs one call's tool calls. Not shared between calls."""

    def __init__(
        self,
        config: Config,
        *,
        call_tool: CallTool,
        now: Callable[[], datetime],
        caller: str | None,
        settled: Settled,
        call_sid: str,
        can_transfer: bool,
    ) -> None:
        self._config, self._call_tool, self._now = config, call_tool, now
        self._caller, self._settled, self._call_sid = caller, settled, call_sid
        self._can_transfer = can_transfer
        self._request_ids = itertools.count(1)

    def check(self, calls: Sequence[ToolCall]) -> list[ValidCall | Invalid]:
        """Each call's arguments checked against the clinic (``tools.validate``)."""
        context = ToolContext(self._config, self._now(), self._caller, self._call_sid)
        return [validate(call, context) for call in calls]

    def holding_line(self, checked: Sequence[ValidCall | Invalid]) -> str:
        """What the caller hears at once, before these calls run and the model answers, when
        nothing else of the turn was said: "Let me check." for a lookup, "One moment,
        please." for a change; "" when the model answers at once or has its own line."""
        settings = self._config.llm
        if any(isinstance(valid, Hangup | Transfer) for valid in checked):
            return ""  # the goodbye, or "putting you through", comes with them
        if any(isinstance(valid, CHANGES) for valid in checked):
            return settings.holding_line_changing
        if any(isinstance(valid, CheckAvailability) for valid in checked):
            return settings.holding_line_checking
        return ""  # escalate or a malformed call: nothing runs, the model answers at once

    async def execute(
        self, call: ToolCall, valid: ValidCall | Invalid, speech: Speech, *, turn: int,
        noted: bool,
    ) -> dict[str, Any]:  # fmt: skip
        """Run one tool call of agent turn ``turn``, ``valid`` its ``check``; its result for
        the model. ``noted``: the caller's words were escalated this turn (the model's own
        ``escalate`` is not logged again)."""
        if isinstance(valid, SIDE_EFFECTS):
            # Only from a whole turn: if the caller goes on meanwhile, the turn is cut here
            # (its scope cancelled) and the tool never runs. Overlaps the model's latency.
            await self._settled()
        result = results.INTERRUPTED
        try:
            result = await self._run_tool(valid, speech, noted)
            return result
        finally:
            # What was asked and answered (a name, a phone number) goes to the call's record
            # only, never to a log line (RECORD_ONLY, logs.py).
            log.info("llm.tool_call", tool=call.name, outcome=type(valid).__name__,
                     turn_id=turn, call_id=call.id,
                     **tool_call_detail(call.arguments, result))  # fmt: skip

    async def _run_tool(
        self, valid: ValidCall | Invalid, speech: Speech, noted: bool
    ) -> dict[str, Any]:
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
                if not noted:
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
