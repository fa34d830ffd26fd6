"""The sections on how calls are served: the server, the dialogue's timing, turn-taking,
buffer sizes, Twilio pacing and logging."""

from __future__ import annotations

import logging
import re
from typing import Annotated

from pydantic import AfterValidator, Field
from pydantic.dataclasses import dataclass

from receptionist.config.values import (
    SECTION,
    Bool,
    Count,
    Float,
    Int,
    NonBlank,
    PositiveFloat,
    PositiveInt,
    Text,
    url,
)
from receptionist.messages import FRAME_MS

E164 = re.compile(r"\+[1-9]\d{6,14}")


def _empty_or_url(value: str) -> str:
    return url("https", "http")(value) if value else value


def _empty_or_e164(value: str) -> str:
    if value and not E164.fullmatch(value):
        raise ValueError(f"must be an E.164 number like '+15551234567', got {value!r}")
    return value


@dataclass(frozen=True, slots=True, config=SECTION)
class ServerConfig:
    host: NonBlank = "0.0.0.0"
    port: Annotated[Int, Field(ge=0, le=65535)] = 8080
    """0: any free port."""
    public_url: Annotated[Text, AfterValidator(_empty_or_url)] = ""
    max_calls: Count = 16
    """0 refuses every stream. Each server process enforces its own."""
    drain_timeout_s: PositiveFloat = 60.0
    """After SIGTERM, how long calls in progress may go on before they are ended politely."""
    heartbeat_s: PositiveFloat = 5.0
    """How often each server announces itself in the database; it counts as live for three
    times as long, so a draining server sends callers only to servers alive (heartbeat.py)."""


@dataclass(frozen=True, slots=True, config=SECTION)
class DialogueConfig:
    reprompt_after_s: PositiveFloat = 8.0
    max_reprompts: Count = 2
    min_confidence: Annotated[Float, Field(ge=0, le=1)] = 0.0
    """An answer to a narrow question (yes or no, a day, a time, digits) heard with less
    confidence than this is checked with the caller, or asked again, before it is acted on.
    Off by default: pocketsphinx's posteriors do not tell right from wrong (a right "next
    tuesday" scored 0.0056, the misheard "the eighth please" 0.03); Deepgram's do."""


@dataclass(frozen=True, slots=True, config=SECTION)
class TurnTakingConfig:
    """When the caller's turn is over, and when a barge-in was a false alarm (turn_taking.py)."""

    unfinished_wait_ms: Count = 1500
    complete_wait_ms: Count = 0
    """The wait after a final that sounds complete, at the start of a call."""
    complete_wait_step_ms: Count = 0
    """Added to it each time the caller goes on after a turn that sounded complete. 0: about
    100 ms sooner at p50 than 250, for a rare simultaneous start (config.toml has the figures);
    side-effecting tools are safe either way (they wait for the caller's quiet)."""
    complete_wait_max_ms: Count = 750
    settle_ms: Count = 300
    """A side-effecting tool waits for this much of the caller's quiet audio after their final
    (overlapping the model's own latency; turns/settling.py): speech in it means the turn was
    not over, and the tool never runs."""
    settle_max_ms: Count = 1200
    """On a line whose noise keeps sounding voiced without becoming speech, this much audio
    after the final settles the turn all the same."""
    hang_up_grace_ms: Count = 700
    """After the goodbye has played, the caller's silence this long before the line is closed."""
    goodbye_mark_timeout_ms: Count = 10000
    """Longest wait for the goodbye's mark before the grace period starts anyway."""
    false_barge_in_ms: Count = 800
    preemptive_generation: Bool = True
    preemptive_after_ms: PositiveInt = 100


@dataclass(frozen=True, slots=True, config=SECTION)
class BufferConfig:
    """Every channel in a call is bounded; these are their sizes, in messages (at least 1)."""

    inbound_audio_frames: PositiveInt = 50
    dialogue_events: PositiveInt = 64
    hints: PositiveInt = 4
    sentences: PositiveInt = 16
    outbound_frames: PositiveInt = 100
    scheduler: PositiveInt = 8
    preemptive_tokens: PositiveInt = 128


@dataclass(frozen=True, slots=True, config=SECTION)
class TwilioConfig:
    send_ahead_ms: Count = 80
    media_message_ms: Annotated[Int, Field(ge=FRAME_MS, le=200, multiple_of=FRAME_MS)] = 40
    """Outbound audio goes to Twilio in media messages of up to this much (whole 20 ms
    frames): Twilio then holds ``send_ahead_ms`` to ``send_ahead_ms`` plus this."""
    api_base_url: Annotated[NonBlank, AfterValidator(url("https", "http"))] = (
        "https://api.twilio.com"
    )
    """Twilio's REST API (staff/twilio_rest.py); tests point it at the fake."""
    phone_number: Annotated[Text, AfterValidator(_empty_or_e164)] = ""
    """The clinic's Twilio number (E.164): the From of staff calls and SMS."""


def _log_level(name: str) -> str:
    if name.upper() not in logging.getLevelNamesMapping():
        raise ValueError(f"must be debug, info, warning, error or critical, got {name!r}")
    return name


@dataclass(frozen=True, slots=True, config=SECTION)
class LoggingConfig:
    level: Annotated[Text, AfterValidator(_log_level)] = "info"
