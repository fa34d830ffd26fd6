"""The espeak-ng engine, for real (it is bundled and fast), and its resampler.

These tests wait on a worker thread, so they use the real clock: ``autojump_clock`` would
jump the deadline forward while the thread works. Nothing here sleeps.
"""

import threading
from contextlib import aclosing

import numpy as np
import pytest
import trio
import trio.lowlevel
import trio.testing
from structlog.testing import capture_logs

from receptionist.engines import espeak
from receptionist.engines.audio import ulaw_to_pcm16
from receptionist.engines.espeak import EspeakEngine
from receptionist.engines.resampler import Resampler
from receptionist.errors import SpeechSynthesisError

DEADLINE_S = 10
STUCK_FOR_S = 60
LONG_SENTENCE = (
    "Thank you for calling Riverside Family Clinic, your check up is booked for next "
    "Tuesday at ten in the morning, and we will send you a reminder the day before. "
)
LONGER_THAN_THE_BUFFER = LONG_SENTENCE * 6
"""About a minute of speech: more than espeak.CHUNKS_AHEAD, so the worker thread must wait
for the consumer, still holding espeak, which makes the timing of these tests certain."""


@pytest.fixture
def engine() -> EspeakEngine:
    return EspeakEngine("en-us", 165)


async def collect(engine: EspeakEngine, text: str) -> list[bytes]:
    async with aclosing(engine.stream_ulaw(text)) as chunks:
        return [chunk async for chunk in chunks]


def rms(pcm16: bytes) -> float:
    samples = np.frombuffer(pcm16, dtype="<i2").astype(np.float64)
    return float(np.sqrt(np.mean(samples**2)))


async def test_short_sentence_is_audible_8khz_ulaw_of_plausible_length(engine):
    text = "Hello, thank you for calling the clinic."  # 7 words: ~2.5 s at 165 wpm
    with trio.fail_after(DEADLINE_S):
        ulaw = b"".join(await collect(engine, text))
    seconds = len(ulaw) / 8000  # mu-law: one byte per sample
    assert 1.2 < seconds < 5.0
    assert rms(ulaw_to_pcm16(ulaw)) > 500


async def test_long_text_streams_chunks_while_espeak_is_still_speaking(engine):
    chunks: list[bytes] = []
    with trio.fail_after(DEADLINE_S):
        async with aclosing(engine.stream_ulaw(LONGER_THAN_THE_BUFFER)) as stream:
            async for chunk in stream:
                if not chunks:
                    # The worker thread holds espeak until the whole text is spoken.
                    assert espeak._SYNTH_LOCK.locked()
                chunks.append(chunk)
    assert len(chunks) > espeak.CHUNKS_AHEAD
    assert not espeak._SYNTH_LOCK.locked()


async def test_a_slow_listener_does_not_keep_espeak_from_other_calls(engine):
    with trio.fail_after(DEADLINE_S):
        async with aclosing(engine.stream_ulaw(LONG_SENTENCE)) as slow:
            await slow.__anext__()  # then reads no more, as if paced by playback
            other = await trio.to_thread.run_sync(
                engine.synthesize_pcm, "Hello.", abandon_on_cancel=True
            )
            assert len(other) > 2000
            assert len([chunk async for chunk in slow]) > 10


@pytest.mark.parametrize("stop", ["cancel", "break", "cancel_before_first_chunk"])
async def test_stopping_mid_stream_frees_espeak_for_the_next_text(engine, stop):
    with trio.fail_after(DEADLINE_S):
        with trio.CancelScope() as scope:
            if stop == "cancel_before_first_chunk":
                scope.cancel()  # Cancelled is raised inside the generator, at its first wait
            async with aclosing(engine.stream_ulaw(LONGER_THAN_THE_BUFFER)) as stream:
                async for _chunk in stream:
                    if stop == "cancel":
                        scope.cancel()
                        await trio.lowlevel.checkpoint()
                    break
        # aclose() has waited for the thread: espeak is free without any waiting here.
        assert not espeak._SYNTH_LOCK.locked()
        assert len(b"".join(await collect(engine, "Goodbye."))) > 2000


async def test_a_stream_waiting_for_espeak_can_be_cancelled_without_waiting_its_turn(engine):
    with trio.fail_after(DEADLINE_S):
        async with aclosing(engine.stream_ulaw(LONGER_THAN_THE_BUFFER)) as holder:
            await holder.__anext__()  # its thread holds espeak until the channel is drained
            with trio.CancelScope() as scope:

                async def cancel_once_blocked() -> None:
                    await trio.testing.wait_all_tasks_blocked()
                    scope.cancel()

                async with trio.open_nursery() as nursery:
                    nursery.start_soon(cancel_once_blocked)
                    await collect(engine, "I wait for espeak.")
            assert scope.cancelled_caught
            assert espeak._SYNTH_LOCK.locked()  # the holder was not made to finish first
        assert not espeak._SYNTH_LOCK.locked()


async def test_concurrent_streams_take_turns_and_both_complete(engine):
    results: dict[str, bytes] = {}

    async def speak(text: str) -> None:
        results[text] = b"".join(await collect(engine, text))

    with trio.fail_after(DEADLINE_S):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(speak, LONG_SENTENCE)
            nursery.start_soon(speak, "Good morning.")
        alone = b"".join(await collect(engine, "Good morning."))
    # espeak is not bit-exact run to run (its pitch flutter carries state), only close.
    assert len(results["Good morning."]) == pytest.approx(len(alone), rel=0.05)
    assert len(results[LONG_SENTENCE]) > 5 * 8000


async def test_unknown_voice_raises_synthesis_error_and_frees_espeak():
    with trio.fail_after(DEADLINE_S):
        with pytest.raises(SpeechSynthesisError, match="no voice"):
            await collect(EspeakEngine("xx-nowhere", 165), "hello")
        with pytest.raises(SpeechSynthesisError, match="no voice"):
            EspeakEngine("xx-nowhere", 165).synthesize_pcm("hello")
        assert await collect(EspeakEngine("en-us", 165), "hello")


def test_synthesize_pcm_is_16_bit_at_the_native_rate(engine):
    pcm = engine.synthesize_pcm("Good morning.")
    assert engine.native_rate == 22050
    assert len(pcm) % 2 == 0
    assert 0.4 < len(pcm) / 2 / engine.native_rate < 3.0
    assert rms(pcm) > 500


def tone(frequency: float, seconds: float = 1.0, rate: int = 22050) -> bytes:
    t = np.arange(int(seconds * rate)) / rate
    return (10000 * np.sin(2 * np.pi * frequency * t)).astype("<i2").tobytes()


def resample(pcm16: bytes, chunk_bytes: int | None = None) -> bytes:
    resampler = Resampler(22050, 8000)
    step = chunk_bytes or len(pcm16)
    pieces = [resampler.process(pcm16[i : i + step]) for i in range(0, len(pcm16), step)]
    return b"".join(pieces) + resampler.flush()


def gain_db(frequency: float) -> float:
    out = resample(tone(frequency))
    steady = out[400:-400]  # leave out the filter's run-in and run-out
    return 20 * np.log10(rms(steady) / rms(tone(frequency)))


def test_tone_above_the_phone_band_is_filtered_out_not_aliased():
    # 5 kHz cannot exist at 8 kHz: unfiltered, it would fold back to 3 kHz.
    assert gain_db(5000) < -60


def test_tone_in_the_phone_band_passes():
    assert abs(gain_db(1000)) < 0.5
    assert len(resample(tone(1000))) == 8000 * 2


def test_chunked_resampling_equals_resampling_in_one_piece():
    speechlike = tone(440, 0.5) + tone(2500, 0.5)
    assert resample(speechlike, chunk_bytes=2206 * 2 + 2) == resample(speechlike)


class _StuckEspeak:
    """libespeak-ng as it misbehaves: a synthesis that never calls back nor returns."""

    sample_rate = 22050

    def __init__(self) -> None:
        self.release = threading.Event()

    def speak(self, *_args: object) -> None:
        self.release.wait()


async def test_closing_a_stream_whose_espeak_is_stuck_waits_at_most_the_stop_timeout(
    autojump_clock, monkeypatch
):
    stuck = _StuckEspeak()
    monkeypatch.setattr(espeak, "_library", stuck)
    engine = EspeakEngine("en-us", 160)

    async def unstick_much_later() -> None:  # so that without the bound the test fails, not hangs
        await trio.sleep(STUCK_FOR_S)
        stuck.release.set()

    async with trio.open_nursery() as nursery:
        nursery.start_soon(unstick_much_later)
        began = trio.current_time()
        with capture_logs() as logs, trio.move_on_after(1):
            async with aclosing(engine.stream_ulaw("Never said.")) as stream:
                async for _chunk in stream:
                    pass
        closed_after = trio.current_time() - began
        nursery.cancel_scope.cancel()
    stuck.release.set()  # let the thread go, and espeak's lock with it
    await trio.to_thread.run_sync(espeak._SYNTH_LOCK.acquire)
    espeak._SYNTH_LOCK.release()
    assert closed_after == pytest.approx(1 + espeak.STOP_TIMEOUT_S, abs=0.1)
    assert [e["event"] for e in logs] == ["tts.espeak_stuck"]
