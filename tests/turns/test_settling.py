"""The caller's quiet after their last words, counted frame by frame (``turns.settling``)."""

from __future__ import annotations

from receptionist.messages import FRAME_BYTES, FRAME_MS, CallerSettled
from receptionist.turns.settling import Settling

SETTLE_MS = 300
SETTLE_MAX_MS = 1200
FRAMES_TO_SETTLE = SETTLE_MS // FRAME_MS


def quiet(settling: Settling, frames: int, start: int = 0) -> list[CallerSettled]:
    times = [(start + i) * FRAME_MS / 1000 for i in range(frames)]
    heard = [settling.frame(FRAME_BYTES, False, at) for at in times]
    return [event for event in heard if event is not None]


def test_nothing_said_nothing_settles() -> None:
    assert quiet(Settling(SETTLE_MS, SETTLE_MAX_MS), 100) == []


def test_the_settle_time_of_quiet_frames_after_a_final_settles_once() -> None:
    settling = Settling(SETTLE_MS, SETTLE_MAX_MS)
    settling.final_heard()
    assert quiet(settling, FRAMES_TO_SETTLE - 1) == []
    assert quiet(settling, 1, start=FRAMES_TO_SETTLE - 1) == [
        CallerSettled(at=(FRAMES_TO_SETTLE - 1) * FRAME_MS / 1000)
    ]
    assert quiet(settling, 100) == []  # once: nothing new was said


def test_a_voiced_frame_starts_the_count_again() -> None:
    settling = Settling(SETTLE_MS, SETTLE_MAX_MS)
    settling.final_heard()
    assert quiet(settling, FRAMES_TO_SETTLE - 1) == []
    assert settling.frame(FRAME_BYTES, True, 1.0) is None  # "No, [pause] that's..."
    assert quiet(settling, FRAMES_TO_SETTLE - 1) == []
    assert len(quiet(settling, 1)) == 1


def test_speech_without_a_final_settles_too() -> None:
    # A cough the recogniser finds no words in: whatever waited for the caller may go on.
    settling = Settling(SETTLE_MS, SETTLE_MAX_MS)
    assert settling.frame(FRAME_BYTES, True, 0.0) is None
    assert len(quiet(settling, FRAMES_TO_SETTLE)) == 1


def test_a_final_arriving_late_counts_the_quiet_from_its_arrival() -> None:
    # The recogniser's final came after some quiet: the audio before it proves nothing about
    # what the caller does after hearing nothing back.
    settling = Settling(SETTLE_MS, SETTLE_MAX_MS)
    settling.frame(FRAME_BYTES, True, 0.0)
    assert quiet(settling, FRAMES_TO_SETTLE - 2) == []
    settling.final_heard()
    assert quiet(settling, FRAMES_TO_SETTLE - 1) == []
    assert len(quiet(settling, 1)) == 1


def test_the_count_is_in_audio_not_in_messages() -> None:
    # Twilio's frames are 20 ms; a longer chunk counts for its length.
    settling = Settling(SETTLE_MS, SETTLE_MAX_MS)
    settling.final_heard()
    assert settling.frame(FRAME_BYTES * (FRAMES_TO_SETTLE - 1), False, 0.0) is None
    assert settling.frame(FRAME_BYTES, False, 0.3) == CallerSettled(at=0.3)


def test_noise_that_keeps_sounding_voiced_settles_after_the_longest_wait() -> None:
    # A click every 200 ms: never settle_ms of quiet, never speech. A tool waiting for the
    # caller's quiet must not wait for the rest of the call.
    settling = Settling(SETTLE_MS, SETTLE_MAX_MS)
    settling.final_heard()
    heard: list[CallerSettled] = []
    for index in range(2 * SETTLE_MAX_MS // FRAME_MS):
        event = settling.frame(FRAME_BYTES, index % 10 == 9, index * FRAME_MS / 1000)
        heard.extend([event] if event is not None else [])
    assert heard[0] == CallerSettled(at=(SETTLE_MAX_MS // FRAME_MS - 1) * FRAME_MS / 1000)
