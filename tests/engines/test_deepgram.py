"""Deepgram live STT: the recorded samples parse, transcript assembly (synchronous), and the
Listener actor with the Deepgram recogniser against the fake Deepgram server on 127.0.0.1
(autojump clock)."""

from __future__ import annotations

import json
import statistics
from collections.abc import Sequence
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
import trio
from structlog.testing import capture_logs

from receptionist.config import Config, DeepgramConfig, VadConfig, parse_config
from receptionist.devtools.fakes.deepgram import FakeDeepgram
from receptionist.devtools.fakes.deepgram_script import load_script, utterance
from receptionist.devtools.replay import load_caller_audio
from receptionist.engines import deepgram_protocol as dp
from receptionist.engines.deepgram import (
    Backlog,
    DeepgramSettings,
    StreamOrigin,
    TranscriptAssembler,
    build_deepgram_settings,
)
from receptionist.engines.deepgram_stream import DeepgramRecognizer
from receptionist.engines.vad import FrameVad, load_vad, new_segmenter
from receptionist.errors import ConfigError, SpeechRecognitionError
from receptionist.messages import (
    FRAME_BYTES,
    Expectation,
    InboundAudio,
    ListenFor,
    SpeechStarted,
    SpeechStopped,
    Transcript,
)
from stages.listener import ListenerEngines, run_listener
from tests.helpers.listening import FRAME_S, SILENCE, LoudVad, frames_for
from tests.helpers.paths import PROJECT_ROOT, SAMPLES

DEADLINE_S = 60  # on the autojump clock: a minute of call time, milliseconds of real time
KEY = "dg-test-0123456789abcdef"
SAMPLE_DIR = SAMPLES / "deepgram"
TRANSCRIPTS = {
    "results_final_mulaw8k_empty.json": "",
    "results_final_mulaw8k_ensure_domestic_tranquility.json": "Ensure domestic tranquility.",
    "results_final_mulaw8k_for_the_united_states_of_ameri.json": (
        "For the United States of America."
    ),
    "results_final_mulaw8k_testing_123_testing_123.json": "Testing. 123. Testing. 123.",
    "server_results_endpointing_doc_example.json": "another big",
    "server_results_final_speech_final.json": "Tell me more about this.",
    "server_results_interim_1.json": "another big",
    "server_results_interim_2.json": "another big problem",
}
SERVER_SAMPLES = sorted(
    p.name for p in SAMPLE_DIR.glob("*.json") if not p.name.startswith("client")
)


def sample(name: str) -> str:
    return (SAMPLE_DIR / name).read_text(encoding="utf-8")


def results(name: str) -> dp.ResultsMessage:
    message = dp.parse_server_message(sample(name))
    assert isinstance(message, dp.ResultsMessage)
    return message


# --- Protocol -----------------------------------------------------------------------------


@pytest.mark.parametrize("name", SERVER_SAMPLES)
def test_every_server_sample_parses(name: str) -> None:
    message = dp.parse_server_message(sample(name))
    kind = json.loads(sample(name)).get("type", "Results")
    assert type(message).__name__ == f"{kind}Message"
    if isinstance(message, dp.ResultsMessage):
        assert message.transcript == TRANSCRIPTS[name]


def test_results_fields() -> None:
    final = results("server_results_final_speech_final.json")
    assert (final.is_final, final.speech_final, final.from_finalize) == (True, True, False)
    assert (final.start, final.duration) == (5.99, 1.98)
    assert [w.punctuated_word for w in final.words] == ["Tell", "me", "more", "about", "this"]
    assert final.words[-1].end == pytest.approx(7.2699995)
    interim = results("server_results_interim_2.json")
    assert not interim.is_final
    assert not interim.speech_final
    assert len(interim.words) == 3


def test_other_server_messages() -> None:
    assert dp.parse_server_message(sample("server_utterance_end.json")) == (
        dp.UtteranceEndMessage(2.395)
    )
    assert dp.parse_server_message(sample("server_speech_started.json")) == (
        dp.SpeechStartedMessage(9.54)
    )
    metadata = dp.parse_server_message(sample("server_metadata_after_closestream.json"))
    assert metadata == dp.MetadataMessage("8c8ebea9-dbec-45fa-a035-e4632cb05b5f", 0.0, 0)
    error = {"type": "Error", "description": "bad", "message": "stop", "variant": "x"}
    assert dp.parse_server_message(json.dumps(error)) == dp.ErrorMessage("bad", "stop", "x")


@pytest.mark.parametrize(
    ("ours", "name"),
    [
        (dp.KEEPALIVE, "client_keepalive.json"),
        (dp.FINALIZE, "client_finalize.json"),
        (dp.CLOSE_STREAM, "client_closestream.json"),
    ],
)
def test_client_messages_are_the_samples(ours: str, name: str) -> None:
    assert json.loads(ours) == json.loads(sample(name))


def test_unknown_types_are_logged_and_skipped() -> None:
    with capture_logs() as logs:
        assert dp.parse_server_message('{"type": "Warning", "x": 1}') is None
    assert logs == [{"event": "deepgram.unknown_message", "type": "Warning", "log_level": "info"}]


@pytest.mark.parametrize("data", ["not json", "[1, 2]", '{"type": "Results", "channel": 3}'])
def test_malformed_messages_raise(data: str) -> None:
    with pytest.raises(SpeechRecognitionError):
        dp.parse_server_message(data)


def test_listen_url() -> None:
    url = urlsplit(dp.listen_url(DeepgramConfig()))
    assert (url.scheme, url.netloc, url.path) == ("wss", "api.deepgram.com", "/v1/listen")
    assert dict(parse_qsl(url.query)) == {
        "model": "nova-3", "encoding": "mulaw", "sample_rate": "8000", "channels": "1",
        "interim_results": "true", "endpointing": "300", "vad_events": "true",
        "utterance_end_ms": "1000", "smart_format": "true",
    }  # fmt: skip


def test_rejection_descriptions() -> None:
    body = b'{"err_code": "INVALID_AUTH", "err_msg": "Invalid credentials.", "request_id": "r"}'
    assert dp.describe_rejection(401, body).endswith("401: INVALID_AUTH: Invalid credentials.")
    assert dp.describe_rejection(502, b"<html>bad gateway</html>").endswith(
        "<html>bad gateway</html>"
    )
    assert [dp.is_retryable_status(s) for s in (401, 400, 429, 503)] == [False, False, True, True]


# --- Settings -----------------------------------------------------------------------------


def test_config_toml_has_the_deepgram_defaults(project_config: Config) -> None:
    assert project_config.deepgram == DeepgramConfig()
    config = deepgram_config()
    assert config.engines.stt == "deepgram"
    assert config.deepgram == DeepgramConfig()


def _raw_config() -> dict[str, Any]:
    import tomllib

    return tomllib.loads((PROJECT_ROOT / "config.toml").read_text(encoding="utf-8"))


def deepgram_config(**deepgram: Any) -> Config:
    """config.toml with ``engines.stt = "deepgram"``, these ``[deepgram]`` settings, a key."""
    raw = {**_raw_config(), "engines": {"stt": "deepgram"}, "deepgram": deepgram}
    return parse_config(raw, environ={"DEEPGRAM_API_KEY": KEY})


def test_settings_need_the_key_and_hide_it(project_config: Config) -> None:
    assert build_deepgram_settings(project_config) is None
    with pytest.raises(ConfigError, match="needs the DEEPGRAM_API_KEY environment variable"):
        parse_config({**_raw_config(), "engines": {"stt": "deepgram"}})
    settings = build_deepgram_settings(deepgram_config())
    assert settings is not None
    assert settings.api_key == KEY
    assert KEY not in repr(settings)
    assert settings.resend_buffer_frames == 250
    assert [settings.backoff(n) for n in range(1, 6)] == [0.25, 0.5, 1.0, 2.0, 2.0]
    with pytest.raises(ConfigError, match=r"deepgram\.keepalive_s"):
        deepgram_config(keepalive_s=12.0)


# --- Transcript assembly ------------------------------------------------------------------


def result(
    text: str, *, final: bool = True, speech_final: bool = False, from_finalize: bool = False,
    end: float = 1.0,
) -> dp.ResultsMessage:  # fmt: skip
    words = tuple(dp.Word(w, end - 0.1, end, 0.9) for w in text.split()[-1:])
    return dp.ResultsMessage(text, 0.9, words, final, speech_final, from_finalize, 0.0, end)


def feed(assembler: TranscriptAssembler, *events: Any) -> list[Transcript]:
    out = (assembler.handle(event, at=10.0 + n) for n, event in enumerate(events))
    return [t for t in out if t is not None]


def test_split_finals_become_one_final_per_utterance() -> None:
    out = feed(
        TranscriptAssembler(),
        result("I would like", final=False),
        result("I would like to book"),
        result("a check", final=False),
        result("a check up", speech_final=True),
        dp.UtteranceEndMessage(2.0),  # after speech_final: nothing left to send
        result("next Tuesday", speech_final=True),
    )
    assert [(t.text, t.is_final) for t in out] == [
        ("I would like", False),
        ("I would like to book", False),
        ("I would like to book a check", False),
        ("I would like to book a check up", True),
        ("next Tuesday", True),
    ]


def test_real_samples_assemble() -> None:
    out = feed(
        TranscriptAssembler(),
        results("server_results_interim_1.json"),
        results("server_results_interim_2.json"),
        results("server_results_final_speech_final.json"),
        results("results_final_mulaw8k_empty.json"),
    )
    assert [t.text for t in out] == [
        "another big",
        "another big problem",
        "Tell me more about this.",
    ]
    assert out[-1].confidence == pytest.approx(0.99964225)


def test_utterance_end_or_finalize_closes_an_utterance() -> None:
    assembler = TranscriptAssembler()
    (ended,) = [
        t for t in feed(assembler, result("ten a m"), dp.UtteranceEndMessage(1.0)) if t.is_final
    ]
    assert ended.text == "ten a m"
    out = feed(assembler, result("John", final=False), result("John Smith", from_finalize=True))
    assert [(t.text, t.is_final) for t in out] == [("John", False), ("John Smith", True)]
    assert feed(assembler, result("", from_finalize=True), dp.UtteranceEndMessage(3.0)) == []


def test_speech_ended_at_prefers_the_local_vad() -> None:
    assembler = TranscriptAssembler()
    (heard,) = feed(assembler, StreamOrigin(100.0), result("yes", speech_final=True, end=1.5))
    assert heard.speech_ended_at == 101.5  # Deepgram's word end on our clock
    out = feed(
        assembler, SpeechStarted(102.0), SpeechStopped(102.7), result("no", speech_final=True)
    )
    assert out[0].speech_ended_at == 102.7
    assert feed(assembler, result("", final=False)) == []


# --- The actor against the fake server ----------------------------------------------------


async def listen(
    fake: FakeDeepgram,
    audio: Sequence[bytes | float],
    *,
    vad: FrameVad | None = None,
    pace: float = FRAME_S,
    overrides: dict[str, Any] | None = None,
    **settings: Any,
) -> list[tuple[float, Any]]:
    """Run the Listener on ``audio`` (frames, one per ``pace``; a float is a pause)
    against ``fake``; returns every event it sent, with when it was received. ``settings``
    go in the [deepgram] config, ``overrides`` straight into DeepgramSettings."""
    received: list[tuple[float, Any]] = []
    async with trio.open_nursery() as nursery:
        url = await nursery.start(fake.serve)
        audio_send, audio_recv = trio.open_memory_channel[InboundAudio](50)
        hints_send, hints_recv = trio.open_memory_channel[ListenFor](4)
        events_send, events_recv = trio.open_memory_channel[Any](64)
        done = trio.Event()
        nursery.start_soon(_collect, events_recv, received, done)
        deepgram = replace(deepgram_settings(url, **settings), **(overrides or {}))
        engines = deepgram_engines(deepgram, vad or LoudVad())
        await nursery.start(
            partial(run_listener, audio_recv, hints_recv, events_send, engines=engines)
        )
        with audio_send, hints_send:
            await hints_send.send(ListenFor(Expectation.YES_NO))  # read and ignored
            for item in audio:
                if isinstance(item, float):
                    await trio.sleep(item)
                    continue
                await audio_send.send(InboundAudio(item, trio.current_time()))
                await trio.sleep(pace)
        await done.wait()
        nursery.cancel_scope.cancel()
    return received


def deepgram_engines(settings: DeepgramSettings, vad: FrameVad) -> ListenerEngines:
    return ListenerEngines(vad, new_segmenter(VadConfig()), DeepgramRecognizer(settings))


def deepgram_settings(url: str, **settings: Any) -> DeepgramSettings:
    built = build_deepgram_settings(deepgram_config(base_url=url, **settings))
    assert built is not None
    return built


async def _collect(
    events: trio.MemoryReceiveChannel[Any], into: list[tuple[float, Any]], done: trio.Event
) -> None:
    async for event in events:
        into.append((trio.current_time(), event))
    done.set()


def finals(received: list[tuple[float, Any]]) -> list[Transcript]:
    return [e for _, e in received if isinstance(e, Transcript) and e.is_final]


TWO = [utterance("I would like to book a check up", 0.5, 2.4), utterance("next Tuesday", 3.6, 4.6)]


async def test_finals_arrive_as_transcripts(autojump_clock: trio.abc.Clock) -> None:
    fake = FakeDeepgram(api_key=KEY, script=TWO, split_finals=True, latency_s=0.2)
    with trio.fail_after(DEADLINE_S):
        received = await listen(fake, frames_for(TWO, 6.5))
    assert [t.text for t in finals(received)] == [u.text for u in TWO]
    kinds = [type(e).__name__ for _, e in received if not isinstance(e, Transcript)]
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


async def test_without_keepalives_deepgram_hangs_up_and_we_reconnect(
    autojump_clock: trio.abc.Clock,
) -> None:
    fake = FakeDeepgram(api_key=KEY)
    with trio.fail_after(DEADLINE_S):
        await listen(fake, [SILENCE, 12.0, SILENCE], overrides={"keepalive_s": 30.0})
    first, second = fake.connections
    assert first.closed == (1011, "NET-0001")  # as Deepgram does after 10 s
    assert second.closed == (1000, "")


async def test_dropped_connection_reconnects_and_resends(autojump_clock: trio.abc.Clock) -> None:
    script = [utterance("after the drop", 1.5, 2.3)]
    fake = FakeDeepgram(api_key=KEY, script=script, drop_after_s=1.0, drop_connections=1)
    frames = frames_for(script, 4.0)
    with capture_logs() as logs, trio.fail_after(DEADLINE_S):
        received = await listen(fake, frames, chunk_ms=20)  # a message per frame, counted
    first, second = fake.connections
    assert first.closed == (1011, "NET-0000")
    assert [t.text for t in finals(received)] == ["after the drop"]
    assert any(log["event"] == "deepgram.reconnecting" for log in logs)
    # The frames buffered during the 0.25 s backoff arrive together, first thing.
    burst = [at for at, kind in second.received if at == second.received[0][0]]
    assert len(burst) >= 0.25 / FRAME_S - 1  # minus the frame in flight
    lost = len(frames) * FRAME_BYTES - len(first.audio) - len(second.audio)
    assert 0 <= lost <= 2 * FRAME_BYTES  # at most what was in flight as the server closed


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


async def test_a_bad_key_fails_at_once(autojump_clock: trio.abc.Clock) -> None:
    fake = FakeDeepgram(api_key="another key")
    with trio.fail_after(DEADLINE_S), pytest.RaisesGroup(
        pytest.RaisesGroup(pytest.RaisesExc(SpeechRecognitionError, match="401: INVALID_AUTH"))
    ):  # fmt: skip
        await listen(fake, [])
    assert fake.refused == [401]


async def test_refusals_are_retried(autojump_clock: trio.abc.Clock) -> None:
    fake = FakeDeepgram(api_key=KEY, reject_status=503, reject_connections=2)
    with trio.fail_after(DEADLINE_S):
        await listen(fake, [SILENCE] * 5)
    assert fake.refused == [503, 503]
    assert len(fake.connections) == 1


async def test_gives_up_after_the_reconnect_attempts(autojump_clock: trio.abc.Clock) -> None:
    fake = FakeDeepgram(api_key=KEY, reject_status=503, reject_connections=99)
    with trio.fail_after(DEADLINE_S), pytest.RaisesGroup(
        pytest.RaisesGroup(pytest.RaisesExc(SpeechRecognitionError, match="5 reconnects failed"))
    ):  # fmt: skip
        await listen(fake, [], reconnect_attempts=5)
    assert fake.refused == [503] * 6


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
                       if isinstance(t, Transcript) and t.is_final)  # fmt: skip
    print(
        f"\nResults on the wire -> Transcript in the Dialogue's channel, {len(delays_ms)} "
        f"finals: median {statistics.median(delays_ms):.3f} ms, max {delays_ms[-1]:.3f} ms"
    )
    assert len(delays_ms) == len(script)
    assert statistics.median(delays_ms) < 20


async def test_backlog_drops_the_oldest(autojump_clock: trio.abc.Clock) -> None:
    backlog = Backlog[int](3)
    with capture_logs() as logs:
        for item in range(5):
            backlog.put(item)
        backlog.put_back(99)  # full: dropped rather than pushing out newer audio
    assert backlog.dropped == 3
    assert [await backlog.get() for _ in range(3)] == [2, 3, 4]
    backlog.put_back(1)
    assert await backlog.get() == 1
    assert [log["total"] for log in logs] == [1, 3]  # the first, then one per buffer-full


async def test_a_long_gap_overflows_the_resend_buffer(autojump_clock: trio.abc.Clock) -> None:
    fake = FakeDeepgram(api_key=KEY, drop_after_s=1.0, drop_connections=1)
    frames = [SILENCE] * 100
    with capture_logs() as logs, trio.fail_after(DEADLINE_S):
        await listen(fake, frames, resend_buffer_s=0.1)  # 5 frames; the backoff is 12
    first, second = fake.connections
    stats = next(log for log in logs if log["event"] == "deepgram.stats")
    assert stats["frames_dropped"] >= 6
    received = len(first.audio) + len(second.audio) + stats["frames_dropped"] * FRAME_BYTES
    assert len(frames) * FRAME_BYTES - received in (0, FRAME_BYTES)  # and one in flight


async def test_hang_up_waits_for_deepgram_at_most_close_timeout(
    autojump_clock: trio.abc.Clock,
) -> None:
    script = [utterance("goodbye", 0.2, 0.8)]
    fake = FakeDeepgram(api_key=KEY, script=script, latency_s=30.0)  # Metadata queued behind
    with capture_logs() as logs, trio.fail_after(DEADLINE_S):
        await listen(fake, frames_for(script, 1.5))
        returned = trio.current_time()
    assert returned < 1.5 + 2.0 + 0.1  # the audio, then close_timeout_s at most
    assert any(log["event"] == "deepgram.close_timeout" for log in logs)


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
            await nursery.start(
                partial(run_listener, audio_recv, hints_recv, events_send, engines=engines)
            )
            with audio_send, hints_send:
                for frame in frames_for(script, 1.6):
                    await audio_send.send(InboundAudio(frame, trio.current_time()))
                    await trio.sleep(FRAME_S)
                events_recv.close()  # the Dialogue returned on CallStopped
            await trio.sleep(1.0)
            nursery.cancel_scope.cancel()
    assert fake.connections[0].closed == (1000, "")  # the listener ended cleanly
    assert any(log["event"] == "deepgram.dialogue_gone" for log in logs)
