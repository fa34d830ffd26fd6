import wave
from pathlib import Path

import pytest

from receptionist.devtools.playback import Playback
from receptionist.devtools.replay import (
    fixture_files,
    load_caller_audio,
    split_utterances,
    turn_rows,
)
from receptionist.engines.audio import audioop, pcm16_to_ulaw, ulaw_to_pcm16
from tests.helpers.paths import PROJECT_ROOT

FIXTURES = PROJECT_ROOT / "tests" / "fixtures"


@pytest.mark.parametrize("name", ["booking_call", "cancel_call", "hours_call"])
def test_fixtures_split_into_their_scripted_utterances(name):
    lines = (FIXTURES / f"{name}.txt").read_text().splitlines()
    assert len(split_utterances(load_caller_audio(FIXTURES / f"{name}.wav"))) == len(lines)


def test_a_wav_at_another_rate_and_in_stereo_loads_as_8khz_mulaw(tmp_path: Path):
    ulaw = load_caller_audio(FIXTURES / "hours_call.wav")
    pcm = ulaw_to_pcm16(ulaw)
    pcm_16k, _ = audioop.ratecv(pcm, 2, 1, 8000, 16000, None)
    stereo = audioop.tostereo(pcm_16k, 2, 1, 1)
    path = tmp_path / "caller.wav"
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(2)
        wav.setsampwidth(2)
        wav.setframerate(16000)
        wav.writeframes(stereo)
    loaded = load_caller_audio(path)
    assert abs(len(loaded) - len(ulaw)) <= 160
    assert len(split_utterances(loaded)) == 2


def test_a_compressed_fixture_without_ffmpeg_is_a_clear_error(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # no ffmpeg on it
    path = tmp_path / "caller.mp3"
    path.write_bytes(b"ID3")
    with pytest.raises(ValueError, match="needs ffmpeg"):
        load_caller_audio(path)


def test_an_8_bit_wav_loads_like_its_16_bit_original(tmp_path: Path):
    ulaw = load_caller_audio(FIXTURES / "hours_call.wav")
    path = tmp_path / "caller8.wav"
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(1)
        wav.setframerate(8000)
        wav.writeframes(audioop.bias(audioop.lin2lin(ulaw_to_pcm16(ulaw), 2, 1), 1, 128))
    assert len(split_utterances(load_caller_audio(path))) == 2


def test_raw_mulaw_is_taken_as_is(tmp_path: Path):
    path = tmp_path / "caller.ulaw"
    path.write_bytes(pcm16_to_ulaw(b"\0\0" * 800))
    assert load_caller_audio(path) == path.read_bytes()
    assert split_utterances(path.read_bytes()) == []
    assert fixture_files(tmp_path) == [path]


def test_playback_echoes_marks_once_their_audio_has_played():
    playback = Playback()
    for _ in range(3):
        playback.media(b"\x01" * 160, now=0.0)
    playback.mark("turn1-s0", now=0.0)
    assert playback.played(now=0.05) == []
    assert playback.speaking(now=0.05)
    assert playback.played(now=0.06) == ["turn1-s0"]
    assert len(playback.heard) == 480
    assert not playback.speaking(now=0.06)


def test_clear_drops_unplayed_audio_and_returns_pending_marks_at_once():
    playback = Playback()
    for _ in range(50):
        playback.media(b"\x01" * 160, now=0.0)
    playback.mark("turn1-s0", now=0.0)
    assert playback.clear(now=0.1) == ["turn1-s0"]
    assert len(playback.heard) == 160 * 6  # frames starting at 0, 20, ... 100 ms
    assert playback.played(now=5.0) == []
    assert len(playback.heard) == 160 * 6


def test_turn_rows_join_the_turn_log_with_what_was_said():
    events = [
        {"event": "dialogue.said", "turn_id": 2, "text": "Of course.", "caller_text": "book"},
        {"event": "turn", "turn_id": 2, "stt_ms": 700.0, "total_ms": 720.0},
    ]
    (row,) = turn_rows(events)
    assert (row.turn_id, row.caller, row.agent) == (2, "book", "Of course.")
    assert (row.latencies["stt"], row.latencies["total"], row.latencies["tts"]) == (
        700.0,
        720.0,
        None,
    )
