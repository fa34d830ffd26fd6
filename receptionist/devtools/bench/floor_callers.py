"""The floor phase's callers and model: people who pause after their first word, say "mm-hm"
while the agent talks, speak over it, and a model that answers the words it is given, as a
real one would, fragments included (issue 9).

Each call is one of ``CALLS``: lines the caller says, each into the agent's silence
(``breath``: its first word, a pause of 250 to 450 ms, then the rest), or ``over_s`` seconds
into the agent's audio (a backchannel, or speaking over the agent). Their audio is espeak's
caller voice (``phone_speech.first_takes``: the same every run); Deepgram's script has one
utterance per stretch of speech, so a breath's first word is finalised on its own, as
Deepgram does at a pause, and the turn looks over.

``FloorModel`` answers each request from the caller's last words (a backchannel is none):
"Yes," (after "Shall I cancel it?") with ``cancel_appointment``, "No," and "Great," with a
goodbye and ``end_call``, as a model does when it is handed the fragment; the whole sentence
the same way. Its tool
calls' ids say which: ``call_fragment<n>`` for an answer to a lone first word,
``call_whole<n>`` otherwise; the server logs the id of each tool call it runs.
"""

from __future__ import annotations

import itertools
import random
import re
from dataclasses import dataclass
from typing import Any

from receptionist.devtools.fakes.deepgram_script import ScriptedUtterance, utterance
from receptionist.devtools.fakes.openai import Scripted, ToolCallScript
from receptionist.devtools.phone_speech import first_takes
from receptionist.engines.audio import pcm16_to_ulaw
from receptionist.messages import FRAME_BYTES, SAMPLE_RATE, ULAW_SILENCE
from receptionist.turns.lexicon import is_backchannel

PAUSE_MS = (250, 450)
"""A breath after a leading word ("Hello,", "Yes,", "No,"), as callers take."""
GAP_S = 2.0
"""Between two lines in Deepgram's script (its clock follows the caller's voice: any gap)."""
FRAGMENT_WORDS = frozenset({"yes", "no", "great", "hello", "hi"})
"""A caller turn that is only one of these is a fragment of a sentence said in one breath."""
FRAGMENT_ID = "call_fragment"
WHOLE_ID = "call_whole"


@dataclass(frozen=True)
class Line:
    """One thing the caller says."""

    text: str
    breath: bool = False
    """Said as its first word, a pause, then the rest."""
    over_s: float | None = None
    """Said this long into the agent's audio instead of after it (with ``backchannel``: "mm-hm";
    without: the caller speaks over the agent)."""
    backchannel: bool = False

    @property
    def role(self) -> str:
        if self.backchannel:
            return "backchannel"
        return "turn" if self.over_s is None else "over"


CALLS: dict[str, tuple[Line, ...]] = {
    "cancel": (
        Line("Hello, I need to cancel my appointment.", breath=True),
        Line("mm-hm", over_s=1.5, backchannel=True),
        Line("Yes, please cancel it.", breath=True),
        Line("No, that's everything. Thank you, goodbye.", breath=True),
    ),
    "booking": (
        Line("Hi, I'd like to book a check up please.", breath=True),
        Line("Next Tuesday morning, please.", over_s=1.2),
        Line("okay", over_s=1.0, backchannel=True),
        Line("Ten o'clock."),
        Line("Great, thank you. Bye.", breath=True),
    ),
}


@dataclass(frozen=True)
class CallerScript:
    """One kind of call, ready to place: what the caller sends and Deepgram hears."""

    name: str
    roles: tuple[str, ...]
    """Per line: "turn", "over" or "backchannel"."""
    audio: list[bytes]
    """Per line, 8 kHz mu-law."""
    over_s: dict[int, float]
    """``TwilioCaller.run``'s ``barge_in_after_s``."""
    deepgram: list[ScriptedUtterance]


def caller_scripts(seed: int = 9) -> list[CallerScript]:
    """Every kind of ``CALLS``, spoken (one espeak process for all of them)."""
    rng = random.Random(seed)
    pieces = {name: [_pieces(line) for line in lines] for name, lines in CALLS.items()}
    texts = [p for lines in pieces.values() for line in lines for p in line]
    takes = first_takes(list(dict.fromkeys(texts)))
    speech = {text: pcm16_to_ulaw(pcm) for text, pcm in takes.items()}
    return [_script(name, CALLS[name], pieces[name], speech, rng) for name in CALLS]


def _pieces(line: Line) -> list[str]:
    if not line.breath:
        return [line.text]
    first, rest = line.text.split(" ", 1)
    return [first, rest]


def _script(
    name: str,
    lines: tuple[Line, ...],
    pieces: list[list[str]],
    speech: dict[str, bytes],
    rng: random.Random,
) -> CallerScript:
    audio: list[bytes] = []
    deepgram: list[ScriptedUtterance] = []
    at = GAP_S
    for texts in pieces:
        said = bytearray()
        for index, text in enumerate(texts):
            if index:
                pause = rng.randint(*PAUSE_MS) // 20 * FRAME_BYTES
                said += ULAW_SILENCE * pause
                at += pause / SAMPLE_RATE
            seconds = len(speech[text]) / SAMPLE_RATE
            deepgram.append(utterance(text, round(at, 3), round(at + seconds, 3)))
            said += speech[text]
            at += seconds
        audio.append(bytes(said))
        at += GAP_S
    roles = tuple(line.role for line in lines)
    over = {i: line.over_s for i, line in enumerate(lines) if line.over_s is not None}
    return CallerScript(name, roles, audio, over, deepgram)


GOODBYE = "Thank you for calling. Goodbye!"
ANSWERS: tuple[tuple[str, str], ...] = (
    (r"cancel my appointment", "I can help with that. I see a check-up on Tuesday at ten in "
     "the morning. Shall I cancel it?"),
    (r"\bbook\b", "Of course. We're open Monday to Friday, from nine in the morning to five in "
     "the afternoon. Which day would suit you?"),
    (r"tuesday", "On Tuesday morning I have ten o'clock or ten thirty. Which would you like?"),
    (r"\bten\b", "Ten o'clock on Tuesday it is. Is there anything else?"),
)  # fmt: skip
"""Words to look for in the caller's last turn -> what the model says, with no tool."""
GREETING_REPLY = "Hello! How can I help you today?"


class FloorModel:
    """The fake OpenAI's ``answer``: a reply to a request, from the caller's last words."""

    def __init__(self) -> None:
        self._ids = itertools.count()

    def __call__(self, body: dict[str, Any]) -> Scripted:
        messages = body["messages"]
        if messages[-1]["role"] == "tool":
            return Scripted(text=_after_tool(messages))
        # "mm-hm" over the agent is no request: it goes on with what it was answering.
        turns = [str(m["content"]) for m in messages if m["role"] == "user"]
        said = next((t for t in reversed(turns) if not is_backchannel(t)), "")
        words = re.findall(r"[a-z']+", said.lower())
        fragment = len(words) == 1 and words[0] in FRAGMENT_WORDS
        if words in (["no"], ["great"]) or {"bye", "goodbye"} & set(words):
            return Scripted(text=GOODBYE, tool_calls=(self._tool("end_call", {}, fragment),))
        if words == ["yes"] or "cancel it" in " ".join(words):
            cancel = self._tool("cancel_appointment", {"appointment_id": 1}, fragment)
            return Scripted(tool_calls=(cancel,))  # it speaks once the tool has run
        for pattern, reply in ANSWERS:
            if re.search(pattern, " ".join(words)):
                return Scripted(text=reply)
        return Scripted(text=GREETING_REPLY)

    def _tool(self, name: str, arguments: dict[str, Any], fragment: bool) -> ToolCallScript:
        prefix = FRAGMENT_ID if fragment else WHOLE_ID
        return ToolCallScript(name, arguments, id=f"{prefix}{next(self._ids)}")


def _after_tool(messages: list[dict[str, Any]]) -> str:
    """What the model says once its tool has run."""
    calls = [c for m in messages if m.get("tool_calls") for c in m["tool_calls"]]
    name = calls[-1]["function"]["name"] if calls else ""
    if name == "cancel_appointment":
        return "That's done. Is there anything else I can help with?"
    return GOODBYE if name == "end_call" else "Is there anything else I can help with?"
