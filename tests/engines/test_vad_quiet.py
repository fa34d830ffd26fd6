"""The quiet line's skip: which windows Silero is spared, and that callers are heard alike."""

from __future__ import annotations

import math

import numpy as np
import pytest

from receptionist import frame_costs
from receptionist.config import VadConfig
from receptionist.devtools.phone_speech import caller_says, line_noise
from receptionist.engines.vad import new_segmenter, probabilities
from receptionist.engines.vad_quiet import QuietFloor, QuietLine
from receptionist.engines.vad_silero import SileroModel
from receptionist.frame_costs import FrameCosts
from receptionist.messages import FRAME_MS, SAMPLE_RATE, SpeechStarted, SpeechStopped

FRAME_BYTES_PCM = SAMPLE_RATE * FRAME_MS // 1000 * 2
WINDOW_SAMPLES = 256


def window_at(dbfs: float, seed: int = 0) -> bytes:
    noise = np.random.default_rng(seed).standard_normal(WINDOW_SAMPLES)
    scaled = noise / np.sqrt(np.mean(noise**2)) * 32768 * 10 ** (dbfs / 20)
    return scaled.astype(np.int16).tobytes()


def test_quiet_windows_are_skipped_only_after_the_hang() -> None:
    line = QuietLine(floor_dbfs=-55, hang_windows=3)
    quiet, loud = window_at(-70), window_at(-30)
    assert [line.skip(quiet) for _ in range(5)] == [False, False, False, True, True]
    assert line.skip(loud) is False
    assert [line.skip(quiet) for _ in range(4)] == [False, False, False, True]


def test_loud_noise_and_a_soft_voice_are_never_skipped() -> None:
    line = QuietLine(floor_dbfs=-55, hang_windows=0)
    assert not any(line.skip(window_at(-40, seed)) for seed in range(20))
    assert not line.skip(window_at(-50))


def test_only_the_new_samples_count_not_the_context() -> None:
    line = QuietLine(floor_dbfs=-55, hang_windows=0, skip_from=64)
    assert line.skip(window_at(-20)[:64] + window_at(-70)[64:]) is True


def test_minus_infinity_never_skips_even_digital_silence() -> None:
    line = QuietLine(floor_dbfs=-math.inf, hang_windows=0)
    assert not any(line.skip(bytes(2 * WINDOW_SAMPLES)) for _ in range(10))


@pytest.fixture(scope="module")
def plain() -> SileroModel:
    return SileroModel()


@pytest.fixture(scope="module")
def quiet() -> SileroModel:
    config = VadConfig()
    return SileroModel(quiet=QuietFloor(config.quiet_floor_dbfs, config.quiet_hang_ms))


def heard(model: SileroModel, pcm16: bytes) -> tuple[list[tuple[type, int]], FrameCosts]:
    """The turn events (kind, frame) Silero and the segmenter make of the audio."""
    frames = [pcm16[i : i + FRAME_BYTES_PCM] for i in range(0, len(pcm16), FRAME_BYTES_PCM)]
    with frame_costs.counting(FrameCosts()) as costs:
        stream = model.new_stream()
    segmenter = new_segmenter(VadConfig())
    events = [
        (type(event), index)
        for index, p in enumerate(probabilities(stream, frames))
        if (event := segmenter.handle(p, index * FRAME_MS / 1000)) is not None
    ]
    return events, costs


def test_a_caller_on_a_quiet_line_is_heard_as_without_the_skip(
    plain: SileroModel, quiet: SileroModel
) -> None:
    """Long quiet, two utterances with quiet between and after: the skip spares Silero most
    of the quiet, and the segmenter makes the same events of it, each start within two
    frames (the model's state has not been through the skipped quiet), each stop within
    one."""
    call = (
        line_noise(3.0)
        + caller_says("I would like to book a check up")
        + line_noise(2.0, 1)
        + caller_says("next Tuesday at ten")
        + line_noise(1.5, 2)
    )
    reference, plain_costs = heard(plain, call)
    events, costs = heard(quiet, call)
    assert [kind for kind, _ in events] == [kind for kind, _ in reference]
    assert [kind for kind, _ in reference] == [SpeechStarted, SpeechStopped] * 2
    for (kind, frame), (_, reference_frame) in zip(events, reference, strict=True):
        if kind is SpeechStarted:
            assert abs(frame - reference_frame) <= 2
        else:
            assert abs(frame - reference_frame) <= 1
    assert plain_costs.vad_skipped == 0
    quiet_windows = (3.0 + 2.0 + 1.5 - 3 * 0.5) * 1000 / 32
    assert costs.vad_skipped > 0.8 * quiet_windows
