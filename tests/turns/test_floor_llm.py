"""Side-effecting tools run only from a settled caller turn (issue 9), with the LLM brain
against the fake OpenAI model: a fragment's proposal never runs, and a reply held while the
caller made a noise is released, not written again, its tool run once the turn settles.

Under ``autojump_clock``: the fake model is served in process (``FakeOpenAITransport``),
the very answers its socket server streams, so the pauses here are exact and the settle
window the config's own.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from datetime import datetime

import trio
import trio.testing
from structlog.testing import capture_logs

from receptionist.devtools.fakes.openai import FakeOpenAI, Scripted, ToolCallScript
from receptionist.llm.brain import LlmBrain
from receptionist.messages import (
    CallerSettled,
    EndCall,
    EndReason,
    SpeechStarted,
    SpeechStopped,
    Transcript,
)
from receptionist.scheduling.messages import (
    Appointment,
    BookingCancelled,
    BookSlot,
    CancelBooking,
)
from tests.helpers.dialogue import TZ
from tests.helpers.dialogue_llm import CONFIG as LLM_CONFIG
from tests.helpers.dialogue_llm import GRACE_S, appointment_for, greeted, llm_dialogue
from tests.helpers.llm import openai_in_process
from tests.helpers.pipeline import pipeline

SETTLE_S = LLM_CONFIG.turn_taking.settle_ms / 1000
BREATH_S = SETTLE_S - 0.1
"""The caller's pause after "Yes,": the model has proposed its tool, the turn has not settled."""


async def test_no_then_goodbye_in_one_breath_hangs_up_once_after_the_whole_turn(
    autojump_clock: trio.abc.Clock,
) -> None:
    replies = (
        # To "No," alone: proposed while the caller breathes, it waits for the turn to settle.
        Scripted(tool_calls=(ToolCallScript("end_call", {}),), first_token_delay_s=0.05),
        Scripted(text="Thanks for calling. Goodbye!", tool_calls=(ToolCallScript("end_call", {}),)),
    )
    async with llm_dialogue(*replies, in_process=True) as (call, fake):
        await greeted(call)
        await call.caller_says("No,")
        await fake.until(_answered(1))  # end_call is proposed while the caller breathes
        await trio.sleep(BREATH_S)
        await call.caller_says("that's everything. Thank you, goodbye.")
        goodbye = await call.turn()
        while goodbye[0].turn_id == 2:  # the answer to "No," said nothing before its cut
            goodbye = await call.turn()
        assert call.to_twilio.statistics().current_buffer_used <= 1  # its ClearAudio at most
        await call.played(goodbye)
        received = [await call.to_twilio.receive()]
        while not isinstance(received[-1], EndCall):
            received.append(await call.to_twilio.receive())
        assert received[-1] == EndCall(EndReason.COMPLETED)
    fragment = [m["content"] for m in fake.requests[0].body["messages"] if m["role"] == "user"]
    assert fragment == ["No,"]  # end_call was proposed for it, and never ran
    last = fake.requests[-1].body["messages"]
    users = [m["content"] for m in last if m["role"] == "user"]
    assert users == ["No, that's everything. Thank you, goodbye."]


async def test_yes_then_please_cancel_it_cancels_once_from_the_whole_turn(
    autojump_clock: trio.abc.Clock,
) -> None:
    cancel = ToolCallScript("cancel_appointment", {"appointment_id": 9})
    replies = (
        Scripted(tool_calls=(cancel,), first_token_delay_s=0.05),  # to "Yes," alone
        Scripted(tool_calls=(cancel,)),  # to "Yes, please cancel it."
        Scripted(text="Done, it's cancelled."),
    )
    async with llm_dialogue(*replies, in_process=True) as (call, fake):
        await greeted(call)
        await call.caller_says("Yes,")
        await fake.until(_answered(1))  # cancel_appointment is proposed while they breathe
        await trio.sleep(BREATH_S)
        await call.caller_says("please cancel it.")
        request = await call.scheduler.receive()
        assert isinstance(request, CancelBooking)
        assert request.appointment_id == 9
        await call.events.send(BookingCancelled(request.request_id, _appointment_for(request)))
        answer = await call.turn()
        while "Done, it's cancelled." not in [sentence.text for sentence in answer]:
            answer = await call.turn()
        assert call.scheduler.statistics().current_buffer_used == 0  # cancelled once
    users = [
        [m["content"] for m in r.body["messages"] if m["role"] == "user"] for r in fake.requests
    ]
    assert users[:2] == [["Yes,"], ["Yes, please cancel it."]]  # the fragment is forgotten


async def test_a_tool_waits_for_the_listener_to_hear_the_caller_settle_not_for_the_clock(
    autojump_clock: trio.abc.Clock,
) -> None:
    # On a loaded server the frames in which the caller goes on may still be queued for the
    # VAD when the settle time has passed on the clock: only the Listener, counting quiet
    # frames, knows the turn stayed over.
    cancel = ToolCallScript("cancel_appointment", {"appointment_id": 9})
    replies = (Scripted(tool_calls=(cancel,)), Scripted(text="Done, it's cancelled."))
    async with llm_dialogue(*replies, in_process=True, listener_settles=False) as (call, fake):
        await greeted(call)
        await call.caller_says("Please cancel my appointment.")
        await fake.until(_answered(1))
        await trio.sleep(10 * SETTLE_S)
        assert call.scheduler.statistics().current_buffer_used == 0  # not heard settled yet
        settled_at = trio.current_time()
        await call.events.send(CallerSettled(settled_at))
        request = await call.scheduler.receive()
        assert trio.current_time() == settled_at
        assert isinstance(request, CancelBooking)


async def test_the_guess_on_a_turn_the_caller_went_on_with_starts_before_its_final(
    autojump_clock: trio.abc.Clock,
) -> None:
    # "Great, | thank you.": the recogniser's words after the pause cut the held answer to
    # "Great," and offer the whole turn as a guess in one step, while the cut reply is still
    # putting its history right. The guess starts once it has, not after the final.
    replies = (
        Scripted(text="Glad to help!", first_token_delay_s=0.05),  # to "Great," alone
        Scripted(text="You're welcome. Goodbye!"),  # the guess on the whole turn
    )
    async with llm_dialogue(*replies, in_process=True) as (call, fake):
        await greeted(call)
        with capture_logs() as logs:
            await call.caller_says("Great,")
            await fake.until(_answered(1))
            now = trio.current_time()
            await call.events.send(SpeechStarted(now))  # before any of the answer played
            await call.events.send(SpeechStopped(now + 0.4))
            await call.events.send(Transcript("thank you.", False, None, now + 0.5))
            await fake.until(lambda fake: len(fake.requests) == 2)
            await call.events.send(Transcript("thank you.", True, now + 0.4, now + 0.6))
            answer = await call.turn()
            while answer[0].turn_id == 2:  # the answer to "Great," alone, written and held
                answer = await call.turn()
        assert [sentence.text for sentence in answer] == ["You're welcome.", "Goodbye!"]
    assert len(fake.requests) == 2  # the guess was kept: not asked again on the final
    assert [m["content"] for m in fake.requests[1].body["messages"] if m["role"] == "user"] == [
        "Great, thank you."
    ]
    kept = [log["kept"] for log in logs if log["event"] == "dialogue.preemptive"]
    assert kept[-1] is True


def _answered(requests: int) -> Callable[[FakeOpenAI], bool]:
    """The fake has sent its whole answer to this many requests."""
    return lambda fake: sum(event == "[DONE]" for _, event in fake.sent) >= requests


def _appointment_for(request: CancelBooking) -> Appointment:
    start = datetime(2026, 12, 1, 9, tzinfo=TZ)
    return appointment_for(BookSlot(0, "check-up", start, "Ada", "+15551234567", ""))


async def test_a_reply_held_over_a_cough_is_released_and_its_tool_runs_once_settled(
    autojump_clock: trio.abc.Clock,
) -> None:
    cancel = ToolCallScript("cancel_appointment", {"appointment_id": 9})
    replies = (
        Scripted(tool_calls=(cancel,), first_token_delay_s=0.05),
        Scripted(text="Done, it's cancelled."),
    )
    async with llm_dialogue(*replies, in_process=True) as (call, fake):
        await greeted(call)
        with capture_logs() as logs:
            await call.caller_says("Please cancel my appointment.")
            await trio.sleep(BREATH_S)
            cough = trio.current_time()  # before any of the answer has played: a long one
            await call.events.send(SpeechStarted(cough))
            await trio.sleep(SETTLE_S + BREATH_S)  # past the first settle time: still held
            assert call.scheduler.statistics().current_buffer_used == 0
            released_at = trio.current_time()
            await call.events.send(SpeechStopped(released_at))
            await call.events.send(Transcript("", True, cough, released_at))  # no words
            request = await call.scheduler.receive()
            assert trio.current_time() - released_at >= SETTLE_S  # settled again after it
            assert isinstance(request, CancelBooking)
            await call.events.send(BookingCancelled(request.request_id, _appointment_for(request)))
            answer = await call.turn()
            while answer[-1].text != "Done, it's cancelled." and not answer[0].text:
                answer = await call.turn()
    events = [log["event"] for log in logs]
    assert events.count("dialogue.hold") == events.count("dialogue.release") == 1
    assert "dialogue.barge_in" not in events
    assert len(fake.requests) == 2  # the held reply's, and its tool result's: none written again
    users = [m["content"] for m in fake.requests[-1].body["messages"] if m["role"] == "user"]
    assert users == ["Please cancel my appointment."]


async def test_through_the_supervisor_no_then_goodbye_hangs_up_once_after_the_whole_turn(
    autojump_clock: trio.abc.Clock,
) -> None:
    """The same call through ``run_call`` (the real Listener, Dialogue, Synthesizer and
    TwilioIO), the model in process: the line closes once, after the goodbye to the whole
    turn has played and the caller has been silent for the grace period."""
    end_call = ToolCallScript("end_call", {})
    replies = (
        Scripted(tool_calls=(end_call,), first_token_delay_s=0.05),  # to "No," alone
        Scripted(text="Thanks for calling. Goodbye!", tool_calls=(end_call,)),
    )
    async with (
        openai_in_process(*replies, config=LLM_CONFIG) as (fake, client),
        pipeline(config=LLM_CONFIG, llm=client) as call,
    ):
        await call.twilio.wait_echoed("turn1-s1")
        await call.caller_starts()
        await call.caller_stops("No,")
        await fake.until(_answered(1))  # end_call is proposed while the caller breathes
        await call.caller_starts()  # heard min_speech_ms later: inside the settle time
        await call.caller_stops("that's everything. Thank you, goodbye.")
        quiet_at = trio.current_time()
        await call.twilio.connection.closed.wait()
        closed_at = trio.current_time()
    goodbye = call.engine.values("Thanks for calling.")
    played = [(at, base64.b64decode(m["media"]["payload"])[0])
              for at, m in call.twilio.received if m["event"] == "media"]  # fmt: skip
    assert {value for _, value in played} & goodbye, "the goodbye was heard"
    assert closed_at - max(at for at, _ in played) >= GRACE_S  # into the caller's silence
    assert closed_at - quiet_at >= GRACE_S
    users = [
        [m["content"] for m in r.body["messages"] if m["role"] == "user"] for r in fake.requests
    ]
    assert users == [["No,"], ["No, that's everything. Thank you, goodbye."]]


class _QuietPort:
    """The Dialogue's side of the brain, for a test of the brain's guesses alone: no turn is
    begun or said there."""

    ending = False

    async def ask_scheduler(self, request: object) -> None:
        raise AssertionError(f"no tool runs from a guess: {request}")

    async def settled(self) -> None:
        await trio.sleep_forever()


async def test_a_waiting_guess_woken_with_a_newer_one_in_the_same_step_does_not_start(
    autojump_clock: trio.abc.Clock,
) -> None:
    # The cut reply's history is put right (the brain goes idle) and, before the waiting
    # guess's task runs, the Dialogue offers a newer guess: only the newer one may stand,
    # or the older's stream is left open with nobody reading it.
    async with (
        openai_in_process(Scripted(text="Bye!"), Scripted(text="Stale.")) as (fake, client),
        trio.open_nursery() as nursery,
    ):
        port = _QuietPort()
        brain = LlmBrain(port, client, config=LLM_CONFIG, nursery=nursery, now=datetime.now)  # type: ignore[arg-type]
        busy = brain._idle = trio.Event()  # a cut reply putting its history right
        brain.anticipate("Great, thank you.")
        await trio.testing.wait_all_tasks_blocked()
        busy.set()  # the waiting guess is woken ...
        brain.anticipate("Great, thank you. Bye.")  # ... and a newer one comes in the same step
        await fake.until(lambda fake: len(fake.requests) >= 1)
        await trio.sleep(1)
        users = [r.body["messages"][-1]["content"] for r in fake.requests]
        assert users == ["Great, thank you. Bye."]
        brain.close()
        nursery.cancel_scope.cancel()
