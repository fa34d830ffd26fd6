"""Voice activity detection: the smoothing state machine, and both engines on phone audio."""

from __future__ import annotations

import sys
from collections.abc import Sequence

import numpy as np
import pytest
import trio
import trio.testing

from receptionist.config import VadConfig, load_config
from receptionist.devtools.phone_speech import caller_says, line_noise, phone_line
from receptionist.engines.vad import (
    FrameVad,
    SegmenterEvent,
    SpeechSegmenter,
    VadModel,
    WebrtcModel,
    load_vad,
    new_segmenter,
    probabilities,
)
from receptionist.engines.vad_batch import ACTIVE_S, SileroBatcher
from receptionist.engines.vad_silero import SileroModel, silero_model_path
from receptionist.errors import ConfigError
from receptionist.messages import (
    FRAME_MS,
    SAMPLE_RATE,
    SpeechPaused,
    SpeechResumed,
    SpeechStarted,
    SpeechStopped,
)
from tests.helpers.paths import PROJECT_ROOT

FRAME = FRAME_MS / 1000
FRAME_BYTES_PCM = SAMPLE_RATE * FRAME_MS // 1000 * 2


def segmenter(
    min_speech_ms: int = 100, end_silence_ms: int = 200, pause_ms: int | None = None
) -> SpeechSegmenter:
    return SpeechSegmenter(
        threshold=0.5, min_speech_ms=min_speech_ms, end_silence_ms=end_silence_ms,
        pause_ms=pause_ms,
    )  # fmt: skip


TurnEvent = SegmenterEvent


def feed(
    machine: SpeechSegmenter, probabilities: Sequence[float | bool]
) -> list[tuple[int, TurnEvent]]:
    """Frame i arrives at i * 20 ms; returns the events with their frame index."""
    events = []
    for index, probability in enumerate(probabilities):
        event = machine.handle(probability, index * FRAME)
        if event is not None:
            events.append((index, event))
    return events


# --- The smoothing state machine -------------------------------------------------------


def test_speech_starts_after_min_speech_stamped_with_its_first_frame() -> None:
    events = feed(segmenter(), [0.0] * 3 + [0.9] * 5)
    assert events == [(7, SpeechStarted(at=3 * FRAME))]


def test_a_burst_shorter_than_min_speech_starts_nothing() -> None:
    assert feed(segmenter(), [0.0, 0.9, 0.9, 0.9, 0.9, 0.0, 0.9, 0.0] * 4) == []


def test_speech_stops_after_end_silence_stamped_with_the_last_voiced_frame() -> None:
    events = feed(segmenter(), [0.9] * 10 + [0.1] * 10)
    assert events == [
        (4, SpeechStarted(at=0.0)),
        (19, SpeechStopped(at=9 * FRAME)),
    ]


def test_a_pause_shorter_than_end_silence_does_not_stop_speech() -> None:
    events = feed(segmenter(), [0.9] * 10 + [0.1] * 9 + [0.9] * 5)
    assert [type(event) for _, event in events] == [SpeechStarted]


def test_a_short_silence_is_a_pause_then_a_resumption_or_the_stop() -> None:
    events = feed(segmenter(pause_ms=100), [0.9] * 10 + [0.1] * 6 + [0.9] * 5 + [0.1] * 10)
    assert events == [
        (4, SpeechStarted(at=0.0)),
        (14, SpeechPaused(at=9 * FRAME)),
        (20, SpeechResumed(at=16 * FRAME)),  # as much speech as a start takes
        (25, SpeechPaused(at=20 * FRAME)),
        (30, SpeechStopped(at=20 * FRAME)),
    ]


def test_a_blip_in_a_pause_is_no_resumption() -> None:
    events = feed(segmenter(pause_ms=100), [0.9] * 10 + [0.1] * 6 + [0.9] * 3 + [0.1] * 10)
    assert events == [
        (4, SpeechStarted(at=0.0)),
        (14, SpeechPaused(at=9 * FRAME)),
        (22, SpeechStopped(at=9 * FRAME)),
    ]


def test_a_pause_no_shorter_than_the_stop_is_not_reported() -> None:
    events = feed(segmenter(pause_ms=200), [0.9] * 10 + [0.1] * 10)
    assert [type(event) for _, event in events] == [SpeechStarted, SpeechStopped]


def test_hysteresis_keeps_speech_going_on_a_soft_syllable() -> None:
    # 0.4 would not start speech (threshold 0.5) but does not end it either.
    assert feed(segmenter(), [0.4] * 20) == []
    events = feed(segmenter(), [0.9] * 5 + [0.4] * 30)
    assert [type(event) for _, event in events] == [SpeechStarted]


def test_flags_work_as_probabilities() -> None:
    events = feed(segmenter(), [False] * 2 + [True] * 6 + [False] * 10)
    assert [(i, type(e)) for i, e in events] == [(6, SpeechStarted), (17, SpeechStopped)]


def test_it_starts_again_after_stopping() -> None:
    events = feed(segmenter(), ([0.9] * 6 + [0.0] * 12) * 2)
    assert [type(e) for _, e in events] == [SpeechStarted, SpeechStopped] * 2
    assert events[2][1] == SpeechStarted(at=18 * FRAME)


def test_durations_round_up_to_whole_frames() -> None:
    machine = segmenter(min_speech_ms=110, end_silence_ms=700)
    assert (machine.start_frames, machine.end_frames) == (6, 35)


# --- Engines on synthetic phone audio --------------------------------------------------

SPEECH_PHRASES = ("I would like to book a check up", "next Tuesday at ten")


@pytest.fixture(scope="module")
def silero() -> VadModel:
    return load_vad(VadConfig(engine="silero"))


@pytest.fixture(scope="module")
def every_window() -> SileroModel:
    """Silero without the quiet line's skip: the batcher's tests feed it line noise, every
    window of which must reach a batch."""
    return SileroModel()


@pytest.fixture(scope="module", params=["silero", "webrtc"])
def engine(request: pytest.FixtureRequest, silero: VadModel) -> VadModel:
    return silero if request.param == "silero" else WebrtcModel(3)


def run_engine(model: VadModel, pcm16: bytes) -> list[TurnEvent]:
    stream, machine = model.new_stream(), new_segmenter(VadConfig())
    events: list[TurnEvent] = []
    frames = [pcm16[i : i + FRAME_BYTES_PCM] for i in range(0, len(pcm16), FRAME_BYTES_PCM)]
    for index, probability in enumerate(probabilities(stream, frames)):
        event = machine.handle(probability, index * FRAME)
        if event is not None:
            events.append(event)
    return events


def speech_call() -> bytes:
    parts = [line_noise(0.5)]
    for phrase in SPEECH_PHRASES:
        parts += [caller_says(phrase), line_noise(1.5)]
    return b"".join(parts)


def noise_burst(seconds: float, level: float = 3000) -> bytes:
    burst = np.random.default_rng(7).normal(0, level, round(seconds * SAMPLE_RATE))
    noise = phone_line(np.clip(burst, -32768, 32767).astype(np.int16).tobytes())
    return line_noise(1.0) + noise + line_noise(1.5)


def test_both_engines_find_each_utterance(engine: VadModel) -> None:
    events = run_engine(engine, speech_call())
    assert [type(e) for e in events] == [SpeechStarted, SpeechStopped] * len(SPEECH_PHRASES)
    first_start = events[0]
    assert isinstance(first_start, SpeechStarted)
    assert first_start.at == pytest.approx(0.5, abs=0.1)


def test_both_engines_ignore_line_noise(engine: VadModel) -> None:
    assert run_engine(engine, line_noise(5.0)) == []


def test_silero_ignores_a_noise_burst_and_a_click(silero: VadModel) -> None:
    assert run_engine(silero, noise_burst(1.0)) == []
    click = line_noise(1.0) + phone_line(b"\xff\x7f" * 40) + line_noise(1.0)
    assert run_engine(silero, click) == []


def test_silero_streams_keep_separate_state(silero: VadModel) -> None:
    speech = caller_says("yes please")
    frames = [speech[i : i + FRAME_BYTES_PCM] for i in range(0, len(speech), FRAME_BYTES_PCM)]
    one, other = silero.new_stream(), silero.new_stream()
    silence = b"\x00" * FRAME_BYTES_PCM  # another call's
    both = probabilities_of_each([one, other], [frames, [silence] * len(frames)])
    reference = probabilities(silero.new_stream(), frames)
    assert both[0] == reference
    assert max(reference) > 0.5


def probabilities_of_each(streams: list[FrameVad], frames: list[list[bytes]]) -> list[list[float]]:
    """Frame by frame, each stream in turn (as calls interleave)."""

    async def interleave() -> list[list[float]]:
        results: list[list[float]] = [[] for _ in streams]
        for step in zip(*frames, strict=True):
            for stream, frame, result in zip(streams, step, results, strict=True):
                result.append(await stream.probability(frame))
        return results

    return trio.run(interleave)


async def test_batched_windows_give_each_call_what_it_would_get_alone(silero: VadModel) -> None:
    """One inference for several calls' windows, each call's state a row: the same
    probabilities, to float rounding, as each call inferring alone."""
    assert isinstance(silero, SileroModel)
    speech = caller_says("yes please") + line_noise(0.5)
    frames = [speech[i : i + FRAME_BYTES_PCM] for i in range(0, len(speech), FRAME_BYTES_PCM)]
    noisy = [line_noise(0.02)[:FRAME_BYTES_PCM]] * len(frames)
    reference = []
    for audio in (frames, noisy):
        alone = silero.new_stream()
        reference.append([await alone.probability(f) for f in audio])
    batcher = SileroBatcher(silero)
    batched: list[list[float]] = [[], []]
    async with trio.open_nursery() as nursery:
        await nursery.start(batcher.run)
        streams = [silero.new_stream(batcher), silero.new_stream(batcher)]

        async def feed(index: int, audio: list[bytes]) -> None:
            for frame in audio:
                batched[index].append(await streams[index].probability(frame))

        async with trio.open_nursery() as callers:
            callers.start_soon(feed, 0, frames)
            callers.start_soon(feed, 1, noisy)
        nursery.cancel_scope.cancel()
    for alone, together in zip(reference, batched, strict=True):
        assert together == pytest.approx(alone, abs=1e-5)
    assert max(batched[0]) > 0.5


async def _paced_call(
    stream: FrameVad, phase: float, frames: int, waits: list[tuple[float, float]]
) -> None:
    """A call's Listener: a frame every 20 ms from ``phase``, each probability's wait
    (when the frame came, how long its probability took) recorded."""
    frame = line_noise(0.02)[:FRAME_BYTES_PCM]
    due = phase
    for _ in range(frames):
        await trio.sleep_until(due)
        began = trio.current_time()
        await stream.probability(frame)
        waits.append((began, trio.current_time() - began))
        due += FRAME_MS / 1000


async def _collecting_batcher(
    silero: VadModel, calls: list[tuple[float, int]], collect_s: float
) -> tuple[SileroBatcher, list[list[tuple[float, float]]]]:
    """Calls (phase, frames) paced against one batcher that collects for ``collect_s``."""
    assert isinstance(silero, SileroModel)
    batcher = SileroBatcher(silero, collect_s=collect_s)
    waits: list[list[tuple[float, float]]] = [[] for _ in calls]
    async with trio.open_nursery() as nursery:
        await nursery.start(batcher.run)
        async with trio.open_nursery() as callers:
            for (phase, frames), each in zip(calls, waits, strict=True):
                callers.start_soon(_paced_call, silero.new_stream(batcher), phase, frames, each)
        nursery.cancel_scope.cancel()
    return batcher, waits


async def test_a_lone_call_never_waits_for_a_batch(
    every_window: SileroModel, autojump_clock: trio.testing.MockClock
) -> None:
    """Nobody else was heard lately: each window runs at once, whatever ``collect_s``."""
    batcher, waits = await _collecting_batcher(every_window, [(0.0, 50)], collect_s=0.02)
    assert batcher.windows > 25
    assert max(wait for _, wait in waits[0]) == 0


async def test_a_window_waits_only_until_the_other_calls_windows_are_in(
    every_window: SileroModel, autojump_clock: trio.testing.MockClock
) -> None:
    """Two calls 2 ms apart: once both have been heard, each batch holds both windows and
        runs when the second comes in (2 ms), not at the end of ``collect_s`` (20 ms). (The
        second call's first window waits for the first call's next, which comes later than the
    second call's does, and its last for the first, whose audio has ended.)"""
    batcher, waits = await _collecting_batcher(
        every_window, [(0.0, 50), (0.002, 50)], collect_s=0.02
    )
    assert batcher.windows / batcher.batches > 1.9
    steady = [wait for _, wait in waits[0][5:]]
    assert max(steady) == pytest.approx(0.002)
    assert max(wait for _, wait in waits[1][2:-2]) == 0


async def test_a_call_that_went_quiet_holds_the_others_windows_only_briefly(
    every_window: SileroModel, autojump_clock: trio.testing.MockClock
) -> None:
    """The second call's audio stops: the first's windows wait ``collect_s`` for it while
    it was heard within ``ACTIVE_S``, then not at all."""
    _, waits = await _collecting_batcher(every_window, [(0.0, 50), (0.002, 10)], collect_s=0.005)
    assert max(wait for _, wait in waits[0]) == pytest.approx(0.005)
    late = [wait for began, wait in waits[0] if began > 0.2 + ACTIVE_S + 0.04]
    assert late
    assert max(late) == 0


def test_webrtc_accepts_frames_of_any_size() -> None:
    stream = WebrtcModel(3).new_stream()
    speech = caller_says("yes please")
    results = probabilities(stream, [speech[i : i + 100] for i in range(0, len(speech), 100)])
    assert max(results) == 1.0


def test_silero_model_is_found_without_importing_the_package() -> None:
    assert silero_model_path().name == "silero_vad.onnx"
    assert "silero_vad" not in sys.modules  # its __init__ imports torch
    assert "torch" not in sys.modules


def test_bad_engine_settings_are_config_errors() -> None:
    config = PROJECT_ROOT / "config.toml"
    with pytest.raises(ConfigError, match=r"vad\.engine"):
        load_config(config, ["vad.engine=nope"], environ={})
    with pytest.raises(ConfigError, match=r"vad\.webrtc_mode"):
        load_config(config, ["vad.engine=webrtc", "vad.webrtc_mode=4"], environ={})
