"""The [notify] section: what reaches the clinic and the caller after a call (staff/)."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator
from pydantic.dataclasses import dataclass

from receptionist.config.values import SECTION, Bool, PositiveFloat, PositiveInt, Text

LOCAL_HTTP = "http://127.0.0.1"
"""Plain HTTP only to this machine (tests, a local relay): a report holds a caller's details."""


def _webhook_url(value: str) -> str:
    if value and not (
        (value.startswith("https://") and len(value) > len("https://"))
        or value.startswith((LOCAL_HTTP + ":", LOCAL_HTTP + "/"))
    ):
        raise ValueError(f"must be an https:// URL (or {LOCAL_HTTP}), got {value!r}")
    return value


@dataclass(frozen=True, slots=True, config=SECTION)
class NotifyConfig:
    webhook_url: Annotated[Text, AfterValidator(_webhook_url)] = ""
    """Each call's report (and each message for the clinic) is POSTed here, signed with
    RECEPTIONIST_WEBHOOK_SECRET; "" (or no secret): kept locally only."""
    sms_confirmations: Bool = True
    """Text the caller after a booking, move or cancellation (needs [twilio] phone_number)."""
    summary_timeout_s: PositiveFloat = 5.0
    """The LLM brain's summary of a call; past this the report keeps the composed one."""
    timeout_s: PositiveFloat = 10.0
    """One delivery (a webhook POST, an SMS request), from connecting to the answer."""
    max_attempts: PositiveInt = 10
    """A delivery still failing after this many tries is given up and logged (error)."""
    retry_initial_s: PositiveFloat = 5.0
    retry_max_s: PositiveFloat = 900.0
    """Between tries: doubling from retry_initial_s, capped here."""
    poll_s: PositiveFloat = 2.0
    """How often the outbox is looked at when it had nothing due."""
    lease_s: PositiveFloat = 60.0
    """An item taken from the outbox is this process's for this long (longer than timeout_s)."""
    batch: PositiveInt = 10
