"""Confirmation texts to the caller after a booking, move or cancellation (``[notify]
sms_confirmations``), sent through Twilio's Messages API from the outbox.

The store writes the ``sms`` outbox row in the booking's own transaction (as it does the
calendar's), so a booking the caller heard confirmed always has its text waiting, whatever
happens to Twilio or to this process. The text holds the clinic's name, the appointment's
type, date and time, and nothing else: not the reason for the visit, not the caller's name
(a phone's lock screen shows it to whoever holds the phone).

Delivery is at least once. Twilio's Messages API takes no idempotency key: a process that
dies after Twilio took a message but before the row is marked done, or a request that times
out after Twilio took it, sends the text again when the row is retried. Rows of one
appointment go out one at a time, in order, so a move's text never precedes its booking's.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

import structlog
import trio

from receptionist.config import Config
from receptionist.errors import DeliveryFailed, TwilioError
from receptionist.staff.delivery import Outbox, serve_outbox
from receptionist.staff.report import spoken_date
from receptionist.staff.twilio_rest import TwilioRest

if TYPE_CHECKING:
    from receptionist.scheduling.outbox import OutboxItem

log = structlog.get_logger(__name__)

SMS_TOPIC = "sms"


def sms_configured(config: Config) -> bool:
    """Texts are on, and can be sent: the booking's transaction adds their outbox rows."""
    return config.notify.sms_confirmations and not _missing(config)


def sms_enabled(config: Config) -> bool:
    """``sms_configured``, saying at start-up what is missing when texts are on but cannot go."""
    missing = _missing(config)
    if config.notify.sms_confirmations and missing:
        log.info("notify.sms_off", reason="not set: " + ", ".join(missing))
    return sms_configured(config)


def _missing(config: Config) -> list[str]:
    return [
        name for name, value in (
            ("[twilio] phone_number", config.twilio.phone_number),
            ("TWILIO_ACCOUNT_SID", config.secrets.twilio_account_sid),
            ("TWILIO_AUTH_TOKEN", config.secrets.twilio_auth_token),
        ) if not value
    ]  # fmt: skip


def confirmation_text(payload: Mapping[str, Any], clinic: str) -> str:
    """The text for one outbox row (``outbox.appointment_payload``): a booking or a move is an
    ``upsert`` of the whole appointment, a cancellation a ``delete``."""
    appointment = payload["appointment"]
    service = str(appointment["service"])
    when = spoken_date(datetime.fromisoformat(appointment["start"]))
    action = payload["action"]
    if action == "upsert":
        return f"{clinic}: your {service} is booked for {when}. Call us to change it."
    if action == "delete":
        return f"{clinic}: your {service} on {when} is cancelled."
    raise ValueError(f"unknown appointment action {action!r}")


class SmsSender:
    """Sends one outbox row's text; raises DeliveryFailed unless Twilio took it."""

    def __init__(self, rest: TwilioRest, config: Config) -> None:
        self._rest = rest
        self._from = config.twilio.phone_number
        self._clinic = config.clinic.name
        self._timeout_s = config.notify.timeout_s

    async def deliver(self, item: OutboxItem) -> None:
        to = str(item.payload["appointment"]["phone"])
        body = confirmation_text(item.payload, self._clinic)
        try:
            with trio.fail_after(self._timeout_s):
                sid = await self._rest.send_sms(to=to, from_=self._from, body=body)
        except trio.TooSlowError as exc:  # Twilio may have taken it: a retry may text twice
            raise DeliveryFailed(f"no answer from Twilio within {self._timeout_s} s") from exc
        except TwilioError as exc:
            raise DeliveryFailed(str(exc), retryable=exc.retryable) from exc
        log.info("notify.sms_sent", key=item.key, message_sid=sid)


async def serve_sms(
    outbox: Outbox,
    config: Config,
    *,
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Send the confirmation texts until cancelled (``sms_enabled``)."""
    rest = TwilioRest.from_config(config)
    assert rest is not None, "sms_enabled checked the credentials"
    async with rest:
        sender = SmsSender(rest, config)
        await serve_outbox(
            outbox, (SMS_TOPIC,), sender.deliver, config.notify, task_status=task_status
        )
