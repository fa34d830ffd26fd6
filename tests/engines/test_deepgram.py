"""Deepgram live STT: the Listener actor with the Deepgram recogniser against the fake
Deepgram server on 127.0.0.1 (autojump clock). The protocol, settings and transcript
assembly without I/O are in test_deepgram_protocol.py."""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import Any

import trio
from structlog.testing import capture_logs

from receptionist.config import VadConfig
from receptionist.devtools.fakes.deepgram import FakeDeepgram
from receptionist.devtools.fakes.deepgram_script import load_script, utterance
from receptionist.devtools.replay import load_caller_audio
from receptionist.engines.vad import load_vad
from receptionist.messages import (
    FRAME_BYTES,
    CallerSettled,
    InboundAudio,
    ListenFor,
    SpeechStarted,
    SpeechStopped,
    Transcript,
)
from tests.helpers.deepgram import (
    KEY,
    deepgram_engines,
    deepgram_settings,
    finals,
    listen,
    listener,
)
from tests.helpers.listening import FRAME_S, SILENCE, LoudVad, frames_for
from tests.helpers.paths import PROJECT_ROOT

DEADLINE_S = 60  # on the autojump clock: a minute of call time, milliseconds of real time
# --- The actor against the fake server ----------------------------------------------------


TWO = [utterance("I would like to book a check up", 0.5, 2.4), utterance("next Tuesday", 3.6, 4.6)]


async def test_finals_arrive_as_transcripts(autojump_clock: trio.abc.Clock) -> None:
    fake = FakeDeepgram(api_key=KEY, script=TWO, split_finals=True, latency_s=0.2)
    with trio.fail_after(DEADLINE_S):
        received = await listen(fake, frames_for(TWO, 6.5))
    assert [t.text for t in finals(received)] == [u.text for u in TWO]
    kinds = [type(e).__name__ for _, e in received if not isinstance(e, Transcript | CallerSettled)]
    assert kinds == ["SpeechStarted", "SpeechStopped"] * 2
    (conn,) = fake.connections
    assert conn.headers["authorization"] == f"Token {KEY}"
    assert bytes(conn.audio) == b"".join(frames_for(TWO, 6.5))  # forwarded untouched
    assert sum(isinstance(e, Transcript) and not e.is_final for _, e in received) >= 2


async def test_local_vad_stop_sends_finalize_for_a_fast_final(
    autojump_clock: trio.abc.Clock,
) -> None:
    # Deepgram's own endpointing set slow, so only our Finalize can explain a fast final.
    script = [utterance("ten a m", 0.5, 1.5)]
    fake = FakeDeepgram(api_key=KEY, script=script)
    with trio.fail_after(DEADLINE_S):
        received = await listen(fake, frames_for(script, 4.0), endpointing_ms=2000)
    stopped = next(e for _, e in received if isinstance(e, SpeechStopped))
    (final,) = finals(received)
    assert final.text == "ten a m"
    assert final.speech_ended_at == stopped.at
    assert final.at - stopped.at < 0.8  # VAD's 0.7 s of silence + a round trip, not 2 s
    assert fake.connections[0].count("Finalize") == 1


async def test_keepalive_during_silence(autojump_clock: trio.abc.Clock) -> None:
    fake = FakeDeepgram(api_key=KEY)
    with trio.fail_after(DEADLINE_S):
        # Frame by frame: a chunk's last frame would go out later, and shift the KeepAlives.
        await listen(fake, [SILENCE] * 10 + [25.0] + [SILENCE] * 10, chunk_ms=20)
    (conn,) = fake.connections  # 25 s without audio, never closed for it
    assert conn.count("KeepAlive") == 5
    assert conn.closed == (1000, "")


async def test_audio_goes_in_chunks_and_a_finalize_sends_what_is_held(
    autojump_clock: trio.abc.Clock,
) -> None:
    script = [utterance("ten a m", 0.5, 1.5)]
    fake = FakeDeepgram(api_key=KEY, script=script)
    frames = frames_for(script, 3.0)
    with trio.fail_after(DEADLINE_S):
        await listen(fake, frames, chunk_ms=60)
    (conn,) = fake.connections
    assert bytes(conn.audio) == b"".join(frames)  # all of it, in order
    audio_messages = conn.count("audio")
    assert len(frames) / 3 <= audio_messages <= len(frames) / 3 + 3  # + partial chunks
    finalize_at = next(at for at, kind in conn.received if kind == "Finalize")
    before = [at for at, kind in conn.received if kind == "audio" and at <= finalize_at]
    assert before[-1] == finalize_at  # the held frames went with it, not a chunk later


async def test_speech_start_sends_what_is_held_at_once(autojump_clock: trio.abc.Clock) -> None:
    """100 ms chunks, but the caller's first words are not held back: the VAD's start sends
    the chunk so far (as its stop does, with the Finalize)."""
    script = [utterance("ten a m", 0.51, 1.5)]
    fake = FakeDeepgram(api_key=KEY, script=script)
    frames = frames_for(script, 3.0)
    with trio.fail_after(DEADLINE_S):
        received = await listen(fake, frames, chunk_ms=100)
    (conn,) = fake.connections
    assert bytes(conn.audio) == b"".join(frames)
    assert len(frames) / 5 <= conn.count("audio") <= len(frames) / 5 + 4  # + flushed chunks
    started_at = next(at for at, e in received if isinstance(e, SpeechStarted))
    assert started_at in [at for at, kind in conn.received if kind == "audio"]


async def test_close_stream_at_hang_up_flushes_the_last_words(
    autojump_clock: trio.abc.Clock,
) -> None:
    script = [utterance("no thank you goodbye", 0.5, 1.5)]
    fake = FakeDeepgram(api_key=KEY, script=script)
    with trio.fail_after(DEADLINE_S):
        received = await listen(fake, frames_for(script, 1.6))  # hangs up 0.1 s after
    assert [t.text for t in finals(received)] == ["no thank you goodbye"]
    (conn,) = fake.connections
    assert conn.received[-1][1] == "CloseStream"
    assert conn.closed == (1000, "")
    assert conn.sent[-1][1]["type"] == "Metadata"


async def test_booking_call_replay(autojump_clock: trio.abc.Clock) -> None:
    """The recorded caller, the real Silero VAD, the fixture's script: every line heard once."""
    script = load_script(PROJECT_ROOT / "tests" / "fixtures" / "booking_call.json")
    ulaw = load_caller_audio(PROJECT_ROOT / "tests" / "fixtures" / "booking_call.wav")
    frames = [ulaw[i : i + FRAME_BYTES] for i in range(0, len(ulaw), FRAME_BYTES)]
    fake = FakeDeepgram(api_key=KEY, script=script, split_finals=True, latency_s=0.15)
    with trio.fail_after(DEADLINE_S):
        received = await listen(
            fake, [*frames, *[SILENCE] * 50], vad=load_vad(VadConfig()).new_stream()
        )
    lines = (PROJECT_ROOT / "tests" / "fixtures" / "booking_call.txt").read_text().splitlines()
    assert [t.text for t in finals(received)] == lines


def test_fixture_scripts_match_their_transcripts() -> None:
    for path in (PROJECT_ROOT / "tests" / "fixtures").glob("*.json"):
        lines = Path(path.with_suffix(".txt")).read_text().splitlines()
        assert [u.text for u in load_script(path)] == lines


async def test_overhead_from_results_to_transcript() -> None:
    """Real clock, fake at zero latency: from a speech_final Results going on the wire to its
    Transcript reaching the Dialogue's channel. ``pytest tests/test_deepgram.py -k overhead
    -s`` prints the figures; the bound is loose for slow CI machines."""
    script = [utterance(f"utterance number {n}", 0.5 + 1.6 * n, 1.1 + 1.6 * n) for n in range(40)]
    fake = FakeDeepgram(api_key=KEY, script=script)
    with trio.fail_after(DEADLINE_S):  # audio fed 20 times faster than real time
        received = await listen(fake, frames_for(script, 1.6 * 40 + 0.5), pace=0.001)
    sent = {m["channel"]["alternatives"][0]["transcript"]: at for at, m in fake.connections[0].sent
            if m["type"] == "Results" and m["speech_final"]}  # fmt: skip
    delays_ms = sorted((at - sent[t.text]) * 1000 for at, t in received
                       if isinstance(t, Transcript) and t.is_final and t.text)  # fmt: skip
    print(
        f"\nResults on the wire -> Transcript in the Dialogue's channel, {len(delays_ms)} "
        f"finals: median {statistics.median(delays_ms):.3f} ms, max {delays_ms[-1]:.3f} ms"
    )
    assert len(delays_ms) == len(script)
    assert statistics.median(delays_ms) < 20


async def test_words_flushed_after_the_dialogue_ended_are_dropped(
    autojump_clock: trio.abc.Clock,
) -> None:
    script = [utterance("no thank you goodbye", 0.5, 1.5)]
    fake = FakeDeepgram(api_key=KEY, script=script)
    audio_send, audio_recv = trio.open_memory_channel[InboundAudio](50)
    hints_send, hints_recv = trio.open_memory_channel[ListenFor](4)
    events_send, events_recv = trio.open_memory_channel[Any](64)
    with trio.fail_after(DEADLINE_S), capture_logs() as logs:
        async with trio.open_nursery() as nursery:
            url = await nursery.start(fake.serve)
            engines = deepgram_engines(deepgram_settings(url), LoudVad())
            await nursery.start(listener(audio_recv, hints_recv, events_send, engines))
            with audio_send, hints_send:
                for frame in frames_for(script, 1.6):
                    await audio_send.send(InboundAudio(frame, trio.current_time()))
                    await trio.sleep(FRAME_S)
                events_recv.close()  # the Dialogue returned on CallStopped
            await trio.sleep(1.0)
            nursery.cancel_scope.cancel()
    assert fake.connections[0].closed == (1000, "")  # the listener ended cleanly
    gone = {"deepgram.dialogue_gone", "listener.dialogue_gone"}  # whichever sent it last
    assert any(log["event"] in gone for log in logs)
