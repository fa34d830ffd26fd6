"""The offline Dialogue actor driven alone: its harness, clinic config and clock."""

from __future__ import annotations

import contextlib
import math
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import date, datetime, time
from functools import partial
from zoneinfo import ZoneInfo

import trio
import trio.testing

from receptionist.config import Config, OpeningHours, parse_config
from receptionist.llm.client import LlmClient
from receptionist.messages import (
    CallerSettled,
    CallStarted,
    CallStopped,
    ClearAudio,
    EndCall,
    Expectation,
    ListenFor,
    MarkPlayed,
    Sentence,
    SpeechPaused,
    SpeechResumed,
    SpeechStarted,
    SpeechStopped,
    Transcript,
)
from receptionist.scheduling.messages import SchedulerRequest
from receptionist.turns.cancellation import TurnCancellation
from stages.dialogue import DialogueEvent, run_dialogue

TZ = ZoneInfo("America/New_York")
NOW = datetime(2026, 11, 26, 15, 0, tzinfo=TZ)
TUESDAY = date(2026, 12, 1)
TEST_TIMEOUT_S = 60
"""Mock-clock seconds: the longest test waits out two reprompt periods."""
REPROMPT_AFTER_S = 8.0
GRACE_S = 0.7
"""[turn_taking] hang_up_grace_ms: the line closes after this much of the caller's silence."""
CONFIG = parse_config(
    {
        "clinic": {
            "name": "Riverside Family Clinic",
            "timezone": "America/New_York",
            "greeting": "Thank you for calling Riverside Family Clinic. How can I help?",
            "hours": {"monday": "09:00-17:00", "tuesday": "09:00-17:00"},
        },
        "services": [{"name": "check-up", "minutes": 30, "words": ["check up"]}],
        "dialogue": {"reprompt_after_s": REPROMPT_AFTER_S, "max_reprompts": 2},
    }
)


THURSDAYS = replace(CONFIG.clinic.hours, thursday=OpeningHours(time(9), time(17)))
WITH_TRANSFER = replace(
    CONFIG, clinic=replace(CONFIG.clinic, transfer_number="+15550001111", hours=THURSDAYS)
)
"""Open on Thursdays too: NOW (Thursday 3 PM) is in opening hours, when a person may answer."""


@dataclass
class Harness:
    """The ends of the Dialogue's channels that the rest of the call would hold."""

    events: trio.MemorySendChannel[DialogueEvent]
    sentences: trio.MemoryReceiveChannel[Sentence]
    to_twilio: trio.MemoryReceiveChannel[ClearAudio | EndCall]
    hints: trio.MemoryReceiveChannel[ListenFor]
    scheduler: trio.MemoryReceiveChannel[SchedulerRequest]
    turns: TurnCancellation

    async def turn(self) -> list[Sentence]:
        """Every sentence of the next agent turn."""
        sentences = [await self.sentences.receive()]
        while not sentences[-1].last:
            sentences.append(await self.sentences.receive())
        return sentences

    async def played(self, turn: list[Sentence]) -> None:
        """Twilio echoes the mark after the turn's last sentence."""
        last = turn[-1]
        await self.events.send(MarkPlayed(f"turn{last.turn_id}-s{last.index}", trio.current_time()))

    async def caller_says(self, text: str, confidence: float | None = None) -> Transcript:
        now = trio.current_time()
        await self.events.send(SpeechStarted(now))
        await self.events.send(SpeechStopped(now + 0.5))
        transcript = Transcript(text, True, now + 0.5, now + 0.8, confidence)
        await self.events.send(transcript)
        return transcript

    async def greeted(self) -> list[Sentence]:
        await self.events.send(CallStarted("CA1", "MZ1", "+15551234567", at=trio.current_time()))
        assert await self.hints.receive() == ListenFor(Expectation.OPEN)
        greeting = await self.turn()
        await self.played(greeting)
        return greeting


@contextlib.asynccontextmanager
async def dialogue(
    config: Config = CONFIG,
    *,
    llm: LlmClient | None = None,
    hints: int = 4,
    listener_settles: bool = True,
) -> AsyncIterator[Harness]:
    """The Dialogue actor alone, on the offline brain or, given ``llm``, the LLM brain.

    ``listener_settles``: send ``CallerSettled`` as the Listener would (on the clock, as if
    the audio came in real time); False: the test sends it (the audio came late)."""
    events_send, events_recv = trio.open_memory_channel[DialogueEvent](16)
    test_send, test_recv = trio.open_memory_channel[DialogueEvent](16)
    sentences_send, sentences_recv = trio.open_memory_channel[Sentence](16)
    twilio_send, twilio_recv = trio.open_memory_channel[ClearAudio | EndCall](4)
    hints_send, hints_recv = trio.open_memory_channel[ListenFor](hints)
    scheduler_send, scheduler_recv = trio.open_memory_channel[SchedulerRequest](4)
    turns = TurnCancellation()
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
                    llm=llm,
                )
            )
            settle_s = config.turn_taking.settle_ms / 1000 if listener_settles else math.inf
            nursery.start_soon(_as_the_listener, test_recv, events_send, settle_s)
            yield Harness(test_send, sentences_recv, twilio_recv, hints_recv, scheduler_recv, turns)
            # The actor may have stopped already (the test sent CallStopped itself).
            with contextlib.suppress(trio.BrokenResourceError):
                await test_send.send(CallStopped(trio.current_time()))
            test_send.close()


async def _as_the_listener(
    sent: trio.MemoryReceiveChannel[DialogueEvent],
    events: trio.MemorySendChannel[DialogueEvent],
    settle_s: float,
) -> None:
    """What the test sends, on to the Dialogue as the Listener would send it: with
    ``CallerSettled`` once ``settle_s`` has passed after a final with words or the caller's
    stop with no speech since (the Listener counts those quiet frames; here, the clock)."""
    quiet = trio.CancelScope()

    async def settle_after(scope: trio.CancelScope) -> None:
        with scope:  # math.inf: the test settles the caller itself
            await trio.sleep(settle_s)
            with contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError):
                await events.send(CallerSettled(trio.current_time()))

    async with trio.open_nursery() as nursery:
        speaking = False
        async for event in sent:
            restart = False
            match event:
                case SpeechStarted() | SpeechResumed():
                    speaking = True
                    quiet.cancel()
                case SpeechStopped() | SpeechPaused():
                    speaking, restart = False, True
                case Transcript(is_final=True, text=text) if text.strip() and not speaking:
                    restart = True
            with contextlib.suppress(trio.BrokenResourceError):
                await events.send(event)
            if restart:
                quiet.cancel()
                quiet = trio.CancelScope()
                nursery.start_soon(settle_after, quiet)
        nursery.cancel_scope.cancel()
