"""The fake Deepgram's script: what the caller says and when, and the Results messages
it makes of it (I/O-free). The server that plays it is ``fakes.deepgram``.

A script is a list of utterances timed on the caller's audio (``tests/fixtures/*.json``);
words without times share their utterance's time in proportion to their length.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MODEL_INFO = {"name": "2-general-nova", "version": "2024-01-18.26916", "arch": "nova-3"}


@dataclass(frozen=True)
class ScriptedWord:
    word: str
    start: float
    end: float


@dataclass(frozen=True)
class ScriptedUtterance:
    text: str
    start: float
    end: float
    words: tuple[ScriptedWord, ...]


def load_script(path: Path) -> list[ScriptedUtterance]:
    """A fixture's ``[{"text", "start", "end", "words": [{"word", "start", "end"}]}]``."""
    return [utterance(**entry) for entry in json.loads(path.read_text(encoding="utf-8"))]


def utterance(text: str, start: float, end: float, words: Any = None) -> ScriptedUtterance:
    """An utterance; without ``words``, they share its time in proportion to their length."""
    if words:
        return ScriptedUtterance(text, start, end, tuple(ScriptedWord(**w) for w in words))
    spoken, at, timed = text.split(), start, []
    per_char = (end - start) / max(1, sum(len(w) for w in spoken))
    for word in spoken:
        timed.append(ScriptedWord(word, round(at, 3), round(at + len(word) * per_char, 3)))
        at += len(word) * per_char
    return ScriptedUtterance(text, start, end, tuple(timed))


@dataclass
class Progress:
    """How far the script has got with one utterance."""

    started: bool = False
    interim_words: int = 0
    """Words in the last interim result."""
    interim_at: float = -math.inf
    """Script time of the last interim result."""
    finalised: int = 0
    """Words already sent in final results."""
    ended: bool = False
    shift: float = 0.0
    """Script time minus audio time while it is heard (``follow_speech`` moves them apart);
    results carry audio times, as Deepgram's do."""


def results_message(
    words: list[ScriptedWord], is_final: bool, speech_final: bool, from_finalize: bool = False,
    *, offset: float, empty_at: float,
) -> dict[str, Any]:  # fmt: skip
    """A ``Results`` message for ``words``, timed from the connection's first audio:
    ``offset`` is script time minus connection time; ``empty_at`` times a result without
    words."""
    start = words[0].start - offset if words else max(0.0, empty_at)
    end = words[-1].end - offset if words else start
    return {
        "type": "Results", "channel_index": [0, 1], "duration": round(end - start, 3),
        "start": round(start, 3), "is_final": is_final, "speech_final": speech_final,
        "from_finalize": from_finalize,
        "channel": {"alternatives": [{
            "transcript": " ".join(w.word for w in words), "confidence": 0.98,
            "words": [{"word": w.word.lower(), "start": round(w.start - offset, 3),
                       "end": round(w.end - offset, 3), "confidence": 0.98,
                       "punctuated_word": w.word} for w in words],
        }]},
        "metadata": {"request_id": "fake", "model_info": MODEL_INFO, "model_uuid": "fake"},
    }  # fmt: skip
