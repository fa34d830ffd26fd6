"""The floor belongs to whoever is speaking (issue 9): turn-taking decisions driven
synchronously, then the same cases through the Dialogue and the real supervisor.

A caller who pauses mid-sentence ("Hello there. | I'd like...", "Yes, | please cancel it.",
"No, | that's everything, goodbye.") is not talked over, not answered twice, not hung up on.
"""

from __future__ import annotations

import base64
from dataclasses import replace
from datetime import datetime

import pytest
import trio
import trio.testing
from structlog.testing import capture_logs

from receptionist.devtools.fakes.openai import Scripted, ToolCallScript
from receptionist.messages import (
    EndCall,
    EndReason,
    Sentence,
    SpeechResumed,
    SpeechStarted,
    SpeechStopped,
    Transcript,
    TurnTimings,
)
from receptionist.scheduling.messages import (
    Appointment,
    BookingCancelled,
    BookSlot,
    CancelBooking,
)
from receptionist.turns.lexicon import is_farewell
from receptionist.turns.turn_events import Anticipate, CallerTurn, CutOff, Resume, Tick
from receptionist.turns.turn_taking import TurnTaking
from tests.helpers.dialogue import GRACE_S, TZ, dialogue
from tests.helpers.dialogue_llm import CONFIG as LLM_CONFIG
from tests.helpers.dialogue_llm import appointment_for, greeted, llm_dialogue
from tests.helpers.pipeline import END_SILENCE_S, FRAME_S, HOURS, pipeline
from tests.helpers.turns import CONFIG, final, interim, mark, speaking

REPLY = ("Hi!", "How can I help?")
BREATH_S = 0.2
"""The caller's pause after "Yes,": the model has proposed its tool, the turn has not settled."""
SETTLING = replace(
    LLM_CONFIG, turn_taking=replace(LLM_CONFIG.turn_taking, settle_ms=2000)
)  # fmt: skip
"""These run on the real clock (the fake model is a socket): a settle window far longer than
the breath, so a loaded machine that wakes the test late cannot let the fragment's tool run."""


def answering(text: str) -> tuple[TurnTaking, Transcript]:
    """The caller said ``text`` (a complete-sounding final) and the agent began turn 2."""
    taking = TurnTaking(CONFIG)
    words = final(text)
    assert taking.handle(words, 10.0) == [CallerTurn(text, words)]
    taking.agent_began(2, interruptible=True)
    for index, sentence in enumerate(REPLY):
        taking.agent_sent(Sentence(2, index, sentence, index == 1, TurnTimings()))
    return taking, words


# --- Turn-taking ----------------------------------------------------------------------------


def test_the_caller_going_on_before_the_first_frame_continues_their_turn() -> None:
    taking, _ = answering("Hello there.")
    assert taking.handle(SpeechStarted(10.3), 10.42) == [
        CutOff(2, (), REPLY, continued="Hello there.")
    ]
    taking.handle(SpeechStopped(11.5), 11.7)
    rest = final("I'd like an appointment.", at=11.9)
    assert taking.handle(rest, 11.9) == []  # a caller who went on once gets a longer wait
    assert taking.handle(Tick(), taking.deadline) == [
        CallerTurn("Hello there. I'd like an appointment.", rest)
    ]


def test_the_caller_going_on_after_the_first_frame_is_a_barge_in() -> None:
    taking, _ = answering("Hello there.")
    taking.agent_audible(2)
    assert taking.handle(SpeechStarted(10.6), 10.72) == [CutOff(2, (), REPLY)]
    taking.handle(SpeechStopped(11.5), 11.7)
    rest = final("I'd like an appointment.", at=11.9)
    assert taking.handle(rest, 11.9) == [CallerTurn("I'd like an appointment.", rest)]


def test_a_continued_turn_is_guessed_whole() -> None:
    taking, _ = answering("Yes,")
    taking.handle(SpeechStarted(10.3), 10.42)
    taking.handle(interim("please cancel it"), 11.0)
    assert taking.handle(SpeechStopped(11.2), 11.4) == [Anticipate("Yes, please cancel it")]


def test_a_final_that_comes_after_the_caller_went_on_does_not_end_the_turn() -> None:
    taking = TurnTaking(CONFIG)
    taking.handle(SpeechStarted(9.0), 9.1)
    taking.handle(SpeechStopped(9.5), 9.7)
    taking.handle(SpeechStarted(9.8), 9.92)  # they resumed before the final came
    assert taking.handle(final("Yes,", at=10.0), 10.0) == []
    taking.handle(SpeechStopped(10.8), 11.0)
    rest = final("please cancel it.", at=11.2)
    assert taking.handle(rest, 11.2) == [CallerTurn("Yes, please cancel it.", rest)]


def test_speech_resumed_mid_utterance_cuts_the_agent() -> None:
    taking = speaking(*REPLY)
    taking.agent_audible(1)
    assert taking.handle(SpeechResumed(5.0), 5.1) == [CutOff(1, (), REPLY)]


def test_new_words_in_an_interim_cut_the_agent_a_backchannel_does_not() -> None:
    taking = speaking(*REPLY)
    assert taking.handle(interim("mm-hm"), 5.0) == []
    assert taking.agent_has_floor
    assert taking.handle(interim("actually I"), 5.2)[0] == CutOff(1, (), REPLY)


def test_a_continuation_that_was_noise_resumes_the_held_reply() -> None:
    taking, _words = answering("What are your hours?")
    [cut] = taking.handle(SpeechStarted(10.3), 10.42)
    assert isinstance(cut, CutOff)
    assert cut.continued == "What are your hours?"
    taking.handle(SpeechStopped(10.5), 11.2)
    assert taking.handle(Tick(), 12.0) == [Resume(cut, "")]  # answered again, the same words
    # That answer is still to the same turn: the caller going on again continues it.
    taking.agent_began(3, interruptible=True)
    [again] = taking.handle(SpeechStarted(12.5), 12.62)
    assert isinstance(again, CutOff)
    assert again.continued == "What are your hours?"


def test_the_wait_after_a_complete_final_grows_when_the_caller_goes_on() -> None:
    taking, _ = answering("Hello there.")
    assert taking.complete_wait == 0
    taking.handle(SpeechStarted(10.3), 10.42)
    assert taking.complete_wait == CONFIG.complete_wait_step_ms / 1000
    taking.handle(SpeechStopped(11.5), 11.7)
    assert taking.handle(final("Tuesday.", at=12.0), 12.0) == []  # waits a little now
    assert taking.deadline == 12.0 + taking.complete_wait
    [turn] = taking.handle(Tick(), taking.deadline)
    assert isinstance(turn, CallerTurn)
    assert turn.text == "Hello there. Tuesday."
    for _ in range(10):  # bounded
        taking.agent_began(9, interruptible=True)
        taking._answered = [final("x")]
        taking.handle(SpeechStarted(20.0), 20.1)
    assert taking.complete_wait == CONFIG.complete_wait_max_ms / 1000


def test_a_backchannel_while_the_answer_plays_still_does_not_cut_it() -> None:
    taking, _ = answering("What are your hours?")
    taking.handle(mark(2, 0), 11.0)
    assert taking.handle(final("Mm-hm."), 11.2) == []
    assert taking.agent_has_floor


def test_farewells() -> None:
    assert is_farewell("Thank you, goodbye.")
    assert is_farewell("Thanks, you too. Bye!")
    assert is_farewell("mm-hm")
    assert not is_farewell("Oh, one more thing")
    assert not is_farewell("what are your opening hours")
    assert not is_farewell("")


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
    played = {base64.b64decode(m["media"]["payload"])[0]
              for _, m in call.twilio.received if m["event"] == "media"}  # fmt: skip
    assert not played & sorry  # not one frame of the answer to the fragment
    assert any(t.startswith("We're open") for t, _ in call.engine.spoken)


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


# --- The LLM: tools only from a settled turn -------------------------------------------------


async def test_no_then_goodbye_in_one_breath_hangs_up_once_after_the_whole_turn() -> None:
    replies = (
        # To "No," alone: proposed while the caller breathes, it waits for the turn to settle.
        Scripted(tool_calls=(ToolCallScript("end_call", {}),), first_token_delay_s=0.05),
        Scripted(text="Thanks for calling. Goodbye!", tool_calls=(ToolCallScript("end_call", {}),)),
    )
    async with llm_dialogue(*replies, config=SETTLING) as (call, fake):
        await greeted(call)
        await call.caller_says("No,")
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


async def test_yes_then_please_cancel_it_cancels_once_from_the_whole_turn() -> None:
    cancel = ToolCallScript("cancel_appointment", {"appointment_id": 9})
    replies = (
        Scripted(tool_calls=(cancel,), first_token_delay_s=0.05),  # to "Yes," alone
        Scripted(tool_calls=(cancel,)),  # to "Yes, please cancel it."
        Scripted(text="Done, it's cancelled."),
    )
    async with llm_dialogue(*replies, config=SETTLING) as (call, fake):
        await greeted(call)
        await call.caller_says("Yes,")
        await trio.sleep(BREATH_S)
        await call.caller_says("please cancel it.")
        request = await call.scheduler.receive()
        assert isinstance(request, CancelBooking)
        assert request.appointment_id == 9
        await call.events.send(BookingCancelled(request.request_id, _appointment_for(request)))
        answer = await call.turn()
        while answer[0].text != "Done, it's cancelled.":
            answer = await call.turn()
        assert call.scheduler.statistics().current_buffer_used == 0  # cancelled once
    users = [
        [m["content"] for m in r.body["messages"] if m["role"] == "user"] for r in fake.requests
    ]
    assert users[:2] == [["Yes,"], ["Yes, please cancel it."]]  # the fragment is forgotten


def _appointment_for(request: CancelBooking) -> Appointment:
    start = datetime(2026, 12, 1, 9, tzinfo=TZ)
    return appointment_for(BookSlot(0, "check-up", start, "Ada", "+15551234567", ""))
