"""The Dialogue actor over memory channels, on a mock clock."""

from __future__ import annotations

from datetime import datetime, time

import pytest
import trio
import trio.testing
from structlog.testing import capture_logs

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
    SpeechStarted,
    SpeechStopped,
    Transcript,
)
from receptionist.scheduling.messages import FindFreeSlots, FreeSlots
from tests.helpers.dialogue import (
    CONFIG,
    GRACE_S,
    REPROMPT_AFTER_S,
    TUESDAY,
    TZ,
    WITH_TRANSFER,
    dialogue,
)


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
        # The caller's words are answered as usual, once they stop.
        await call.events.send(SpeechStopped(trio.current_time()))
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
        # The caller speaking over the goodbye does not cut it short, and the line is not
        # closed on them: only once they have been silent for the grace period.
        await call.events.send(SpeechStarted(trio.current_time()))
        await trio.sleep(REPROMPT_AFTER_S * 2)
        await call.played(goodbye)
        await trio.sleep(REPROMPT_AFTER_S * 2)
        with pytest.raises(trio.WouldBlock):
            call.to_twilio.receive_nowait()
        stopped_at = trio.current_time()
        await call.events.send(SpeechStopped(stopped_at))
        assert await call.to_twilio.receive() == EndCall(EndReason.COMPLETED)
        assert trio.current_time() - stopped_at == pytest.approx(GRACE_S)


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


async def test_a_stream_that_never_echoes_the_goodbyes_mark_still_ends_the_call(
    autojump_clock: trio.abc.Clock,
) -> None:
    # The peer misbehaves: it plays the goodbye but never sends its mark back.
    async with dialogue() as call:
        await call.greeted()
        await call.caller_says("no that's all thanks bye")
        await call.turn()
        began = trio.current_time()
        with capture_logs() as logs:
            assert await call.to_twilio.receive() == EndCall(EndReason.COMPLETED)
        mark_timeout_s = CONFIG.turn_taking.goodbye_mark_timeout_ms / 1000
        assert trio.current_time() - began == pytest.approx(mark_timeout_s + GRACE_S, abs=1)
        assert [e["event"] for e in logs].count("dialogue.goodbye_mark_missing") == 1
