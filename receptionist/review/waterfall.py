"""The latency waterfall: one row per agent turn, a stacked bar per stage, as SVG text.

Stages run end of speech -> final transcript -> first model text -> first sentence -> first
audio -> first frame sent (turns/latency.py). A negative stage (the model's text came before
the final transcript: preemptive generation) is drawn as zero width. No I/O.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

from receptionist.turns.latency import STAGES

COLOURS = {"stt": "#4e79a7", "dialogue": "#f28e2b", "sentence": "#e15759", "tts": "#76b7b2",
           "send": "#59a14f"}  # fmt: skip
LABELS = {"stt": "final transcript", "dialogue": "first model text", "sentence": "first sentence",
          "tts": "first audio", "send": "first frame sent"}  # fmt: skip
ROW_H, LABEL_W, BAR_W, TOTAL_W, TOP = 22, 70, 520, 80, 30


def waterfall_svg(turns: Sequence[Mapping[str, Any]]) -> str:
    widest = max((_stacked(turn) for turn in turns), default=0.0) or 1.0
    scale = BAR_W / widest
    height = TOP + ROW_H * len(turns) + 10
    width = LABEL_W + BAR_W + TOTAL_W
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="waterfall" width="{width}"'
        f' height="{height}" viewBox="0 0 {width} {height}" role="img"'
        ' aria-label="Latency per agent turn">',
        _legend(),
    ]
    for row, turn in enumerate(turns):
        parts.append(_row(row, turn, scale))
    parts.append("</svg>")
    return "".join(parts)


def _stacked(turn: Mapping[str, Any]) -> float:
    return sum(max(turn.get(f"{stage}_ms") or 0.0, 0.0) for stage in STAGES)


def _row(row: int, turn: Mapping[str, Any], scale: float) -> str:
    y = TOP + row * ROW_H
    total = turn.get("total_ms")
    parts = [
        f'<g class="turn" data-turn="{int(turn["turn_id"])}">',
        f'<text x="0" y="{y + 15}" font-size="12">turn {int(turn["turn_id"])}</text>',
    ]
    x = float(LABEL_W)
    for stage in STAGES:
        ms = turn.get(f"{stage}_ms")
        if ms is None:
            continue
        w = max(ms, 0.0) * scale
        parts.append(
            f'<rect x="{x:.1f}" y="{y + 3}" width="{w:.1f}" height="{ROW_H - 6}"'
            f' fill="{COLOURS[stage]}"><title>{escape(LABELS[stage])}: {ms:.0f} ms</title></rect>'
        )
        x += w
    label = "greeting" if total is None else f"{total:.0f} ms"
    parts.append(f'<text x="{LABEL_W + BAR_W + 6}" y="{y + 15}" font-size="12">{label}</text>')
    parts.append("</g>")
    return "".join(parts)


def _legend() -> str:
    parts, x = [], LABEL_W
    for stage in STAGES:
        parts.append(f'<rect x="{x}" y="6" width="10" height="10" fill="{COLOURS[stage]}"/>')
        parts.append(f'<text x="{x + 14}" y="15" font-size="11">{escape(LABELS[stage])}</text>')
        x += 14 + 7 * len(LABELS[stage]) + 10
    return "".join(parts)
