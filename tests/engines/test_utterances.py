"""UtteranceAssembler: which audio goes to the recogniser. Synchronous, no engines."""

from __future__ import annotations

from receptionist.engines.utterances import POSTROLL_MS, Utterance, UtteranceAssembler
from receptionist.engines.vad import SegmenterEvent, SpeechSegmenter
from receptionist.messages import FRAME_MS, SpeechStarted, SpeechStopped

FRAME = FRAME_MS / 1000
MIN_SPEECH_FRAMES, END_SILENCE_FRAMES, PREROLL_FRAMES = 5, 35, 15


Machine = tuple[SpeechSegmenter, UtteranceAssembler]


def assembler(max_utterance_s: float = 30.0) -> Machine:
    segmenter = SpeechSegmenter(
        threshold=0.5,
        min_speech_ms=MIN_SPEECH_FRAMES * FRAME_MS,
        end_silence_ms=END_SILENCE_FRAMES * FRAME_MS,
    )
    return segmenter, UtteranceAssembler(
        segmenter, preroll_ms=PREROLL_FRAMES * FRAME_MS, max_utterance_s=max_utterance_s
    )


def run(machine: Machine, voiced: list[bool]) -> tuple[list[SegmenterEvent], list[Utterance]]:
    """Frame i is the 2-byte tag i (so the test can see which frames were kept)."""
    segmenter, assembler = machine
    events: list[SegmenterEvent] = []
    utterances: list[Utterance] = []
    for index, flag in enumerate(voiced):
        event = segmenter.handle(float(flag), index * FRAME)
        utterance = assembler.handle(index.to_bytes(2, "big"), event)
        events += [event] if event else []
        utterances += [utterance] if utterance else []
    return events, utterances


def frame_indices(utterance: Utterance) -> list[int]:
    pcm = utterance.pcm16
    return [int.from_bytes(pcm[i : i + 2], "big") for i in range(0, len(pcm), 2)]


def test_an_utterance_has_preroll_speech_and_postroll() -> None:
    voiced = [False] * 40 + [True] * 50 + [False] * END_SILENCE_FRAMES
    events, utterances = run(assembler(), voiced)
    assert events == [SpeechStarted(at=40 * FRAME), SpeechStopped(at=89 * FRAME)]
    [utterance] = utterances
    postroll = POSTROLL_MS // FRAME_MS
    assert frame_indices(utterance) == list(range(40 - PREROLL_FRAMES, 90 + postroll))
    assert (utterance.started_at, utterance.speech_ended_at) == (40 * FRAME, 89 * FRAME)
    assert not utterance.truncated


def test_preroll_is_shorter_when_speech_begins_at_once() -> None:
    _, [utterance] = run(assembler(), [True] * 10 + [False] * END_SILENCE_FRAMES)
    assert frame_indices(utterance)[0] == 0


def test_no_utterance_until_speech_stops() -> None:
    events, utterances = run(assembler(), [False] * 5 + [True] * 100)
    assert events == [SpeechStarted(at=5 * FRAME)]
    assert utterances == []


def test_a_long_utterance_is_cut_at_the_cap_and_marked() -> None:
    machine = assembler(max_utterance_s=1.0)  # 50 frames
    _, [utterance] = run(machine, [True] * 200 + [False] * END_SILENCE_FRAMES)
    assert frame_indices(utterance) == list(range(50))
    assert utterance.truncated
    _, [after] = run(machine, [True] * 10 + [False] * END_SILENCE_FRAMES)
    assert not after.truncated


def test_silence_between_utterances_is_not_kept() -> None:
    voiced = ([False] * 100 + [True] * 10 + [False] * END_SILENCE_FRAMES) * 3
    _, utterances = run(assembler(), voiced)
    assert len(utterances) == 3
    assert all(len(frame_indices(u)) < 60 for u in utterances)
