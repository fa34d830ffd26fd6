"""The bench's floor phase: callers who speak like people do, and whether the agent keeps off
their words (issue 9).

Each caller utterance of the cloud phase is said as people say it: its first word, a pause of
250 to 450 ms, then the rest ("I'd | like to book a check up please", "Yes, | please ...").
Deepgram's fake finalises the first word on its own at the pause, so the turn looks over; the
agent must not answer into the rest. Figures, per call, from what the caller received and the
server logged:

- talk-over: agent audio that arrived while the caller was saying an utterance (from its first
  voiced frame to its last), in ms: total and p95 per call;
- hang-ups on a speaking caller: the server closed the line mid-utterance (must be 0);
- fragment tool runs: a side-effecting tool that ran in an agent turn the caller then
  continued (its answer cut before any of it was heard: must be 0);
- reply latency: the caller's last voiced frame to the agent's first frame, p50/p95.
"""

from __future__ import annotations

import audioop
import json
import random
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from receptionist.devtools.bench.figures import FRAME_S, percentiles, voice_to_voice_ms
from receptionist.devtools.fakes.deepgram_script import ScriptedUtterance, ScriptedWord
from receptionist.devtools.playback import CallerReport
from receptionist.engines.audio import ulaw_to_pcm16
from receptionist.messages import FRAME_BYTES, ULAW_SILENCE

PAUSE_MS = (250, 450)
"""A breath after a leading word ("Hello,", "Yes,", "No,"), as callers take."""
SPEECH_RMS = 500
CloudSetUp = Callable[
    [list[ScriptedUtterance], list[bytes], int, Path],
    Awaitable[tuple[list[CallerReport], int]],
]
"""Serve the fakes with this Deepgram script, run the server, place the calls: reports, failed."""
SIDE_EFFECTS = frozenset(
    {"book_appointment", "cancel_appointment", "end_call", "transfer_to_human"}
)


def breathe(
    utterances: list[bytes], script: list[ScriptedUtterance], seed: int = 9
) -> tuple[list[bytes], list[ScriptedUtterance]]:
    """Each utterance said as its first word, a pause, then the rest; Deepgram's script split
    to match (two utterances where there was one, so the first word is finalised alone)."""
    rng = random.Random(seed)
    said: list[bytes] = []
    split: list[ScriptedUtterance] = []
    for audio, entry in zip(utterances, script, strict=False):
        first, *rest = entry.words
        if not rest:
            said.append(audio)
            split.append(entry)
            continue
        cut = _voice_onset(audio) + round((first.end - first.start) / FRAME_S) * FRAME_BYTES
        pause = ULAW_SILENCE * FRAME_BYTES * (rng.randint(*PAUSE_MS) // 20)
        said.append(audio[:cut] + pause + audio[cut:])
        split.append(_piece((first,)))
        split.append(_piece(tuple(rest)))
    return said, split


def _piece(words: tuple[ScriptedWord, ...]) -> ScriptedUtterance:
    text = " ".join(w.word for w in words)
    return ScriptedUtterance(text, words[0].start, words[-1].end, words)


def _voice_onset(ulaw: bytes) -> int:
    """The byte offset of the first voiced frame."""
    for offset in range(0, len(ulaw), FRAME_BYTES):
        if audioop.rms(ulaw_to_pcm16(ulaw[offset : offset + FRAME_BYTES]), 2) >= SPEECH_RMS:
            return offset
    return 0


def talk_over_ms(report: CallerReport) -> float:
    """Agent audio that arrived while the caller was saying an utterance."""
    arrivals = [t for times in report.reply_arrivals for t in times]
    spans = [span for span in report.speech_spans if span is not None]
    frames = sum(1 for t in arrivals for first, last in spans if first <= t <= last)
    return round(frames * FRAME_S * 1000, 1)


def fragment_tool_runs(log: Path, tag: str) -> int:
    """Side-effecting tools run in agent turns that the caller then continued."""
    ran: set[tuple[str, int]] = set()
    continued: set[tuple[str, int]] = set()
    for line in log.read_text(encoding="utf-8").splitlines():
        if f'"CA{tag}' not in line:
            continue
        if '"llm.tool_call"' in line:
            event = json.loads(line)
            if event["tool"] in SIDE_EFFECTS and event["outcome"] != "Invalid":
                ran.add((event["call_sid"], event["turn_id"]))
        elif '"dialogue.barge_in"' in line:
            event = json.loads(line)
            if event.get("continued"):
                continued.add((event["call_sid"], event["turn_id"]))
    return len(ran & continued)


def floor_figures(reports: list[CallerReport], log: Path, tag: str) -> dict[str, Any]:
    per_call = [talk_over_ms(r) for r in reports]
    return {
        "calls": len(reports),
        "talk_over_ms_per_call": percentiles(per_call),
        "talk_over_ms_total": round(sum(per_call), 1),
        "hang_ups_on_a_speaking_caller": sum(r.closed_while_saying for r in reports),
        "fragment_tool_runs": fragment_tool_runs(log, tag),
        "reply_ms": percentiles([ms for r in reports for ms in voice_to_voice_ms(r)]),
    }


def floor_table(figures: dict[str, Any]) -> str:
    talk = figures["talk_over_ms_per_call"]
    reply = figures["reply_ms"]
    return "\n".join([
        f"floor: {figures['calls']} calls of callers who breathe after their first word",
        f"  talk-over per call          p50 {talk['p50']}  p95 {talk['p95']}  total "
        f"{figures['talk_over_ms_total']} ms",
        f"  hang-ups on a speaking caller {figures['hang_ups_on_a_speaking_caller']}",
        f"  fragment tool runs            {figures['fragment_tool_runs']}",
        f"  reply latency               p50 {reply['p50']}  p95 {reply['p95']} ms",
    ])  # fmt: skip


async def floor_phase(
    cloud: CloudSetUp,
    calls: int,
    utterances: list[bytes],
    script: list[ScriptedUtterance],
    out: Path,
) -> dict[str, Any]:
    """``calls`` breathing callers against the cloud engines' fakes (``cloud`` builds them
    and runs a level, as the cloud phase does)."""
    said, split = breathe(utterances, script)
    log = out / "server-floor.log"
    reports, failed = await cloud(split, said, calls, log)
    figures = floor_figures(reports, log, "f")
    figures["failed_calls"] = failed
    return figures
