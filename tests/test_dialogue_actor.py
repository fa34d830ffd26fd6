"""The Dialogue actor over memory channels, on a mock clock."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import date, datetime, time
from functools import partial
from zoneinfo import ZoneInfo

import pytest
import trio
import trio.testing
from structlog.testing import capture_logs

from receptionist.config import Config, parse_config
from receptionist.messages import (
    CallStarted,
    CallStopped,
    ClearAudio,
    DtmfPressed,
    EndCall,
    EndReason,
    Expectation,
    ListenFor,
    MarkPlayed,
    Sentence,
    SpeechStarted,
    SpeechStopped,
    Transcript,
)
from receptionist.scheduling.messages import FindFreeSlots, FreeSlots, SchedulerRequest
from receptionist.turns.cancellation import TurnCancellation
from stages.dialogue import DialogueEvent, run_dialogue

TZ = ZoneInfo("America/New_York")
NOW = datetime(2026, 11, 26, 15, 0, tzinfo=TZ)
TUESDAY = date(2026, 12, 1)
TEST_TIMEOUT_S = 60
"""Mock-clock seconds: the longest test waits out two reprompt periods."""
REPROMPT_AFTER_S = 8.0
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
WITH_TRANSFER = replace(CONFIG, clinic=replace(CONFIG.clinic, transfer_number="+15550001111"))


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

    async def caller_says(self, text: str) -> Transcript:
        now = trio.current_time()
        await self.events.send(SpeechStarted(now))
        await self.events.send(SpeechStopped(now + 0.5))
        transcript = Transcript(text, True, speech_ended_at=now + 0.5, at=now + 0.8)
        await self.events.send(transcript)
        return transcript

    async def greeted(self) -> list[Sentence]:
        await self.events.send(CallStarted("CA1", "MZ1", "+15551234567", at=trio.current_time()))
        assert await self.hints.receive() == ListenFor(Expectation.OPEN)
        greeting = await self.turn()
        await self.played(greeting)
        return greeting


@contextlib.asynccontextmanager
async def dialogue(config: Config = CONFIG) -> AsyncIterator[Harness]:
    events_send, events_recv = trio.open_memory_channel[DialogueEvent](16)
    sentences_send, sentences_recv = trio.open_memory_channel[Sentence](16)
    twilio_send, twilio_recv = trio.open_memory_channel[ClearAudio | EndCall](4)
    hints_send, hints_recv = trio.open_memory_channel[ListenFor](4)
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
                )
            )
            yield Harness(
                events_send, sentences_recv, twilio_recv, hints_recv, scheduler_recv, turns
            )
            # The actor may have stopped already (the test sent CallStopped itself).
            with contextlib.suppress(trio.BrokenResourceError):
                await events_send.send(CallStopped(trio.current_time()))


async def test_greeting_turn_on_call_started(autojump_clock: trio.abc.Clock) -> None:
    async with dialogue() as call:
        await trio.sleep(1)
        await call.events.send(CallStarted("CA1", "MZ1", "+15551234567", at=1.0))
        assert await call.hints.receive() == ListenFor(Expectation.OPEN)
        greeting = await call.turn()
        assert [(s.turn_id, s.index, s.text, s.last) for s in greeting] == [
            (1, 0, "Thank you for calling Riverside Family Clinic.", False),
            (1, 1, "How can I help?", True),
        ]
        timings = greeting[0].timings
        assert (timings.speech_ended, timings.transcript_final) == (None, None)
        assert timings.first_output == timings.first_sentence == trio.current_time()


async def test_a_transcript_gets_a_reply_turn_with_its_timings(
    autojump_clock: trio.abc.Clock,
) -> None:
    async with dialogue() as call:
        await call.greeted()
        with capture_logs() as logs:
            heard = await call.caller_says("i'd like to book an appointment")
            assert await call.hints.receive() == ListenFor(Expectation.OPEN)
            reply = await call.turn()
        assert [s.text for s in reply] == ["Of course.", "What's the appointment for?"]
        assert {s.turn_id for s in reply} == {2}
        assert all(s.caller_text == "i'd like to book an appointment" for s in reply)
        timings = reply[0].timings
        assert timings.speech_ended == heard.speech_ended_at
        assert timings.transcript_final == heard.at
        assert timings.first_output == timings.first_sentence == trio.current_time()
        events = [(log["event"], log.get("text")) for log in logs]
        assert events == [
            ("dialogue.heard", "i'd like to book an appointment"),
            ("dialogue.said", "Of course. What's the appointment for?"),
        ]


async def test_yes_no_question_hints_the_listener(autojump_clock: trio.abc.Clock) -> None:
    async with dialogue() as call:
        await call.greeted()
        await call.caller_says("can i book a check up on tuesday")
        request = await call.scheduler.receive()
        assert request == FindFreeSlots(1, "check-up", TUESDAY)
        slot = datetime.combine(TUESDAY, time(10), TZ)
        await call.events.send(FreeSlots(1, TUESDAY, (slot,), True))
        assert await call.hints.receive() == ListenFor(Expectation.TIME)
        offer = await call.turn()
        assert offer[-1].text == "Which would suit you?"
        # The reply to the caller's words came via the Scheduler: it still carries their timings.
        assert offer[0].timings.transcript_final is not None


async def test_barge_in_cancels_the_turn_and_clears_twilio(
    autojump_clock: trio.abc.Clock,
) -> None:
    async with dialogue() as call:
        await call.events.send(CallStarted("CA1", "MZ1", "+15551234567"))
        greeting = await call.turn()
        synthesis_cancelled = trio.Event()

        async def synthesize_turn_1() -> None:
            with call.turns.scope(greeting[0].turn_id) as scope:
                await trio.sleep_forever()
            if scope.cancelled_caught:
                synthesis_cancelled.set()

        async with trio.open_nursery() as nursery:
            nursery.start_soon(synthesize_turn_1)
            await trio.testing.wait_all_tasks_blocked()
            await trio.sleep(1)
            await call.events.send(SpeechStarted(trio.current_time()))
            assert await call.to_twilio.receive() == ClearAudio(1, at=trio.current_time())
        assert synthesis_cancelled.is_set()
        assert call.turns.is_cancelled(1)
        # The caller's words are answered as usual.
        await call.events.send(Transcript("what are your opening hours", True, None, 2.0))
        answer = await call.turn()
        assert answer[0].text.startswith("We're open Monday and Tuesday")


async def test_speech_after_the_turn_has_played_is_no_barge_in(
    autojump_clock: trio.abc.Clock,
) -> None:
    async with dialogue() as call:
        await call.greeted()
        await call.events.send(SpeechStarted(trio.current_time()))
        await trio.testing.wait_all_tasks_blocked()
        with pytest.raises(trio.WouldBlock):
            call.to_twilio.receive_nowait()
        assert not call.turns.is_cancelled(1)


async def test_reprompt_after_silence_once_the_last_mark_came_back(
    autojump_clock: trio.abc.Clock,
) -> None:
    async with dialogue() as call:
        await call.events.send(CallStarted("CA1", "MZ1", "+15551234567"))
        greeting = await call.turn()
        # Still playing (only the first sentence's mark is back): no reprompt, however long.
        await call.events.send(MarkPlayed("turn1-s0", trio.current_time()))
        await trio.sleep(3 * REPROMPT_AFTER_S)
        with pytest.raises(trio.WouldBlock):
            call.sentences.receive_nowait()
        await call.played(greeting)
        played_at = trio.current_time()
        reprompt = await call.turn()
        assert trio.current_time() - played_at == pytest.approx(REPROMPT_AFTER_S)
        assert [s.text for s in reprompt] == ["Are you still there?", "How can I help?"]
        assert reprompt[0].turn_id == 2


async def test_speech_resets_the_silence_clock(autojump_clock: trio.abc.Clock) -> None:
    async with dialogue() as call:
        await call.greeted()
        await trio.sleep(REPROMPT_AFTER_S - 1)
        await call.events.send(SpeechStarted(trio.current_time()))  # a cough, no words
        await trio.sleep(REPROMPT_AFTER_S)
        await call.events.send(SpeechStopped(trio.current_time()))
        stopped_at = trio.current_time()
        await call.turn()
        assert trio.current_time() - stopped_at == pytest.approx(REPROMPT_AFTER_S)


async def test_end_call_after_the_goodbye_has_played(autojump_clock: trio.abc.Clock) -> None:
    async with dialogue() as call:
        await call.greeted()
        await call.caller_says("no that's all thanks bye")
        goodbye = await call.turn()
        assert [s.text for s in goodbye] == [
            "Thank you for calling Riverside Family Clinic.",
            "Goodbye!",
        ]
        # The caller speaking over the goodbye does not cut it short.
        await call.events.send(SpeechStarted(trio.current_time()))
        await trio.sleep(REPROMPT_AFTER_S * 2)
        with pytest.raises(trio.WouldBlock):
            call.to_twilio.receive_nowait()
        await call.played(goodbye)
        assert await call.to_twilio.receive() == EndCall(EndReason.COMPLETED)


async def test_transfer_after_the_line_has_played(autojump_clock: trio.abc.Clock) -> None:
    async with dialogue(WITH_TRANSFER) as call:
        await call.greeted()
        await call.caller_says("can i speak to someone real please")
        putting_through = await call.turn()
        await trio.testing.wait_all_tasks_blocked()
        with pytest.raises(trio.WouldBlock):
            call.to_twilio.receive_nowait()
        await call.played(putting_through)
        assert await call.to_twilio.receive() == EndCall(
            EndReason.TRANSFER, transfer_to="+15550001111"
        )


async def test_keypad_digits_reach_the_conversation(autojump_clock: trio.abc.Clock) -> None:
    async with dialogue() as call:
        await call.events.send(CallStarted("CA1", "MZ1", None))
        await call.played(await call.turn())
        await call.caller_says("cancel my appointment")
        assert (await call.turn())[-1].text.endswith("followed by the hash key.")
        for digit in "5559876543#":
            await call.events.send(DtmfPressed(digit, trio.current_time()))
        request = await call.scheduler.receive()
        assert request.phone == "+15559876543"  # type: ignore[union-attr]


async def test_call_stopped_ends_the_actor_and_closes_its_channels(
    autojump_clock: trio.abc.Clock,
) -> None:
    async with dialogue() as call:
        await call.events.send(CallStopped(trio.current_time()))
        with pytest.raises(trio.EndOfChannel):
            await call.sentences.receive()
        with pytest.raises(trio.EndOfChannel):
            await call.to_twilio.receive()


async def test_a_reply_arriving_after_the_caller_hung_up_is_not_a_crash(
    autojump_clock: trio.abc.Clock,
) -> None:
    """The Scheduler answers a request sent just before the hang-up: the call ends cleanly."""
    async with dialogue() as call:
        await call.greeted()
        scheduler_replies = call.events.clone()
        await call.caller_says("can i book a check up on tuesday")
        request = await call.scheduler.receive()
        await call.events.send(CallStopped(trio.current_time()))
        await trio.testing.wait_all_tasks_blocked()
        # The Dialogue has finished its conversation, but still reads its inbox.
        slot = datetime.combine(TUESDAY, time(10), TZ)
        await scheduler_replies.send(FreeSlots(request.request_id, TUESDAY, (slot,), True))
        scheduler_replies.close()
        # Once every sender is gone the Dialogue has closed the Scheduler's requests.
        with pytest.raises(trio.EndOfChannel):
            await call.scheduler.receive()
