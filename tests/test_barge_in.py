"""Barge-in through the real supervisor (``run_call``): every actor of a call wired as the
server wires it, with its engines injected: a voice that speaks in traceable chunks and, for
the Listener, a VAD that hears the caller's loud frames and a recogniser that says what the
test scripts. Twilio is played by ``FakeTwilio`` on a ``FakeConnection`` (the caller's audio
every 20 ms, marks echoed as playback reaches them, pending ones at once on ``clear``, as
Twilio does), on the mock clock. The LLM cases use the fake OpenAI server (real sockets, so
no mock clock) and check the model's history."""

from __future__ import annotations

import base64
import contextlib
import json
import tempfile
from array import array
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import trio
import trio.testing
from structlog.testing import capture_logs

from receptionist.call import CallOutcomes, CallServices, run_call
from receptionist.config import VadConfig
from receptionist.devtools.fakes.openai import Scripted, ToolCallScript
from receptionist.engines.vad import SegmenterEvent, new_segmenter
from receptionist.messages import (
    FRAME_BYTES,
    FRAME_MS,
    ULAW_SILENCE,
    CallStarted,
    ClearAudio,
    Expectation,
    InboundAudio,
    MarkPlayed,
    SpeechStarted,
    SpeechStopped,
    Transcript,
)
from receptionist.scheduling.messages import BookingConfirmed, BookSlot
from receptionist.scheduling.store import AppointmentStore
from stages.listener import ListenerEngines

from .fake_connection import FakeConnection
from .test_dialogue_actor import CONFIG, NOW
from .test_dialogue_llm import _appointment, greeted, llm_dialogue
from .test_llm_agent import BOOK_TUESDAY
from .test_twilio_io import STREAM

TEST_TIMEOUT_S = 30
CHUNKS_PER_SENTENCE = 3
CHUNK_FRAMES = 5
"""Each chunk is 100 ms of audio: a sentence is 300 ms."""
FRAME_S = FRAME_MS / 1000
VAD_MS = CONFIG.vad.min_speech_ms / 1000
"""SpeechStarted comes this long after the first voiced frame it is stamped with."""
END_SILENCE_S = CONFIG.vad.end_silence_ms / 1000
"""SpeechStopped comes this long after the last voiced frame."""
FALSE_BARGE_IN_S = CONFIG.turn_taking.false_barge_in_ms / 1000
"""A cut turn resumes this long after the speech that cut it stopped, if no words came."""
SPEECH_FRAME = b"\x00" * FRAME_BYTES
"""The loudest mu-law there is: the caller speaking."""
SILENCE_FRAME = ULAW_SILENCE * FRAME_BYTES
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


class LoudVad:
    """Stands in for Silero: a loud frame is speech."""

    def probability(self, pcm16: bytes) -> float:
        return 1.0 if max(map(abs, array("h", pcm16))) > 1000 else 0.0


class ScriptedRecognizer:
    """Stands in for the recogniser. When the VAD hears the caller stop, it makes out the
    words the test set in ``next_words`` (None: nothing); and, as a streaming recogniser
    can, words the VAD found too short to be speech, when the test says so (``hears``).
    Like a real one it sends from its own task, so a transcript follows its SpeechStopped."""

    def __init__(self) -> None:
        self.next_words: str | None = None
        self._heard, self._to_send = trio.open_memory_channel[Transcript](8)

    @contextlib.asynccontextmanager
    async def hearing(self, transcripts: trio.MemorySendChannel[Transcript]) -> AsyncIterator[None]:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._send_all, transcripts)
            yield
            nursery.cancel_scope.cancel()

    def hear(self, frame: InboundAudio, pcm16: bytes, change: SegmenterEvent | None) -> None:
        if isinstance(change, SpeechStopped) and self.next_words is not None:
            self._heard.send_nowait(
                Transcript(self.next_words, True, change.at, trio.current_time())
            )
            self.next_words = None

    def listen_for(self, expectation: Expectation) -> None:
        pass

    def hears(self, text: str) -> None:
        self._heard.send_nowait(Transcript(text, True, None, trio.current_time()))

    async def _send_all(self, transcripts: trio.MemorySendChannel[Transcript]) -> None:
        async for transcript in self._to_send:
            await transcripts.send(transcript)


@dataclass
class FakeCaller:
    """The caller's end of the line: a microphone sending a frame to Twilio's stream every
    20 ms, loud while they speak, and the recogniser that will make out their words."""

    connection: FakeConnection
    recognizer: ScriptedRecognizer = field(default_factory=ScriptedRecognizer)
    speaking: bool = False
    voiced_at: float | None = None
    """When the first loud frame of the current speech went out."""
    dialled: trio.Event = field(default_factory=trio.Event)
    """Set once the supervisor asks for the Listener's engines: the call is starting."""
    _microphone: trio.CancelScope = field(default_factory=trio.CancelScope)
    _frame_sent: trio.Event = field(default_factory=trio.Event)
    _chunk: int = 0

    async def listener_engines(self) -> ListenerEngines:
        self.dialled.set()
        return ListenerEngines(LoudVad(), new_segmenter(CONFIG.vad), self.recognizer)

    async def talk(self) -> None:
        with self._microphone:
            while True:
                if not self.speaking:
                    self.voiced_at = None
                elif self.voiced_at is None:
                    self.voiced_at = trio.current_time()
                await self.connection.twilio_sends(self._media())
                self._frame_sent.set()
                self._frame_sent = trio.Event()
                await trio.sleep(FRAME_S)

    async def start_speaking(self) -> float:
        """Speak from the next frame on; returns when its first loud frame went out."""
        self.speaking = True
        while self.voiced_at is None:
            await self._frame_sent.wait()
        return self.voiced_at

    def hang_up(self) -> None:
        self._microphone.cancel()
        self.connection.twilio_hangs_up()

    def _media(self) -> dict[str, Any]:
        self._chunk += 1
        payload = base64.b64encode(SPEECH_FRAME if self.speaking else SILENCE_FRAME).decode()
        return {
            "event": "media",
            "sequenceNumber": str(self._chunk + 1),
            "media": {"track": "inbound", "chunk": str(self._chunk),
                      "timestamp": str(self._chunk * FRAME_MS), "payload": payload},
            "streamSid": STREAM.stream_sid,
        }  # fmt: skip


@dataclass
class Call:
    twilio: FakeTwilio
    engine: FakeEngine
    caller: FakeCaller

    async def caller_starts(self) -> float:
        """The caller speaks; returns once the VAD's SpeechStarted is out (``min_speech_ms``
        after the first voiced frame), with that frame's time."""
        voiced_at = await self.caller.start_speaking()
        await trio.sleep_until(voiced_at + VAD_MS)
        return voiced_at

    async def caller_pauses(self, seconds: float) -> None:
        """A breath, shorter than the VAD's end silence: still the same speech."""
        self.caller.speaking = False
        await trio.sleep(seconds)

    async def caller_stops(self, text: str | None) -> None:
        """Silence: after the VAD's end silence SpeechStopped, then the final transcript
        (None: the recogniser heard nothing)."""
        self.caller.recognizer.next_words = text
        self.caller.speaking = False
        await trio.sleep(END_SILENCE_S + 2 * FRAME_S)


@contextlib.asynccontextmanager
async def pipeline() -> AsyncIterator[Call]:
    """One call through ``run_call``, the supervisor the server runs, with the fakes above."""
    connection, engine = FakeConnection(), FakeEngine()
    twilio, caller = FakeTwilio(connection), FakeCaller(connection)
    with tempfile.TemporaryDirectory() as folder:
        services = CallServices(
            config=CONFIG,
            speech=engine,
            new_listener_engines=caller.listener_engines,
            store=AppointmentStore(CONFIG, Path(folder) / "appointments.db", now=lambda: NOW),
            now=lambda: NOW,
            stream_secret=b"unused: the stream has started",
            outcomes=CallOutcomes(),
        )
        async with trio.open_nursery() as nursery:
            nursery.start_soon(twilio.run, nursery)
            call_over = trio.Event()

            async def place_call() -> None:
                await run_call(connection, STREAM, services)
                call_over.set()

            nursery.start_soon(place_call)
            # No deadline before this: the Scheduler opens its database in a worker thread
            # first, and meanwhile the mock clock would jump straight to any deadline.
            await caller.dialled.wait()
            with trio.fail_after(TEST_TIMEOUT_S):
                nursery.start_soon(caller.talk)
                yield Call(twilio, engine, caller)
                await trio.sleep(2)  # let whatever follows play out
                caller.hang_up()
                await call_over.wait()
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
    sequencer, caller_spoke = trio.testing.Sequencer(), trio.Event()
    async with pipeline() as call:

        async def barge_in_after_the_first_chunk(text: str, number: int) -> None:
            if (text, number) == (GREETING[0], 1):
                async with sequencer(0):
                    pass  # the first chunk's frames are queued
                # The next chunk is slow to come: the VAD hears the caller out meanwhile.
                await caller_spoke.wait()

        call.engine.before_chunk = barge_in_after_the_first_chunk
        with capture_logs() as logs:
            async with sequencer(1):
                voiced_at = await call.caller_starts()
            caller_spoke.set()
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
        call.caller.recognizer.hears("Mm-hm.")
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
    with capture_logs() as logs:
        async with pipeline() as call:
            await call.twilio.wait_echoed("turn1-s0")
            await call.caller_starts()
            await call.caller_pauses(0.3)
            await call.caller_starts()  # the same speech to the VAD, after a breath: one clear
            await call.caller_stops(None)
            await trio.sleep(FALSE_BARGE_IN_S + 0.1)  # no words: "How can I help?" plays again ...
            assert "turn2-s0" not in call.twilio.echoed
            await call.caller_starts()  # ... and is cut again, by words this time
            await call.caller_stops(HOURS)
            await trio.sleep(1)
    events = call.twilio.events()
    assert events.count("clear") == 2
    spoken = [t for t, _ in call.engine.spoken]
    assert spoken[:3] == [*GREETING, GREETING[1]]
    assert spoken[3].startswith("We're open")
    cut_turns = [log["turn_id"] for log in logs if log["event"] == "dialogue.barge_in"]
    assert max(cut_turns) >= 2  # turn 2 is cancelled: every cut cancels through its turn
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
        call.turns.audible(2)  # "Booking that now." has begun to play
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
        call.turns.audible(2)  # it has begun to play
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
