"""How a call's stream ended, kept in the database between the stream and ``/call-ended``.

Twilio asks ``/call-ended`` (the ``<Connect action>``) once our stream has closed, and with
several server processes it may ask another process than the one that ran the call: so the
supervisor saves the outcome (hang up, transfer to whom, with what briefing) and the
webhook takes it, once.
"""

from __future__ import annotations

import json
from dataclasses import asdict

import structlog
import trio

from receptionist.config import Config
from receptionist.errors import StoreUnavailable
from receptionist.messages import EndCall, EndReason, TransferBrief
from receptionist.scheduling.store import AppointmentStore

log = structlog.get_logger()

SAVE_OUTCOME_TIMEOUT_S = 2.0
"""Twilio asks /call-ended right after the stream closes; an outcome saved later is moot."""


async def save_outcome(store: AppointmentStore, call_sid: str, outcome: EndCall) -> None:
    """Keep how the call ended in the database, for /call-ended on whichever process Twilio
    reaches. Shielded and time-boxed: it runs as the call ends, also when cancelled."""
    brief = json.dumps(asdict(outcome.brief)) if outcome.brief else None
    row = (outcome.reason.value, outcome.transfer_to, brief)
    with trio.move_on_after(SAVE_OUTCOME_TIMEOUT_S, shield=True) as scope:
        try:
            await trio.to_thread.run_sync(store.save_outcome, call_sid, row)
        except StoreUnavailable as exc:
            log.error("call.outcome_not_saved", error=str(exc))
    if scope.cancelled_caught:
        log.error("call.outcome_not_saved", error="timed out")


async def take_outcome(store: AppointmentStore, call_sid: str) -> EndCall | None:
    """The outcome ``save_outcome`` kept, once; None when unknown or the database fails."""
    try:
        row = await trio.to_thread.run_sync(store.take_outcome, call_sid)
    except StoreUnavailable as exc:
        log.error("call.outcome_unreadable", error=str(exc))
        return None
    if row is None:
        return None
    reason, transfer_to, brief = row
    return EndCall(EndReason(reason), transfer_to=transfer_to, brief=_brief(brief))


def fallback_outcome(config: Config) -> EndCall:
    return EndCall(EndReason.ERROR, transfer_to=config.clinic.transfer_number or None)


def _brief(saved: str | None) -> TransferBrief | None:
    if not saved:
        return None
    fields = json.loads(saved)
    return TransferBrief(**{**fields, "done": tuple(fields.get("done", ()))})
