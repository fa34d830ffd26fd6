"""Recordings: stereo 16-bit 8 kHz WAV, caller left, agent right, appended as the call goes.

``wave`` rewrites the header's sizes on every ``writeframes``, so a file is playable up to
its last chunk even if the process dies mid-call.
"""

from __future__ import annotations

import wave
from pathlib import Path

from receptionist.engines.audio import audioop, ulaw_to_pcm16
from receptionist.messages import SAMPLE_RATE

SAMPLE_WIDTH = 2


def open_recording(path: Path) -> wave.Wave_write:
    path.parent.mkdir(parents=True, exist_ok=True)
    recording = wave.open(str(path), "wb")  # noqa: SIM115 (closed by RecordWriter at the call's end)
    recording.setnchannels(2)
    recording.setsampwidth(SAMPLE_WIDTH)
    recording.setframerate(SAMPLE_RATE)
    return recording


def stereo_pcm(caller_ulaw: bytes, agent_ulaw: bytes) -> bytes:
    """Interleaved 16-bit frames: the caller on the left, the agent on the right."""
    left = audioop.tostereo(ulaw_to_pcm16(caller_ulaw), SAMPLE_WIDTH, 1, 0)
    right = audioop.tostereo(ulaw_to_pcm16(agent_ulaw), SAMPLE_WIDTH, 0, 1)
    return audioop.add(left, right, SAMPLE_WIDTH)
