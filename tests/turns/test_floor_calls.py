"""The floor belongs to whoever is speaking (issue 9), through the Dialogue and the real
supervisor: an answer held while the caller goes on, and hanging up only into silence (the
decisions alone: test_floor.py; the LLM's tools: test_floor_llm.py).
"""

from __future__ import annotations

from dataclasses import replace

import pytest
import trio
import trio.testing
from structlog.testing import capture_logs

from receptionist.messages import EndCall, EndReason
from tests.helpers.dialogue import CONFIG, GRACE_S, WITH_TRANSFER, dialogue
from tests.helpers.pipeline import END_SILENCE_S, FRAME_S, HOURS, Call, pipeline

SORRY = "Sorry, I didn't catch that."


# --- Through the supervisor (offline brain) -----------------------------------------------


async def test_the_caller_resumes_before_the_replys_first_frame(
    autojump_clock: trio.abc.Clock,
) -> None:
    resumed = trio.Event()
    async with pipeline() as call:
        await call.twilio.wait_echoed("turn1-s1")

        async def hold_the_reply(text: str, number: int) -> None:
            if text != "Sorry, I didn't catch that.":
                return
            await resumed.wait()  # the reply's synthesis is slow: the caller goes on first

        call.engine.before_chunk = hold_the_reply
        with capture_logs() as logs:
            await call.caller_starts()
            await call.caller_stops("hello there")  # the final ends the turn, the reply begins
            await trio.sleep(0.3 - 2 * FRAME_S)
            await call.caller_starts()  # 300 ms after the final
            resumed.set()
            await call.caller_stops(HOURS)
            await trio.sleep(1)
    heard = [log["text"] for log in logs if log["event"] == "dialogue.heard"]
    assert heard == ["hello there", f"hello there {HOURS}"]  # one turn, answered whole
    [cut] = [log for log in logs if log["event"] == "dialogue.barge_in"]
    assert cut["heard"] == ""
    sorry = call.engine.values("Sorry, I didn't catch that.")
    played = {value for _, value in call.twilio.frames()}
    assert not played & sorry  # not one frame of the answer to the fragment
    assert any(t.startswith("We're open") for t, _ in call.engine.spoken)


@pytest.mark.parametrize("said", [None, "mm"])
async def test_a_noise_before_the_replys_first_frame_holds_it_then_it_plays(
    autojump_clock: trio.abc.Clock, said: str | None
) -> None:
    resumed = trio.Event()
    async with pipeline() as call:
        await call.twilio.wait_echoed("turn1-s1")

        async def slow_reply(text: str, number: int) -> None:
            if text == SORRY:
                await resumed.wait()  # the caller coughs before the reply's first frame

        call.engine.before_chunk = slow_reply
        with capture_logs() as logs:
            await call.caller_starts()
            await call.caller_stops("hello there")
            await trio.sleep(0.3 - 2 * FRAME_S)
            await call.caller_starts()  # a cough, or "mm", 300 ms after the final
            resumed.set()  # the reply is written and synthesised meanwhile
            quiet_at = trio.current_time()
            await call.caller_stops(said)
            await call.twilio.wait_echoed("turn2-s0")
    events = [log["event"] for log in logs]
    assert [log["text"] for log in logs if log["event"] == "dialogue.heard"] == ["hello there"]
    assert events.count("dialogue.hold") == events.count("dialogue.release") == 1
    assert "dialogue.barge_in" not in events
    assert "twilio.clear" not in events
    assert [text for text, _ in call.engine.spoken].count(SORRY) == 1  # written once, kept
    [sorry] = call.engine.values(SORRY)
    played = [at for at, value in call.twilio.frames() if value == sorry]
    assert played
    assert played[0] >= quiet_at  # not one frame while the caller made a sound


async def test_the_caller_resumes_after_the_replys_first_frame(
    autojump_clock: trio.abc.Clock,
) -> None:
    async with pipeline() as call:
        await call.twilio.wait_echoed("turn1-s1")
        with capture_logs() as logs:
            await call.caller_starts()
            await call.caller_stops("hello there")
            # The answer has begun to play when the caller goes on: that is a barge-in.
            await call.twilio.wait_echoed("turn2-s0")
            voiced_at = await call.caller_starts()
            await call.caller_stops(HOURS)
            await trio.sleep(1)
        assert call.twilio.cleared_at() - voiced_at < 0.2
    heard = [log["text"] for log in logs if log["event"] == "dialogue.heard"]
    assert heard == ["hello there", HOURS]
    assert END_SILENCE_S > 0.3  # offline endpointing: a 300 ms breath never ends a turn


async def _reply_delay(call: Call, text: str) -> float:
    """The caller says ``text``; from their stop to the reply's first frame, once it played."""
    await call.caller_starts()
    await trio.sleep(0.5)
    stopped = trio.current_time()
    await call.caller_stops(text)
    await trio.sleep(6)  # the reply plays out
    frames = [at for at, m in call.twilio.received if at > stopped and m["event"] == "media"]
    return frames[0] - stopped


@pytest.mark.parametrize("step_ms", [250, 0])
async def test_a_caller_who_went_on_once_waits_a_step_longer_for_later_replies(
    autojump_clock: trio.abc.Clock, step_ms: int
) -> None:
    """The wait after a complete-sounding final grows by ``complete_wait_step_ms`` each time
    the caller goes on before hearing the answer; with 0 the later replies come as soon."""
    config = replace(CONFIG, turn_taking=replace(CONFIG.turn_taking, complete_wait_step_ms=step_ms))
    resumed = trio.Event()
    async with pipeline(config=config) as call:
        await call.twilio.wait_echoed("turn1-s1")
        before = await _reply_delay(call, HOURS)

        async def hold_the_reply(text: str, number: int) -> None:
            if text == SORRY:
                await resumed.wait()

        call.engine.before_chunk = hold_the_reply
        with capture_logs() as logs:
            await call.caller_starts()
            await call.caller_stops("hello there")
            await trio.sleep(0.3 - 2 * FRAME_S)
            await call.caller_starts()  # they go on before hearing the answer
            resumed.set()
            await call.caller_stops("I'd like to book a check up")
            await trio.sleep(6)
        [cut] = [log for log in logs if log["event"] == "dialogue.barge_in"]
        assert cut["continued"]
        after = await _reply_delay(call, "can I book an appointment")
    assert after - before == pytest.approx(step_ms / 1000, abs=2 * FRAME_S)


# --- Hanging up only into silence -----------------------------------------------------------


async def test_speech_in_the_goodbyes_grace_period_keeps_the_call(
    autojump_clock: trio.abc.Clock,
) -> None:
    async with dialogue() as call:
        await call.greeted()
        await call.caller_says("no that's all thanks bye")
        goodbye = await call.turn()
        await call.played(goodbye)
        await trio.sleep(GRACE_S / 2)
        await call.caller_says("oh one more thing what are your opening hours")
        answer = await call.turn()
        assert answer[0].text.startswith("We're open")
        await trio.sleep(GRACE_S * 2)
        assert call.to_twilio.statistics().current_buffer_used == 0  # no EndCall


async def test_speech_in_the_transfer_lines_grace_period_keeps_the_caller_with_us(
    autojump_clock: trio.abc.Clock,
) -> None:
    async with dialogue(WITH_TRANSFER) as call:
        await call.greeted()
        await call.caller_says("can i speak to someone real please")
        await call.played(await call.turn())  # "putting you through"
        await trio.sleep(GRACE_S / 2)
        await call.caller_says("oh wait what are your opening hours")
        answer = await call.turn()
        assert answer[0].text.startswith("We're open")
        await trio.sleep(GRACE_S * 2)
        assert call.to_twilio.statistics().current_buffer_used == 0  # not put through


async def test_a_goodbye_in_the_grace_period_closes_the_line_after_the_callers_silence(
    autojump_clock: trio.abc.Clock,
) -> None:
    async with dialogue() as call:
        await call.greeted()
        await call.caller_says("no that's all thanks bye")
        await call.played(await call.turn())
        await trio.sleep(GRACE_S / 2)
        stopped_at = trio.current_time()
        await call.caller_says("thanks bye")  # over as soon as said
        assert await call.to_twilio.receive() == EndCall(EndReason.COMPLETED)
        assert trio.current_time() - stopped_at == pytest.approx(GRACE_S)
