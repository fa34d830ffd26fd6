"""The Listener with the real engines (Silero, PocketSphinx in worker processes) on the
committed booking call, and the stand-in VAD the other Listener tests use.

These run on the real clock: recognition runs off the event loop (a worker thread, or worker
processes as in the server), which a mock clock would jump past (autojump advances time
while the decode works and fires the test's deadline).
Nothing here waits on the clock: frames carry made-up timestamps, and ``fail_after`` is
only a safety net.
"""

from __future__ import annotations

import wave
from collections.abc import Iterator
from functools import partial

import pytest
import trio
import trio.testing

from receptionist.config import Config
from receptionist.devtools.bench.stt import word_errors
from receptionist.engines.audio import pcm16_to_ulaw, ulaw_to_pcm16
from receptionist.engines.decoding import WorkerDecoding, open_decoder_workers
from receptionist.engines.sphinx import SphinxModel
from receptionist.engines.vad import (
    load_vad,
    new_segmenter,
    probabilities,
)
from receptionist.messages import (
    FRAME_BYTES,
    Expectation,
    ListenerEvent,
    SpeechStarted,
    SpeechStopped,
    Transcript,
)
from tests.helpers.listener import (
    SILENCE,
    SPEECH,
    EnergyVad,
    StartListener,
    listener_starter,
)
from tests.helpers.paths import PROJECT_ROOT

FIXTURE_LIMIT_S = 120


@pytest.fixture
def start_listener(nursery: trio.Nursery) -> StartListener:
    return listener_starter(nursery)


@pytest.fixture(scope="module")
def sphinx(project_config: Config) -> Iterator[SphinxModel]:
    model = SphinxModel(project_config.services)
    yield model
    model.close()


def fixture_frames(name: str) -> list[bytes]:
    with wave.open(str(PROJECT_ROOT / "tests" / "fixtures" / f"{name}.wav"), "rb") as wav:
        ulaw = pcm16_to_ulaw(wav.readframes(wav.getnframes()))
    ulaw += SILENCE * 50  # a second of line after the last word
    return [ulaw[i : i + FRAME_BYTES] for i in range(0, len(ulaw), FRAME_BYTES)]


async def test_the_booking_call_fixture_is_heard(
    start_listener: StartListener, sphinx: SphinxModel, project_config: Config
) -> None:
    """Decoded in worker processes, as the server does."""
    # A bound against a hang, not a speed test: on a loaded 2-core machine one utterance
    # took 2 s to decode, and seven of them outran a 10 s bound.
    lines = (
        (PROJECT_ROOT / "tests" / "fixtures" / "booking_call.txt").read_text().lower().splitlines()
    )
    with trio.fail_after(FIXTURE_LIMIT_S):
        async with open_decoder_workers() as workers:
            decoder = WorkerDecoding(workers, sphinx.spec)
            await decoder.recognize(bytes(3200), Expectation.OPEN)  # warm, as the server's
            vad = load_vad(project_config.vad).new_stream()
            call = await start_listener(decoder, vad, new_segmenter(project_config.vad))
            events: list[ListenerEvent] = []
            async with trio.open_nursery() as feeder:
                # Ten times real time: decoding keeps up, as it must on a real call.
                feeder.start_soon(partial(call.play, fixture_frames("booking_call"), speedup=10))
                while sum(isinstance(e, Transcript) for e in events) < len(lines):
                    events.append(await call.next_event())
            await call.audio.aclose()  # the call ends once the last answer is in
            assert await call.rest() == []
    # Frames arrive faster than real time, so a transcript may come after the next
    # utterance has started: the turn events alone alternate.
    turn_events = [type(e) for e in events if not isinstance(e, Transcript)]
    assert turn_events == [SpeechStarted, SpeechStopped] * len(lines)
    transcripts = [e for e in events if isinstance(e, Transcript)]
    assert "next tuesday" in [t.text for t in transcripts]
    stops = [e.at for e in events if isinstance(e, SpeechStopped)]
    assert [t.speech_ended_at for t in transcripts] == stops
    errors = sum(word_errors(ref, t.text) for ref, t in zip(lines, transcripts, strict=True))
    # Measured 8/22: "ten a m" is heard as "can i a m", "John Smith" as "on may".
    assert errors / sum(len(line.split()) for line in lines) <= 0.45


def test_energy_vad_tells_the_test_frames_apart() -> None:
    vad = EnergyVad()
    assert probabilities(vad, [ulaw_to_pcm16(SPEECH), ulaw_to_pcm16(SILENCE)]) == [1.0, 0.0]
