"""The emulated caller's messages and its model of Twilio's playback."""

from __future__ import annotations

import json

import pytest

from receptionist.devtools.caller_messages import MediaFrames, media_message
from receptionist.devtools.playback import Playback
from receptionist.messages import FRAME_BYTES, FRAME_MS


def test_media_frames_from_the_template_are_the_messages_json_dumps_makes() -> None:
    frames = MediaFrames('MZ"odd\\sid')
    for sequence, chunk, ulaw in [(2, 1, b"\xff" * FRAME_BYTES), (98765, 98764, bytes(range(160)))]:
        expected = json.dumps(media_message('MZ"odd\\sid', sequence, chunk, ulaw))
        assert frames.encode(sequence, chunk, ulaw) == expected


def test_the_next_mark_is_due_when_the_audio_before_it_has_played() -> None:
    playback = Playback()
    assert playback.next_mark_at() is None
    playback.media(b"\xff" * FRAME_BYTES * 3, now=1.0)
    playback.mark("one", now=1.0)
    playback.media(b"\xff" * FRAME_BYTES * 2, now=1.01)
    playback.mark("two", now=1.01)
    assert playback.next_mark_at() == pytest.approx(1.0 + 3 * FRAME_MS / 1000)
    assert playback.played(1.0 + 3 * FRAME_MS / 1000 + 1e-9) == ["one"]
    assert playback.next_mark_at() == pytest.approx(1.0 + 5 * FRAME_MS / 1000)
    assert playback.clear(1.07) == ["two"]
    assert playback.next_mark_at() is None
