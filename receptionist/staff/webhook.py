"""The clinic's webhook: each call's report, and each message left for the clinic, POSTed as
signed JSON (signature.py) from the outbox (delivery.py).

The body is ``{"id", "type", "clinic", "data"}``: ``type`` is ``call.report`` (data: the
report, staff/report.py) or ``clinic.message`` (data: the message's row); ``id`` is the same
on every try at one item and is sent as ``X-Receptionist-Delivery`` too, so the receiver
drops a repeat. Any 2xx answer is a delivery; anything else, a connection that fails, or no
answer within ``[notify] timeout_s`` is a failure to retry.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import httpx
import structlog
import trio

from receptionist.config import Config
from receptionist.errors import DeliveryFailed
from receptionist.staff.delivery import Outbox, serve_outbox
from receptionist.staff.signature import DELIVERY_HEADER, SIGNATURE_HEADER, signature_header

if TYPE_CHECKING:
    from receptionist.scheduling.outbox import OutboxItem

log = structlog.get_logger(__name__)

REPORT_TOPIC = "report"
MESSAGE_TOPIC = "clinic_message"
"""Messages the caller left for the clinic (the escalation's outbox rows): they reach the
clinic on their own, even when a report fails."""
EVENT_TYPES = {REPORT_TOPIC: "call.report", MESSAGE_TOPIC: "clinic.message"}
USER_AGENT = "receptionist-webhook/1"


def report_key(call_sid: str) -> str:
    return f"call:{call_sid}"


def webhook_configured(config: Config) -> bool:
    """A URL and its secret: reports go to the outbox only then."""
    return bool(config.notify.webhook_url and config.secrets.webhook_secret)


def webhook_enabled(config: Config) -> bool:
    """``webhook_configured``, warning at start-up when it is half set up."""
    if config.notify.webhook_url and not config.secrets.webhook_secret:
        log.warning(
            "notify.webhook_off", reason="[notify] webhook_url is set but not the secret",
            hint="set RECEPTIONIST_WEBHOOK_SECRET",
        )  # fmt: skip
        return False
    if config.notify.webhook_url and not config.records.enabled:
        log.warning("notify.no_reports", reason="[records] enabled = false: no report is made")
    return webhook_configured(config)


def webhook_body(item: OutboxItem, clinic: str) -> bytes:
    envelope = {
        "id": delivery_id(item),
        "type": EVENT_TYPES.get(item.topic, item.topic),
        "clinic": clinic,
        "data": dict(item.payload),
    }
    return json.dumps(envelope, ensure_ascii=False, separators=(",", ":")).encode()


def delivery_id(item: OutboxItem) -> str:
    return f"{item.topic}:{item.key}"


class WebhookSender:
    """POSTs one outbox item to the webhook; raises DeliveryFailed unless it is taken."""

    def __init__(
        self, http: httpx.AsyncClient, config: Config, *, clock: Callable[[], float] = time.time
    ) -> None:
        self._http = http
        self._url = config.notify.webhook_url
        self._secret = config.secrets.webhook_secret
        self._clinic = config.clinic.name
        self._timeout_s = config.notify.timeout_s
        self._clock = clock

    async def deliver(self, item: OutboxItem) -> None:
        body = webhook_body(item, self._clinic)
        headers = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            SIGNATURE_HEADER: signature_header(self._secret, body, int(self._clock())),
            DELIVERY_HEADER: delivery_id(item),
        }
        try:
            with trio.fail_after(self._timeout_s):  # the whole exchange, however it trickles
                response = await self._http.post(self._url, content=body, headers=headers)
        except trio.TooSlowError as exc:
            raise DeliveryFailed(f"no answer from the webhook within {self._timeout_s} s") from exc
        except httpx.HTTPError as exc:
            raise DeliveryFailed(f"webhook request failed: {exc!r}") from exc
        if not response.is_success:
            raise DeliveryFailed(f"the webhook answered {response.status_code}")


async def serve_webhook(
    outbox: Outbox,
    config: Config,
    *,
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Deliver reports and messages for the clinic until cancelled (``webhook_enabled``)."""
    timeout = httpx.Timeout(config.notify.timeout_s)
    async with httpx.AsyncClient(timeout=timeout, follow_redirects=False) as http:
        sender = WebhookSender(http, config)
        await serve_outbox(
            outbox, (REPORT_TOPIC, MESSAGE_TOPIC), sender.deliver, config.notify,
            task_status=task_status,
        )  # fmt: skip
