"""The Dialogue actor on the LLM brain against the fake OpenAI server."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import replace
from functools import partial

import trio
import trio.testing

from receptionist.config import Config, Secrets
from receptionist.devtools.fakes.openai import FakeOpenAI, Scripted
from receptionist.messages import (
    CallStarted,
    CallStopped,
    ClearAudio,
    EndCall,
    ListenFor,
    Sentence,
)
from receptionist.scheduling.messages import (
    Appointment,
    BookSlot,
    SchedulerRequest,
)
from receptionist.turns.cancellation import TurnCancellation
from stages.dialogue import DialogueEvent, run_dialogue
from tests.helpers.dialogue import CONFIG as OFFLINE_CONFIG
from tests.helpers.dialogue import NOW, Harness
from tests.helpers.llm import openai_server

TEST_TIMEOUT_S = 10
GRACE_S = OFFLINE_CONFIG.turn_taking.hang_up_grace_ms / 1000
CONFIG = replace(
    OFFLINE_CONFIG,
    engines=replace(OFFLINE_CONFIG.engines, dialogue="openai"),
    llm=replace(OFFLINE_CONFIG.llm, first_token_timeout_s=2.0, stall_timeout_s=2.0),
    secrets=Secrets(llm_api_key="sk-test"),
)


@contextlib.asynccontextmanager
async def llm_dialogue(
    *replies: Scripted, config: Config = CONFIG, token_delay_s: float = 0.0
) -> AsyncIterator[tuple[Harness, FakeOpenAI]]:
    events_send, events_recv = trio.open_memory_channel[DialogueEvent](16)
    sentences_send, sentences_recv = trio.open_memory_channel[Sentence](16)
    twilio_send, twilio_recv = trio.open_memory_channel[ClearAudio | EndCall](4)
    hints_send, hints_recv = trio.open_memory_channel[ListenFor](16)
    scheduler_send, scheduler_recv = trio.open_memory_channel[SchedulerRequest](4)
    turns = TurnCancellation()
    async with openai_server(*replies, config=config, token_delay_s=token_delay_s) as (
        fake,
        client,
    ):
        with trio.fail_after(TEST_TIMEOUT_S):
            async with trio.open_nursery() as nursery:
                await nursery.start(
                    partial(
                        run_dialogue,
                        events_recv,
                        sentences_send,
                        twilio_send,
                        hints_send,
                        scheduler_send,
                        config=config,
                        turns=turns,
                        now=lambda: NOW,
                        llm=client,
                    )
                )
                yield (
                    Harness(
                        events_send, sentences_recv, twilio_recv, hints_recv, scheduler_recv, turns
                    ),
                    fake,
                )
                with contextlib.suppress(trio.BrokenResourceError):
                    await events_send.send(CallStopped(trio.current_time()))
                events_send.close()  # the Dialogue drains its inbox until every sender has gone


async def greeted(call: Harness) -> None:
    await call.events.send(CallStarted("CA1", "MZ1", "+15551234567", at=trio.current_time()))
    await call.played(await call.turn())


def appointment_for(request: BookSlot) -> Appointment:
    end = request.start.replace(minute=30)
    return Appointment(9, request.start, end, request.service, request.name, request.phone, "")
