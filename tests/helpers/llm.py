"""The LLM agent against the fake OpenAI server: scripts, the server, a call's ports."""

from __future__ import annotations

import contextlib
import json
from collections import deque
from collections.abc import AsyncIterator
from contextlib import aclosing
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import trio

from receptionist.config import Config, load_config
from receptionist.devtools.fakes.openai import FakeOpenAI, Scripted, ToolCallScript
from receptionist.devtools.fakes.openai_transport import FakeOpenAITransport
from receptionist.llm import LlmAgent, LlmClient, LlmEngine
from receptionist.scheduling.messages import (
    Appointment,
    SchedulerReply,
    SchedulerRequest,
)
from tests.helpers.clinic import PHONE, TUESDAY, at, clinic_config
from tests.helpers.paths import PROJECT_ROOT

TEST_TIMEOUT_S = 10
BASE = clinic_config(Path("unused.sqlite3"))
CONFIG = replace(BASE, llm=replace(BASE.llm, first_token_timeout_s=2.0, stall_timeout_s=2.0))
NOW = at(TUESDAY, "08:00")
KEY = "sk-test-0123456789"
CHECK_TUESDAY = ToolCallScript(
    "check_availability", {"service": "check-up", "date": "2026-12-01"}, fragments=5
)


BOOK_TUESDAY = ToolCallScript(
    "book_appointment",
    {
        "service": "check-up",
        "date": "2026-12-01",
        "time": "09:00",
        "name": "Ada Lovelace",
        "reason": "annual check-up",
    },
    fragments=6,
)


NINE = at(TUESDAY, "09:00")


@contextlib.asynccontextmanager
async def openai_server(
    *replies: Scripted,
    config: Config = CONFIG,
    api_key: str | None = KEY,
    token_delay_s: float = 0.0,
) -> AsyncIterator[tuple[FakeOpenAI, LlmClient]]:
    """The fake server, and a client of it, for one test (bounded by TEST_TIMEOUT_S)."""
    fake = FakeOpenAI(deque(replies), token_delay_s=token_delay_s)
    with trio.fail_after(TEST_TIMEOUT_S):
        async with trio.open_nursery() as nursery:
            base_url = await nursery.start(fake.serve)
            engine = LlmEngine(replace(config.llm, base_url=base_url), api_key=api_key)
            async with engine.open_client() as client:
                yield fake, client
            nursery.cancel_scope.cancel()


@contextlib.asynccontextmanager
async def openai_in_process(
    *replies: Scripted, config: Config = CONFIG, token_delay_s: float = 0.0
) -> AsyncIterator[tuple[FakeOpenAI, LlmClient]]:
    """The fake model served in process (no socket), and a client of it: the whole
    conversation runs on trio's clock, so under ``autojump_clock``. Enter it before any
    deadline (see ``_warm``); the test sets its own."""
    fake = FakeOpenAI(deque(replies), token_delay_s=token_delay_s)
    engine = LlmEngine(replace(config.llm, base_url=IN_PROCESS_URL), api_key=KEY)
    async with engine.open_client(FakeOpenAITransport(fake)) as client:
        await _warm(fake, client)
        yield fake, client


IN_PROCESS_URL = "http://fake-openai.invalid/v1"
"""Never resolved: the transport answers in process."""


async def _warm(fake: FakeOpenAI, client: LlmClient) -> None:
    """The SDK's first request looks up the platform in a worker thread, once per client;
    autojump would take that wait for idleness and jump to the next deadline. So one
    request is made here, while no deadline is set, and forgotten."""
    fake.untooled_reply = Scripted(text="Ready.")
    async with aclosing(client.stream([{"role": "user", "content": "warm-up"}], [])) as events:
        async for _event in events:
            pass
    fake.untooled_reply = None
    fake.untooled.clear()
    fake.sent.clear()


@dataclass
class Call:
    """The agent's surroundings: what it said, and a Scheduler answering from a script."""

    replies: dict[type, SchedulerReply] = field(default_factory=dict)
    said: list[tuple[float, str, bool]] = field(default_factory=list)
    asked: list[SchedulerRequest] = field(default_factory=list)

    async def say(self, text: str, last: bool) -> None:
        self.said.append((trio.current_time(), text, last))

    async def call_tool(self, request: SchedulerRequest) -> SchedulerReply:
        self.asked.append(request)
        await trio.lowlevel.checkpoint()
        return replace(self.replies[type(request)], request_id=request.request_id)

    @property
    def words(self) -> list[tuple[str, bool]]:
        return [(text, last) for _, text, last in self.said]

    def agent(self, client: LlmClient, config: Config = CONFIG) -> LlmAgent:
        return LlmAgent(client, config, call_tool=self.call_tool, now=lambda: NOW, caller=PHONE)


def messages(fake: FakeOpenAI, request: int) -> list[dict[str, Any]]:
    return fake.requests[request].body["messages"]


async def cancel_when(sent: trio.Event, turn: trio.CancelScope, release: trio.Event) -> None:
    await sent.wait()
    turn.cancel()
    await trio.sleep(0.05)  # the booking's round trip is still waited for, shielded
    release.set()


def appointment_for() -> Appointment:
    return Appointment(9, NINE, at(TUESDAY, "09:30"), "check-up", "Ada Lovelace", PHONE, "")


def openai_config(environ: dict[str, str], **llm: object) -> Config:
    """config.toml with ``engines.dialogue = "openai"`` and these ``[llm]`` settings."""
    settings = [f"llm.{key}={json.dumps(value)}" for key, value in llm.items()]
    overrides = ["engines.dialogue=openai", *settings]
    return load_config(PROJECT_ROOT / "config.toml", overrides, environ=environ)
