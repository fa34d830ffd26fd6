"""The Dialogue actor on the LLM brain against the fake OpenAI server."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import replace

import trio
import trio.testing

from receptionist.config import Config, Secrets
from receptionist.devtools.fakes.openai import FakeOpenAI, Scripted
from receptionist.messages import (
    CallStarted,
)
from receptionist.scheduling.messages import (
    Appointment,
    BookSlot,
)
from tests.helpers.dialogue import CONFIG as OFFLINE_CONFIG
from tests.helpers.dialogue import Harness, dialogue
from tests.helpers.llm import openai_in_process, openai_server

GRACE_S = OFFLINE_CONFIG.turn_taking.hang_up_grace_ms / 1000
CONFIG = replace(
    OFFLINE_CONFIG,
    engines=replace(OFFLINE_CONFIG.engines, dialogue="openai"),
    llm=replace(OFFLINE_CONFIG.llm, first_token_timeout_s=2.0, stall_timeout_s=2.0),
    secrets=Secrets(llm_api_key="sk-test"),
)


@contextlib.asynccontextmanager
async def llm_dialogue(
    *replies: Scripted,
    config: Config = CONFIG,
    token_delay_s: float = 0.0,
    in_process: bool = False,
    listener_settles: bool = True,
) -> AsyncIterator[tuple[Harness, FakeOpenAI]]:
    """``in_process``: the fake model without a socket, for tests under ``autojump_clock``.
    ``listener_settles``: see ``dialogue``."""
    model = openai_in_process if in_process else openai_server
    async with (
        model(*replies, config=config, token_delay_s=token_delay_s) as (fake, client),
        dialogue(config, llm=client, hints=16, listener_settles=listener_settles) as harness,
    ):
        yield harness, fake


async def greeted(call: Harness) -> None:
    await call.events.send(CallStarted("CA1", "MZ1", "+15551234567", at=trio.current_time()))
    await call.played(await call.turn())


def appointment_for(request: BookSlot) -> Appointment:
    end = request.start.replace(minute=30)
    return Appointment(9, request.start, end, request.service, request.name, request.phone, "")
