"""Barge-in through the real actors: Dialogue, Synthesizer and TwilioIO over memory channels,
Twilio played by ``FakeTwilio`` on a ``FakeConnection`` (marks echoed as playback reaches
them, pending ones at once on ``clear``, as Twilio does), on the mock clock. The LLM cases
use the fake OpenAI server (real sockets, so no mock clock) and check the model's history."""

from __future__ import annotations

import base64
import contextlib
import json
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import trio
import trio.testing
from structlog.testing import capture_logs

from receptionist.config import VadConfig
from receptionist.devtools.fakes.openai import Scripted, ToolCallScript
from receptionist.engines.vad import new_segmenter
from receptionist.messages import (
    FRAME_BYTES,
    CallStarted,
    ClearAudio,
    MarkPlayed,
    SpeechStarted,
    SpeechStopped,
    Transcript,
)
from receptionist.scheduling.messages import BookingConfirmed, BookSlot
from receptionist.turns.cancellation import TurnCancellation
from stages.dialogue import DialogueEvent, run_dialogue
from stages.synthesizer import run_synthesizer
from stages.twilio_io import run_twilio_io

from .fake_connection import FakeConnection
from .test_dialogue_actor import CONFIG, NOW
from .test_dialogue_llm import _appointment, greeted, llm_dialogue
from .test_llm_agent import BOOK_TUESDAY
from .test_twilio_io import STREAM

TEST_TIMEOUT_S = 30
CHUNKS_PER_SENTENCE = 3
CHUNK_FRAMES = 5
"""Each chunk is 100 ms of audio: a sentence is 300 ms."""
VAD_MS = CONFIG.vad.min_speech_ms / 1000
"""SpeechStarted comes this long after the first voiced frame it is stamped with."""
GREETING = ("Thank you for calling Riverside Family Clinic.", "How can I help?")
HOURS = "what are your opening hours"

Hook = Callable[[str, int], Awaitable[None]]


class FakeEngine:
    """Speaks every sentence as three 100 ms chunks of one byte value, new per sentence
    spoken, so each frame Twilio receives can be traced back to its sentence."""

    def __init__(self) -> None:
        self.spoken: list[tuple[str, int]] = []
        self.closed: list[str] = []
        self.before_chunk: Hook | None = None
        """Awaited before each chunk with the text and the chunk's number: a test's gate."""

    async def stream_ulaw(self, text: str) -> AsyncGenerator[bytes, None]:
        value = 0x10 + len(self.spoken)
        self.spoken.append((text, value))
        try:
            for number in range(CHUNKS_PER_SENTENCE):
                if self.before_chunk is not None:
                    await self.before_chunk(text, number)
                await trio.sleep(0.01)
                yield bytes([value]) * FRAME_BYTES * CHUNK_FRAMES
        finally:
            self.closed.append(text)

    def values(self, *texts: str) -> set[int]:
        return {value for text, value in self.spoken if text in texts}


@dataclass
class FakeTwilio:
    """Twilio's side of the socket: plays what it gets, echoes marks, obeys ``clear``."""

    connection: FakeConnection
    received: list[tuple[float, dict[str, Any]]] = field(default_factory=list)
    echoed: list[str] = field(default_factory=list)
    _pending: dict[str, float] = field(default_factory=dict)
    _played_until: float = 0.0
    _changed: trio.Event = field(default_factory=trio.Event)

    async def run(self, nursery: trio.Nursery) -> None:
        async for raw in self.connection.from_server:
            message, now = json.loads(raw), trio.current_time()
            self.received.append((now, message))
            match message["event"]:
                case "media":
                    self._played_until = max(now, self._played_until) + 0.02
                case "mark":
                    name = message["mark"]["name"]
                    self._pending[name] = max(now, self._played_until)
                    nursery.start_soon(self._echo_when_played, name)
                case "clear":  # Twilio echoes every pending mark at once
                    self._played_until = now
                    for name in list(self._pending):
                        await self._echo(name)

    async def _echo_when_played(self, name: str) -> None:
        await trio.sleep_until(self._pending[name])
        if name in self._pending:
            await self._echo(name)

    async def _echo(self, name: str) -> None:
        del self._pending[name]
        self.echoed.append(name)
        await self.connection.twilio_sends({"event": "mark", "mark": {"name": name}})
        self._changed.set()
        self._changed = trio.Event()

    async def wait_echoed(self, name: str) -> None:
        while name not in self.echoed:
            await self._changed.wait()

    def events(self) -> list[str]:
        return [m["event"] for _, m in self.received]

    def frames_after_clear(self) -> list[int]:
        """The byte value of every frame sent after the first clear."""
        clear_at = self.events().index("clear")
        return [base64.b64decode(m["media"]["payload"])[0]
                for _, m in self.received[clear_at:] if m["event"] == "media"]  # fmt: skip

    def cleared_at(self) -> float:
        return next(at for at, m in self.received if m["event"] == "clear")


@dataclass
class Call:
    twilio: FakeTwilio
    engine: FakeEngine
    listener: trio.MemorySendChannel[DialogueEvent]
    """The Listener's end of the Dialogue's inbox: the test speaks as the caller."""
    turns: TurnCancellation

    async def caller_starts(self, voiced_at: float | None = None) -> float:
        """The VAD's SpeechStarted, ``min_speech_ms`` after the first voiced frame."""
        voiced_at = trio.current_time() - VAD_MS if voiced_at is None else voiced_at
        await self.listener.send(SpeechStarted(voiced_at))
        return voiced_at

    async def caller_stops(self, text: str | None) -> None:
        """SpeechStopped, then the final transcript (None: the recogniser heard nothing)."""
        now = trio.current_time()
        await self.listener.send(SpeechStopped(now))
        await trio.sleep(0.7)  # the VAD's end silence
        if text is not None:
            await self.listener.send(Transcript(text, True, now, trio.current_time()))


@contextlib.asynccontextmanager
async def pipeline() -> AsyncIterator[Call]:
    """Dialogue (offline brain), Synthesizer and TwilioIO, wired as ``run_call`` wires them."""
    connection, engine, turns = FakeConnection(), FakeEngine(), TurnCancellation()
    events_send, events_recv = trio.open_memory_channel[Any](64)
    audio_send, _audio_recv = trio.open_memory_channel[Any](50)
    hints_send, _hints_recv = trio.open_memory_channel[Any](4)
    sentences_send, sentences_recv = trio.open_memory_channel[Any](16)
    outbound_send, outbound_recv = trio.open_memory_channel[Any](100)
    scheduler_send, _scheduler_recv = trio.open_memory_channel[Any](8)
    twilio = FakeTwilio(connection)
    with trio.fail_after(TEST_TIMEOUT_S):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(twilio.run, nursery)
            with events_send, outbound_send:
                await nursery.start(
                    partial(
                        run_synthesizer,
                        sentences_recv,
                        outbound_send.clone(),
                        engine=engine,
                        turns=turns,
                    )
                )
                await nursery.start(
                    partial(
                        run_dialogue,
                        events_recv,
                        sentences_send,
                        outbound_send.clone(),
                        hints_send,
                        scheduler_send,
                        config=CONFIG,
                        turns=turns,
                        now=lambda: NOW,
                    )
                )
                await nursery.start(partial(run_twilio_io, connection, STREAM, audio_send,
                                            events_send.clone(), outbound_recv, turns=turns,
                                            send_ahead=0.1))  # fmt: skip
                listener = events_send.clone()
            with listener:
                yield Call(twilio, engine, listener, turns)
                await trio.sleep(2)  # let whatever follows play out
            connection.twilio_hangs_up()
            await trio.testing.wait_all_tasks_blocked()
            nursery.cancel_scope.cancel()  # FakeTwilio: Twilio's side never closes


async def test_barge_in_between_two_sentences_of_the_greeting(
    autojump_clock: trio.abc.Clock,
) -> None:
    async with pipeline() as call:
        second_sentence = trio.Event()

        async def hold_the_second_sentence(text: str, number: int) -> None:
            if text == GREETING[1]:
                await second_sentence.wait()  # synthesis is between the two sentences

        call.engine.before_chunk = hold_the_second_sentence
        await call.twilio.wait_echoed("turn1-s0")  # the first sentence has played
        with capture_logs() as logs:
            voiced_at = await call.caller_starts()
            await call.caller_stops(HOURS)
            await trio.sleep(1)
        assert call.twilio.cleared_at() - voiced_at < 0.2  # first voiced frame to clear
        [cut] = [log for log in logs if log["event"] == "dialogue.barge_in"]
        assert (cut["heard"], cut["unheard"]) == (GREETING[0], GREETING[1])
    assert GREETING[1] in call.engine.closed  # its synthesis was stopped
    after = call.twilio.frames_after_clear()
    assert not set(after) & call.engine.values(*GREETING)  # not one frame of the greeting
    assert after  # the answer about opening hours plays
    assert [t for t, _ in call.engine.spoken][2].startswith("We're open")


async def test_barge_in_during_the_first_tts_chunk(autojump_clock: trio.abc.Clock) -> None:
    sequencer = trio.testing.Sequencer()
    async with pipeline() as call:

        async def barge_in_after_the_first_chunk(text: str, number: int) -> None:
            if (text, number) == (GREETING[0], 1):
                async with sequencer(0):
                    pass  # the first chunk's frames are queued

        call.engine.before_chunk = barge_in_after_the_first_chunk
        with capture_logs() as logs:
            async with sequencer(1):
                voiced_at = await call.caller_starts()
            await call.caller_stops(HOURS)
            await trio.sleep(1)
        assert call.twilio.cleared_at() - voiced_at < 0.2
        [cut] = [log for log in logs if log["event"] == "dialogue.barge_in"]
        assert (cut["heard"], cut["unheard"]) == ("", " ".join(GREETING))
    assert call.engine.closed[0] == GREETING[0]  # stopped mid-sentence
    assert GREETING[1] not in [t for t, _ in call.engine.spoken]  # never synthesised
    assert not set(call.twilio.frames_after_clear()) & call.engine.values(*GREETING)


async def test_a_cough_too_short_for_the_vad_does_not_interrupt(
    autojump_clock: trio.abc.Clock,
) -> None:
    segmenter = new_segmenter(VadConfig(min_speech_ms=120))
    cough = [segmenter.handle(0.9, 1.0 + k * 0.02) for k in range(5)]  # 100 ms voiced
    cough += [segmenter.handle(0.0, 1.1 + k * 0.02) for k in range(50)]
    assert cough == [None] * len(cough)  # so the Dialogue hears nothing of it
    async with pipeline() as call:
        await call.twilio.wait_echoed("turn1-s1")
    assert "clear" not in call.twilio.events()


async def test_a_backchannel_while_the_agent_speaks_does_not_interrupt(
    autojump_clock: trio.abc.Clock,
) -> None:
    async with pipeline() as call:
        await call.twilio.wait_echoed("turn1-s0")
        # Too short for the VAD, but the recogniser made out "mm-hm".
        await call.listener.send(Transcript("Mm-hm.", True, None, trio.current_time()))
        await call.twilio.wait_echoed("turn1-s1")
    assert "clear" not in call.twilio.events()
    assert [t for t, _ in call.engine.spoken] == list(GREETING)  # no answer to "mm-hm"


async def test_a_cough_that_passes_the_vad_cuts_in_then_the_agent_resumes(
    autojump_clock: trio.abc.Clock,
) -> None:
    async with pipeline() as call:
        await call.twilio.wait_echoed("turn1-s0")
        await call.caller_starts()
        await call.caller_stops(None)  # no words: it was noise
        await call.twilio.wait_echoed("turn2-s0")
    spoken = [t for t, _ in call.engine.spoken]
    assert spoken == [*GREETING, GREETING[1]]  # what was cut is said again, once
    assert call.twilio.events().count("clear") == 1


async def test_a_backchannel_that_cut_in_resumes_the_turn(autojump_clock: trio.abc.Clock) -> None:
    async with pipeline() as call:
        await call.twilio.wait_echoed("turn1-s0")
        await call.caller_starts()
        await call.caller_stops("uh-huh")
        await call.twilio.wait_echoed("turn2-s0")
    assert [t for t, _ in call.engine.spoken] == [*GREETING, GREETING[1]]


async def test_two_barge_ins_in_one_turn(autojump_clock: trio.abc.Clock) -> None:
    async with pipeline() as call:
        await call.twilio.wait_echoed("turn1-s0")
        await call.caller_starts()
        await call.caller_starts()  # the same speech seen twice: one clear
        await call.caller_stops(None)
        await trio.sleep(0.2)  # the turn resumes: "How can I help?" is playing again ...
        assert "turn2-s0" not in call.twilio.echoed
        await call.caller_starts()  # ... and is cut again, by words this time
        await call.caller_stops(HOURS)
        await trio.sleep(1)
    events = call.twilio.events()
    assert events.count("clear") == 2
    spoken = [t for t, _ in call.engine.spoken]
    assert spoken[:3] == [*GREETING, GREETING[1]]
    assert spoken[3].startswith("We're open")
    assert call.turns.is_cancelled(2)
    second_clear = len(events) - 1 - events[::-1].index("clear")
    late = [base64.b64decode(m["media"]["payload"])[0]
            for _, m in call.twilio.received[second_clear:] if m["event"] == "media"]  # fmt: skip
    assert not set(late) & call.engine.values(*GREETING)


# --- The LLM brain: what the model is told after a barge-in --------------------------------


async def test_llm_history_after_a_barge_in_during_the_greeting() -> None:
    async with llm_dialogue(Scripted(text="We open at nine.")) as (call, fake):
        await call.events.send(CallStarted("CA1", "MZ1", "+15551234567", at=trio.current_time()))
        greeting = await call.turn()
        await call.events.send(MarkPlayed("turn1-s0", trio.current_time()))
        await call.events.send(SpeechStarted(trio.current_time()))
        assert isinstance(await call.to_twilio.receive(), ClearAudio)
        await call.events.send(MarkPlayed("turn1-s1", trio.current_time()))  # echoed by clear
        await call.caller_says("when do you open")
        await call.turn()
    assert [s.text for s in greeting] == list(GREETING)
    messages = fake.requests[0].body["messages"]
    assert [(m["role"], m["content"]) for m in messages[1:]] == [
        ("assistant", f"{GREETING[0]} [interrupted]"),
        ("user", "when do you open"),
    ]


async def test_llm_booking_sent_before_a_barge_in_is_recorded_and_the_words_cut() -> None:
    replies = (
        Scripted(text="Booking that now.", tool_calls=(BOOK_TUESDAY,)),
        Scripted(text="You're all set."),
    )
    async with llm_dialogue(*replies) as (call, fake):
        await greeted(call)
        await call.caller_says("yes please book it")
        request = await call.scheduler.receive()
        assert isinstance(request, BookSlot)
        await call.events.send(SpeechStarted(trio.current_time()))  # during the tool call
        assert isinstance(await call.to_twilio.receive(), ClearAudio)
        await call.events.send(BookingConfirmed(request.request_id, _appointment(request)))
        await call.caller_says("did that work?")
        await call.turn()
    history = fake.requests[1].body["messages"]
    user_at = next(i for i, m in enumerate(history) if m.get("content") == "yes please book it")
    turn = history[user_at + 1 :]
    assert turn[0]["content"] is None  # "Booking that now." was never heard
    assert turn[0]["tool_calls"][0]["function"]["name"] == "book_appointment"
    assert json.loads(turn[1]["content"])["booked"]["name"] == "Ada Lovelace"
    assert turn[2:] == [
        {"role": "assistant", "content": "[interrupted]"},
        {"role": "user", "content": "did that work?"},
    ]


async def test_llm_end_call_from_a_cut_turn_does_not_fire() -> None:
    goodbye = Scripted(
        text="Alright. Thanks for calling, goodbye!", tool_calls=(ToolCallScript("end_call", {}),)
    )
    async with llm_dialogue(goodbye, Scripted(text="Sure, go ahead."), token_delay_s=0.02) as (
        call,
        fake,
    ):
        await greeted(call)
        await call.caller_says("that's all")
        first = await call.sentences.receive()
        assert first.text == "Alright."
        await call.events.send(SpeechStarted(trio.current_time()))
        assert isinstance(await call.to_twilio.receive(), ClearAudio)
        await call.caller_says("oh wait, one more thing")
        answer = [s.text for s in await call.turn() if s.turn_id == 3]
        assert answer == ["Sure, go ahead."]
        await trio.sleep(0.3)  # the cut stream would have ended by now
        assert call.to_twilio.statistics().current_buffer_used == 0  # no EndCall
    history = fake.requests[1].body["messages"]
    assert [(m["role"], m["content"]) for m in history[-2:]] == [
        ("assistant", "[interrupted]"),
        ("user", "oh wait, one more thing"),
    ]


async def test_llm_resumes_after_a_false_barge_in() -> None:
    replies = (Scripted(text="Sure. We have Tuesday at ten."), Scripted(text="Tuesday at ten."))
    async with llm_dialogue(*replies, token_delay_s=0.01) as (call, fake):
        await greeted(call)
        await call.caller_says("any slots?")
        first = await call.sentences.receive()
        await call.events.send(MarkPlayed(f"turn2-s{first.index}", trio.current_time()))
        await call.events.send(SpeechStarted(trio.current_time()))
        assert isinstance(await call.to_twilio.receive(), ClearAudio)
        await call.events.send(SpeechStopped(trio.current_time()))  # and no words follow
        resumed = [s.text for s in await call.turn() if s.turn_id == 3]
        assert resumed == ["Tuesday at ten."]
    history = fake.requests[1].body["messages"]
    assert [(m["role"], m["content"]) for m in history[-2:]] == [
        ("user", "any slots?"),
        ("assistant", "Sure. [interrupted]"),  # the model goes on from there
    ]
