"""What the store keeps besides appointments: messages for the clinic, the outbox, call
outcomes, warm transfers and live servers. Each is one short transaction of the backend;
``SharedRows`` is the part of ``AppointmentStore`` (store.py) that holds them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta

from receptionist.config import Config
from receptionist.scheduling import outbox
from receptionist.scheduling.backend import Backend, CallOutcome, TransferRow
from receptionist.scheduling.messages import LeaveMessage, RejectReason
from receptionist.scheduling.outbox import OutboxItem
from receptionist.scheduling.slots import Rejection, normalise_phone


class SharedRows:
    """Rows that any server process may write or read, by request."""

    _backend: Backend
    _config: Config
    _now: Callable[[], datetime]
    _outbox_clock: Callable[[], datetime]

    def _phone(self, raw: str) -> str:
        return normalise_phone(raw, self._config.clinic.country)

    def save_message(self, message: LeaveMessage) -> int | Rejection:
        """Keep a caller's message and its outbox row, in one transaction; the message's id."""
        phone = self._phone(message.phone)
        if not phone:
            return Rejection(RejectReason.INVALID, "a number to call back is needed")
        message = replace(message, phone=phone, name=message.name.strip(),
                          about=message.about.strip())  # fmt: skip
        now = self._outbox_clock()
        with self._backend.transaction(write=True) as tx:
            message_id = tx.insert_message(message, now)
            payload = outbox.clinic_message_payload(message_id, message, now)
            key = outbox.clinic_message_key(message_id)
            tx.add_outbox(outbox.CLINIC_MESSAGE_TOPIC, key, payload, now)
        return message_id

    # --- the outbox (see outbox.py) --------------------------------------------------------

    def outbox_claim(self, topic: str, *, limit: int, lease_s: float) -> tuple[OutboxItem, ...]:
        """Up to ``limit`` due items of ``topic``, oldest first and only the oldest undone
        item of each key, leased for ``lease_s``: no other claim gets them meanwhile."""
        outbox.check_claim(limit, lease_s)
        now = self._outbox_clock()
        with self._backend.transaction(write=True) as tx:
            return tx.outbox_claim(topic, limit, now, now + timedelta(seconds=lease_s))

    def outbox_done(self, item_id: int) -> None:
        with self._backend.transaction(write=True) as tx:
            tx.outbox_done(item_id, self._outbox_clock())

    def outbox_waiting(self, topic: str) -> int:
        """How many of ``topic``'s items are not delivered yet (claimed, due or backing off)."""
        with self._backend.transaction(write=False) as tx:
            return tx.outbox_waiting(topic)

    def outbox_retry(self, item_id: int, *, delay_s: float, error: str) -> None:
        """Count a failed delivery and release the item, due again in ``delay_s``."""
        next_attempt_at = self._outbox_clock() + timedelta(seconds=max(delay_s, 0.0))
        with self._backend.transaction(write=True) as tx:
            tx.outbox_retry(item_id, next_attempt_at, error[: outbox.MAX_ERROR_CHARS])

    # --- call outcomes, for /call-ended on whichever process Twilio reaches ------------------

    def save_outcome(self, call_sid: str, outcome: CallOutcome) -> None:
        with self._backend.transaction(write=True) as tx:
            tx.save_outcome(call_sid, outcome, self._now())

    def take_outcome(self, call_sid: str) -> CallOutcome | None:
        with self._backend.transaction(write=True) as tx:
            return tx.take_outcome(call_sid)

    # --- warm transfers, whose status callbacks may reach any process (staff/transfer.py) -----

    def start_transfer(self, call_sid: str, caller: str, state: str) -> None:
        with self._backend.transaction(write=True) as tx:
            tx.start_transfer(call_sid, caller, state, self._now())

    def move_transfer(
        self, call_sid: str, from_states: tuple[str, ...], to_state: str, staff_call_sid: str = ""
    ) -> TransferRow | None:
        """One process wins each step: see ``Transaction.move_transfer``."""
        with self._backend.transaction(write=True) as tx:
            return tx.move_transfer(call_sid, from_states, to_state, staff_call_sid)

    # --- live servers, so a draining one knows whether another takes calls (heartbeat.py) --

    def heartbeat(self, server_id: str, *, draining: bool, ttl_s: float) -> None:
        """Announce ``server_id`` as live (and whether draining) for the next ``ttl_s``."""
        with self._backend.transaction(write=True) as tx:
            tx.heartbeat(server_id, draining, timedelta(seconds=ttl_s), self._outbox_clock())

    def forget_server(self, server_id: str) -> None:
        with self._backend.transaction(write=True) as tx:
            tx.forget_server(server_id)

    def live_peers(self, server_id: str) -> int:
        """Other servers of this clinic announced live and not draining."""
        with self._backend.transaction(write=False) as tx:
            return tx.live_peers(server_id, self._outbox_clock())
