"""The benchmark's figures from what the callers saw and the server logged: percentiles,
voice-to-voice, barge-in reaction, frame lateness, and the printed table."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from receptionist.devtools.playback import CallerReport
from receptionist.messages import FRAME_MS

FRAME_S = FRAME_MS / 1000
LATE_LIMIT_MS = 20.0
"""A frame more than one frame late at p99: the level is not sustained in real time."""


def percentiles(values: list[float]) -> dict[str, float | None]:
    """p50/p95/p99 by nearest rank (None with no samples)."""
    ordered = sorted(values)

    def rank(p: float) -> float | None:
        if not ordered:
            return None
        return round(ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)], 1)

    return {"p50": rank(50), "p95": rank(95), "p99": rank(99), "n": len(ordered)}


def voice_to_voice_ms(report: CallerReport) -> list[float]:
    """Per utterance: its last voiced frame sent to the first agent frame after it."""
    result = []
    for index, span in enumerate(report.speech_spans):
        arrivals = (
            report.reply_arrivals[index + 1] if index + 1 < len(report.reply_arrivals) else ()
        )
        if span is not None and arrivals:
            result.append((arrivals[0] - span[1]) * 1000)
    return result


def barge_in_ms(report: CallerReport, cut: dict[int, float]) -> list[float | None]:
    """Per interrupting utterance: its first voiced frame sent to the next ``clear``."""
    result: list[float | None] = []
    for index in cut:
        span = report.speech_spans[index] if index < len(report.speech_spans) else None
        clears = [t for t in report.clear_times if span is not None and t >= span[0]]
        result.append((clears[0] - span[0]) * 1000 if span and clears else None)
    return result


def lateness_ms(report: CallerReport, send_ahead_s: float) -> list[float]:
    """Each agent frame's arrival minus its slot: the turn's first frame plus 20 ms per
    frame, less the send-ahead (the first frames of a turn are due at once)."""
    late = []
    for arrivals in report.reply_arrivals:
        if not arrivals:
            continue
        first = arrivals[0]
        for index, at in enumerate(arrivals):
            slot = max(first, first + index * FRAME_S - send_ahead_s)
            late.append((at - slot) * 1000)
    return late


def preemptive_outcomes(log: Path) -> dict[str, dict[str, int]]:
    """How many guesses were kept and restarted, per interim cadence, from the server log."""
    counts: dict[str, dict[str, int]] = {"per_word": {}, "sparse": {}}
    for line in log.read_text(encoding="utf-8").splitlines():
        if '"dialogue.preemptive"' in line:
            event = json.loads(line)
            cadence = "sparse" if event["call_sid"].startswith("CAs") else "per_word"
            outcome = "kept" if event["kept"] else "restarted"
            counts[cadence][outcome] = counts[cadence].get(outcome, 0) + 1
    return counts


def inbound_dropped(log: Path) -> dict[str, int]:
    """Inbound frames the server dropped (its reader never waits), per level, from its log."""
    dropped: dict[str, int] = {}
    for line in log.read_text(encoding="utf-8").splitlines():
        if '"twilio.stats"' in line:
            event = json.loads(line)
            tag = event["call_sid"][2:].split("0", 1)[0]
            dropped[tag] = dropped.get(tag, 0) + event["frames_dropped"]
    return dropped


def table(result: dict[str, Any]) -> str:
    cloud, ramp = result["cloud"], result["capacity"]
    p, pre = cloud["provider_ms"], cloud["preemptive"]

    def row(name: str, stats: dict[str, Any], unit: str = "ms") -> str:
        cells = "".join(
            f"{'-' if stats[k] is None else stats[k]:>9}" for k in ("p50", "p95", "p99")
        )
        return f"{name:<44}{cells}{stats['n']:>7}  {unit}"

    lines = [
        f"cloud fakes: {cloud['calls']} calls ({cloud['failed_calls']} failed); providers "
        f"{p['total']:.0f} ms = STT {p['stt']:.0f} + LLM first token {p['llm_first_token']:.0f}"
        f" + TTS first byte {p['tts_first_byte']:.0f}; VAD pause: model starts at "
        f"{p['preemptive_after']} ms, Finalize at {p['finalize_after']} ms",
        f"{'':<44}{'p50':>9}{'p95':>9}{'p99':>9}{'n':>7}",
        row("voice-to-voice (last voiced frame -> audio)", cloud["voice_to_voice_ms"]),
        row("  our overhead (minus providers)", cloud["overhead_ms"]),
        row("  with interims once a second", cloud["voice_to_voice_sparse_interims_ms"]),
        f"preemptive guesses kept/restarted: per-word interims "
        f"{pre['per_word'].get('kept', 0)}/{pre['per_word'].get('restarted', 0)}, "
        f"once a second {pre['sparse'].get('kept', 0)}/{pre['sparse'].get('restarted', 0)}",
        row("barge-in (first voiced frame -> clear)", cloud["barge_in_ms"]),
        f"cancelled-turn frames after clear: {cloud['frames_after_clear']} "
        f"(barge-ins with no clear: {cloud['barge_ins_without_clear']})",
        f"server CPU, cloud engines: {cloud['cpu_ms_per_call_s']} ms per call-second",
        "",
        f"offline engines, server pinned to {result['server_pinning']} (CPU: server and "
        f"recogniser workers; 'server': without the workers):",
        f"{'calls':>5}{'failed':>7}{'late p50':>10}{'p95':>8}{'p99':>8}{'CPU ms/call-s':>15}"
        f"{'server':>8}"
        f"{'core':>7}{'RSS MB':>8}{'MB/call':>9}{'marginal':>10}{'dropped in':>12}",
    ]
    for r in ramp:
        late = r["lateness_ms"]
        lines.append(
            f"{r['calls']:>5}{r['failed']:>7}{late['p50']:>10}{late['p95']:>8}{late['p99']:>8}"
            f"{r['cpu_ms_per_call_s']:>15}{r['server_cpu_ms_per_call_s']:>8}"
            f"{r['cpu_share_of_core']:>7.0%}{r['rss_mb']:>8}"
            f"{r['rss_growth_mb_per_call']:>9}{r.get('rss_marginal_mb_per_call', '-'):>10}"
            f"{r['inbound_frames_dropped']:>12}"
        )
    lines.append(f"max concurrent calls in real time (p99 lateness <= {LATE_LIMIT_MS:.0f} ms, "
                 f"no inbound frame dropped): {result['max_realtime_calls']}")  # fmt: skip
    return "\n".join(lines)


def max_realtime(rows: list[dict[str, Any]]) -> int:
    """The most calls held in real time: none failed, p99 outbound lateness within
    ``LATE_LIMIT_MS``, and no inbound frame dropped."""
    ok = [r["calls"] for r in rows
          if not r["failed"] and r["lateness_ms"]["p99"] is not None
          and r["lateness_ms"]["p99"] <= LATE_LIMIT_MS
          and not r.get("inbound_frames_dropped")]  # fmt: skip
    return max(ok, default=0)
