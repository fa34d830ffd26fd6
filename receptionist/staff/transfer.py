"""Warm transfers: the I/O around telephony/transfers.py's TwiML and state machine.

When a call's stream ends with ``EndReason.TRANSFER``, ``/call-ended`` asks
``WarmTransfers.after_stream`` what Twilio does next:

- after hours: the caller goes straight back to the receptionist (a new stream with
  ``resume=transfer-unanswered``), who offers to take a message;
- cold (``transfer_mode = "cold"``, or no REST credentials or number): ``<Dial>``;
- warm: the staff phone is dialled over REST (the briefing, then the conference), the caller
  waits in the conference, and two deadlines are set on this process's nursery.

``on_status`` acts on the status callbacks, on whichever process gets them; the
deadlines are the safety net should none come. A REST failure never loses the caller: a
failed dial answers the cold ``<Dial>`` instead, and a failed bring-back is retried.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from functools import partial
from typing import TypeVar

import structlog
import trio

from receptionist.config import Config
from receptionist.errors import StoreUnavailable, TwilioError
from receptionist.logs import mask_phone
from receptionist.messages import EndCall, TransferBrief
from receptionist.scheduling.backend import TransferRow
from receptionist.scheduling.slots import opening_span
from receptionist.scheduling.store import AppointmentStore
from receptionist.staff.briefing import briefing_text
from receptionist.staff.twilio_rest import TwilioRest, retrying
from receptionist.telephony import transfers as tt
from receptionist.telephony import webhooks
from receptionist.telephony.stream_tokens import CALL_SID_PARAMETER, TOKEN_PARAMETER, StreamTokens

log = structlog.get_logger()

DIAL_TIMEOUT_S = 5.0
"""Twilio waits 15 s for /call-ended's answer; a dial slower than this falls back to cold."""
RING_SLACK_S = 5.0
"""Past transfer_timeout_s, Twilio's own no-answer callback should have come: then we act."""
JOIN_GRACE_S = 60.0
"""How long staff who answered may take to hear the briefing and join."""
BRING_BACK_TIMEOUT_S = 10.0
HANG_UP_TIMEOUT_S = 5.0
STORE_TIMEOUT_S = 2.0

T = TypeVar("T")


class WarmTransfers:
    """One process's part in warm transfers; its deadlines run in ``nursery``."""

    def __init__(
        self,
        config: Config,
        store: AppointmentStore,
        tokens: StreamTokens,
        rest: TwilioRest | None,
        nursery: trio.Nursery,
        now: Callable[[], datetime],
    ) -> None:
        self._config = config
        self._store = store
        self._tokens = tokens
        self._rest = rest
        self._nursery = nursery
        self._now = now
        clinic = config.clinic
        self.warm = bool(clinic.transfer_mode == "warm" and rest and config.twilio.phone_number)

    async def after_stream(self, call_sid: str, end: EndCall, base_url: str) -> str:
        """The TwiML that hands the caller over (``end.reason`` is TRANSFER)."""
        brief = end.brief or TransferBrief()
        if not self._open_now():
            log.info("transfer.after_hours", call_sid=call_sid)
            return self._resume_twiml(call_sid, brief.caller, base_url)
        if not self.warm or not end.transfer_to:
            return webhooks.after_stream_twiml(end.transfer_to)
        staff_sid = await self._dial_staff(call_sid, end.transfer_to, brief, base_url)
        if staff_sid is None:
            return webhooks.after_stream_twiml(end.transfer_to)  # cold: never lose the caller
        if await self._move(call_sid, tt.Move((tt.DIALLING,), tt.DIALLING), staff_sid) is None:
            # The staff leg ended before we knew its SID (busy at once): the caller has no
            # conference to wait in, and this answer is what brings them back (``_apply``).
            return self._resume_twiml(call_sid, brief.caller, base_url)
        self._nursery.start_soon(self._deadlines, call_sid, staff_sid, base_url)
        return tt.caller_waits_twiml(
            tt.conference_name(call_sid),
            status_callback=tt.status_callback_url(base_url, call_sid),
            hold_music_url=self._config.clinic.hold_music_url,
        )

    async def on_status(self, call_sid: str, params: Mapping[str, str], base_url: str) -> None:
        """A status callback of ``call_sid``'s transfer (signature already checked)."""
        move = tt.on_status_callback(params, call_sid)
        log.info("transfer.status", call_sid=call_sid, callback=params.get("StatusCallbackEvent"),
                 status=params.get("CallStatus"), acts=move is not None)  # fmt: skip
        if move is not None:
            await self._apply(call_sid, move, base_url)

    async def _dial_staff(
        self, call_sid: str, number: str, brief: TransferBrief, base_url: str
    ) -> str | None:
        """The staff leg's SID, or None when it could not be dialled in time."""
        assert self._rest is not None
        name = tt.conference_name(call_sid)
        briefing = briefing_text(brief, self._config.clinic.name)
        try:
            await self._in_store(self._store.start_transfer, call_sid, brief.caller, tt.DIALLING)
        except StoreUnavailable as exc:
            log.error("transfer.store_failed", call_sid=call_sid, error=str(exc))
            return None
        try:
            with trio.fail_after(DIAL_TIMEOUT_S):
                staff = await self._rest.create_call(
                    to=number,
                    from_=self._config.twilio.phone_number,
                    twiml=tt.staff_joins_twiml(name, briefing),
                    timeout_s=self._config.clinic.transfer_timeout_s,
                    status_callback=tt.status_callback_url(base_url, call_sid),
                    status_callback_events=tt.STAFF_EVENTS,
                )
        except (TwilioError, trio.TooSlowError) as exc:
            log.warning("transfer.dial_failed", call_sid=call_sid, error=str(exc) or "timed out")
            await self._move(call_sid, tt.Move(tt.WAITING, tt.ENDED))
            return None
        log.info("transfer.dialled", call_sid=call_sid, staff_call_sid=staff.sid,
                 to=mask_phone(number), briefing=briefing)  # fmt: skip
        return staff.sid

    async def _deadlines(self, call_sid: str, staff_sid: str, base_url: str) -> None:
        await trio.sleep(self._config.clinic.transfer_timeout_s + RING_SLACK_S)
        if await self._deadline(call_sid, staff_sid, tt.RING_DEADLINE, base_url):
            return
        await trio.sleep(JOIN_GRACE_S)
        await self._deadline(call_sid, staff_sid, tt.JOIN_DEADLINE, base_url)

    async def _deadline(self, call_sid: str, staff_sid: str, move: tt.Move, base_url: str) -> bool:
        """``move`` if the transfer is still this one: a caller brought back may ask again,
        and the new transfer (another staff leg) has deadlines of its own."""
        (state,) = move.from_states
        current = await self._move(call_sid, tt.Move((state,), state))  # unchanged: a look
        if current is None or current[1] != staff_sid:
            return False
        return await self._apply(call_sid, move, base_url)

    async def _apply(self, call_sid: str, move: tt.Move, base_url: str) -> bool:
        """Take one step of the transfer, and act on it if this process took it."""
        moved = await self._move(call_sid, move)
        if moved is None:
            return False
        caller, staff_sid = moved
        log.info("transfer.moved", call_sid=call_sid, state=move.to_state, then=move.then.value)
        if not staff_sid:
            return True  # /call-ended has not answered yet: its answer brings the caller back
        if move.then in (tt.Then.BRING_BACK, tt.Then.BRING_BACK_AND_HANG_UP_STAFF):
            await self._bring_back(call_sid, caller, base_url)
        if move.then in (tt.Then.HANG_UP_STAFF, tt.Then.BRING_BACK_AND_HANG_UP_STAFF):
            await self._hang_up_staff(staff_sid)
        return True

    async def _move(self, call_sid: str, move: tt.Move, staff_sid: str = "") -> TransferRow | None:
        """The row if this process took the step; None if another did, or the store failed."""
        try:
            return await self._in_store(
                self._store.move_transfer, call_sid, move.from_states, move.to_state, staff_sid
            )
        except StoreUnavailable as exc:
            log.error("transfer.store_failed", call_sid=call_sid, error=str(exc))
            return None

    async def _bring_back(self, call_sid: str, caller: str, base_url: str) -> None:
        """The caller out of the conference, onto a new stream with the receptionist."""
        assert self._rest is not None
        twiml = self._resume_twiml(call_sid, caller, base_url)
        with trio.move_on_after(BRING_BACK_TIMEOUT_S) as scope:
            try:
                await retrying(partial(self._rest.update_call, call_sid, twiml=twiml))
            except TwilioError as exc:
                log.error("transfer.bring_back_failed", call_sid=call_sid, error=str(exc))
                return
        if scope.cancelled_caught:
            log.error("transfer.bring_back_failed", call_sid=call_sid, error="timed out")
            return
        log.info("transfer.brought_back", call_sid=call_sid)

    async def _hang_up_staff(self, staff_sid: str) -> None:
        """Cancel the staff leg if it is still ringing, else complete it (the state we know
        may lag behind a lost callback: Twilio's answer says which it was)."""
        assert self._rest is not None
        if not staff_sid:
            return
        with trio.move_on_after(HANG_UP_TIMEOUT_S):
            for status in ("canceled", "completed"):
                try:
                    call = await retrying(partial(self._rest.update_call, staff_sid, status=status))
                except TwilioError as exc:  # an ended leg is 20404: nothing left to hang up
                    log.info("transfer.staff_not_hung_up", staff_call_sid=staff_sid,
                             status=status, error=str(exc))  # fmt: skip
                    return
                if call.status in tt.FINAL_STATUSES:
                    return

    def _resume_twiml(self, call_sid: str, caller: str, base_url: str) -> str:
        parameters = {
            CALL_SID_PARAMETER: call_sid,
            "caller": caller,
            tt.RESUME_PARAMETER: tt.TRANSFER_UNANSWERED,
        }
        parameters[TOKEN_PARAMETER] = self._tokens.issue(parameters)
        return webhooks.connect_stream_twiml(base_url, parameters)

    def _open_now(self) -> bool:
        now = self._now()
        span = opening_span(self._config.clinic, now.date())
        return span is not None and span[0] <= now < span[1]

    async def _in_store(self, method: Callable[..., T], *args: object) -> T:
        """``method(*args)`` off the loop. Raises StoreUnavailable, also when the store is
        slower than STORE_TIMEOUT_S (the thread is left to finish on its own)."""
        with trio.move_on_after(STORE_TIMEOUT_S):
            return await trio.to_thread.run_sync(partial(method, *args), abandon_on_cancel=True)
        raise StoreUnavailable("the store timed out")
