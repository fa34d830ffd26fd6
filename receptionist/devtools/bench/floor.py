"""The bench's floor phase: callers who speak like people do, and whether the agent keeps off
their words (issue 9). Its callers and model: ``bench.floor_callers``.

Figures, counted from what happened: the emulated caller's own timeline (when each of its
lines was voiced, when each agent frame began to play for it) and the server log (which tool
calls ran):

- talk-over: agent audio the caller heard while saying a line of their own turn (from its
  first voiced frame to its last, pauses included), in ms per call: p50, p95 and total;
- yield: agent audio heard while the caller spoke over it, per time they did (the price of
  a barge-in);
- backchannels that silenced the agent: "mm-hm" said over it, and no more of its turn came;
- hang-ups on a speaking caller: the server closed the line mid-line (must be 0);
- lines left open: the call was over, but the server never closed its TCP connection
  (must be 0);
- fragment tool runs: a side-effecting tool the model proposed on a lone first word ("Yes,",
  "No,", "Great,") that the server ran (must be 0);
- answers held: the caller went on before hearing any of the server's answer, so it was
  held back; released (played as written, no new model request) when what they said had no
  words, withdrawn (a model request wasted; the adaptive wait after a final is meant to
  lower it) when it had;
- reply latency: a line's last voiced frame to the first agent frame after it, p50/p95
  (backchannels apart); beside it the server's own figure for its replies (its ``turn``
  log's ``total_ms``: from the VAD's last voiced frame, which Silero keeps voiced 60 to 120
  ms past the caller's last loud one, to the first frame sent);
- tool turns (a tool other than end_call or a transfer ran): the server's end of the
  caller's speech to the turn's first frame, and to the answer's own first frame, which
  comes after a holding line ("One moment, please.") where one was said.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import trio

from receptionist.devtools.bench.figures import FRAME_S, percentiles
from receptionist.devtools.bench.floor_callers import FRAGMENT_ID, CallerScript
from receptionist.devtools.playback import CallerReport

SIDE_EFFECTS = frozenset(
    {"book_appointment", "cancel_appointment", "end_call", "transfer_to_human"}
)
OWN_LINES = frozenset({"end_call", "transfer_to_human"})
"""Tools said with their own line (the goodbye): no holding line, no answer after them."""
TOOL_TURN_EVENTS = ("llm.tool_call", "llm.holding_line", "turn", "turn.sentence")
PlaceCalls = Callable[[CallerScript, int, str], Awaitable[tuple[list[CallerReport], int]]]
"""Place this many calls of one script, tagged: their reports and how many failed."""


@dataclass(frozen=True)
class FloorCall:
    """One call's report, with the role of each of its lines ("turn", "over", "backchannel")."""

    report: CallerReport
    roles: tuple[str, ...]


def overlap_ms(report: CallerReport, index: int) -> float:
    """Agent audio heard while line ``index`` was voiced."""
    span = report.speech_spans[index] if index < len(report.speech_spans) else None
    if span is None:
        return 0.0
    frames = sum(1 for at in report.heard_at if span[0] <= at <= span[1])
    return round(frames * FRAME_S * 1000, 1)


def _lines(call: FloorCall, role: str) -> list[int]:
    said = len(call.report.speech_spans)
    return [i for i, r in enumerate(call.roles) if r == role and i < said]


def talk_over_ms(call: FloorCall) -> float:
    """Agent audio heard over the caller's own turns, in the call."""
    return round(sum(overlap_ms(call.report, i) for i in _lines(call, "turn")), 1)


def silencing_backchannels(call: FloorCall) -> int:
    """Backchannels after which no agent audio came: the agent took "mm-hm" as its cue to
    stop."""
    arrivals = call.report.reply_arrivals
    return sum(
        1 for i in _lines(call, "backchannel") if i + 1 >= len(arrivals) or not arrivals[i + 1]
    )


def reply_ms(call: FloorCall) -> list[float]:
    """Per line but backchannels: its last voiced frame to the first agent frame after it."""
    report, result = call.report, []
    for index in [*_lines(call, "turn"), *_lines(call, "over")]:
        span = report.speech_spans[index]
        later = [at for times in report.reply_arrivals[index + 1 :] for at in times]
        if span is not None and later:
            result.append(round((later[0] - span[1]) * 1000, 1))
    return result


def tool_runs(log_lines: Iterable[str], tag: str) -> dict[str, int]:
    """Side-effecting tools the server ran in the calls tagged ``tag``: in all, and those the
    model proposed on a fragment (its call id says so, see ``floor_callers``); and the
    answers the server held because the caller went on before hearing any of them: those
    released, and those withdrawn."""
    runs = {"side_effects": 0, "fragment": 0, "held": 0, "released": 0, "withdrawn": 0}
    for line in log_lines:
        if f'"CA{tag}' not in line:
            continue
        runs["held"] += '"dialogue.hold"' in line
        runs["released"] += '"dialogue.release"' in line
        if '"dialogue.barge_in"' in line:
            runs["withdrawn"] += bool(json.loads(line).get("continued"))
        if '"llm.tool_call"' not in line:
            continue
        event = json.loads(line)
        if event["tool"] in SIDE_EFFECTS and event["outcome"] != "Invalid":
            runs["side_effects"] += 1
            runs["fragment"] += str(event.get("call_id", "")).startswith(FRAGMENT_ID)
    return runs


def tool_turn_ms(log_lines: Iterable[str], tag: str) -> dict[str, list[float]]:
    """Server latencies of the tool turns of the calls tagged ``tag``: to the first frame
    ("first_audio", a holding line's where one was said), and to the answer's ("answer":
    the frame after the holding line's, else the first)."""
    Turn = tuple[str, int]
    tools: set[Turn] = set()
    holding: set[Turn] = set()
    first: dict[Turn, float | None] = {}
    later: dict[Turn, float | None] = {}
    for line in log_lines:
        if f'"CA{tag}' not in line or not any(f'"{e}"' in line for e in TOOL_TURN_EVENTS):
            continue
        event = json.loads(line)
        turn = (event["call_sid"], event["turn_id"])
        match event["event"]:
            case "llm.tool_call" if event["tool"] not in OWN_LINES:
                tools.add(turn)
            case "llm.holding_line":
                holding.add(turn)
            case "turn":
                first[turn] = event["total_ms"]
            case "turn.sentence":
                later.setdefault(turn, event["total_ms"])
    turns = [turn for turn in tools if turn in first]
    answer = [later.get(turn) if turn in holding else first[turn] for turn in turns]
    return {
        "first_audio": [ms for turn in turns if (ms := first[turn]) is not None],
        "answer": [ms for ms in answer if ms is not None],
    }


def server_reply_ms(log_lines: Iterable[str], tag: str) -> list[float]:
    """The server's ``turn`` log's ``total_ms`` for the replies in the calls tagged ``tag``
    (the greetings have none)."""
    totals = []
    for line in log_lines:
        if f'"CA{tag}' in line and '"event": "turn"' in line:
            total = json.loads(line).get("total_ms")
            if total is not None:
                totals.append(float(total))
    return totals


def floor_figures(calls: list[FloorCall], runs: dict[str, int]) -> dict[str, Any]:
    per_call = [talk_over_ms(call) for call in calls]
    yields = [overlap_ms(c.report, i) for c in calls for i in _lines(c, "over")]
    return {
        "calls": len(calls),
        "talk_over_ms_per_call": percentiles(per_call),
        "talk_over_ms_total": round(sum(per_call), 1),
        "calls_with_talk_over": sum(ms > 0 for ms in per_call),
        "yield_ms": percentiles(yields),
        "silencing_backchannels": sum(silencing_backchannels(c) for c in calls),
        "hang_ups_on_a_speaking_caller": sum(c.report.closed_while_saying for c in calls),
        "lines_left_open": sum(c.report.line_left_open for c in calls),
        "fragment_tool_runs": runs["fragment"],
        "side_effecting_tool_runs": runs["side_effects"],
        "answers_held": runs.get("held", 0),
        "answers_released": runs.get("released", 0),
        "answers_withdrawn": runs["withdrawn"],
        "reply_ms": percentiles([ms for call in calls for ms in reply_ms(call)]),
    }


def floor_table(figures: dict[str, Any]) -> str:
    talk, yields, reply = figures["talk_over_ms_per_call"], figures["yield_ms"], figures["reply_ms"]
    tools = figures["tool_turns_ms"]
    server = figures["server_reply_ms"]
    return "\n".join([
        f"floor: {figures['calls']} calls ({figures['failed_calls']} with a line unanswered) of "
        f"callers who breathe after their first word, say mm-hm and speak over the agent",
        f"  talk-over per call            p50 {talk['p50']}  p95 {talk['p95']}  total "
        f"{figures['talk_over_ms_total']} ms ({figures['calls_with_talk_over']} calls)",
        f"  yield, caller speaking over   p50 {yields['p50']}  p95 {yields['p95']} ms",
        f"  backchannels that silenced    {figures['silencing_backchannels']}",
        f"  hang-ups on a speaking caller {figures['hang_ups_on_a_speaking_caller']}",
        f"  lines the server left open    {figures['lines_left_open']}",
        f"  fragment tool runs            {figures['fragment_tool_runs']} "
        f"(of {figures['side_effecting_tool_runs']} side-effecting runs)",
        f"  answers held, the caller went on before hearing them: {figures['answers_held']} "
        f"({figures['answers_released']} released, {figures['answers_withdrawn']} withdrawn)",
        f"  reply latency                 p50 {reply['p50']}  p95 {reply['p95']} ms",
        f"    the server's own (VAD end -> first frame sent) p50 {server['p50']}  "
        f"p95 {server['p95']} ms",
        f"  tool turns (server, {tools['turns']}): first audio p50 {tools['first_audio']['p50']} "
        f"p95 {tools['first_audio']['p95']} ms, the answer p50 {tools['answer']['p50']} "
        f"p95 {tools['answer']['p95']} ms",
    ])  # fmt: skip


async def floor_phase(
    place: PlaceCalls, scripts: list[CallerScript], calls: int, log: Path
) -> dict[str, Any]:
    """``calls`` calls, shared among ``scripts`` (one level of concurrent calls each);
    ``place`` runs them against the server logging to ``log``."""
    done: list[FloorCall] = []
    failed = 0
    by_line: dict[str, list[float]] = {}
    for index, script in enumerate(scripts):
        share = max(1, calls // len(scripts))
        reports, lost = await place(script, share, f"f{index}")
        placed = [FloorCall(report, script.roles) for report in reports]
        by_line[script.name] = overlap_by_line(placed, len(script.roles))
        done.extend(placed)
        failed += lost
    logged = await trio.Path(log).read_text(encoding="utf-8")
    figures = floor_figures(done, tool_runs(logged.splitlines(), "f"))
    tool_turns = tool_turn_ms(logged.splitlines(), "f")
    figures["tool_turns_ms"] = {"turns": len(tool_turns["first_audio"])} | {
        name: percentiles(values) for name, values in tool_turns.items()
    }
    figures["server_reply_ms"] = percentiles(server_reply_ms(logged.splitlines(), "f"))
    figures["failed_calls"] = failed
    figures["overlap_ms_by_line"] = by_line
    return figures


def overlap_by_line(calls: list[FloorCall], lines: int) -> list[float]:
    """Agent audio heard over each line of one script, summed over its calls: where the
    talk-over is."""
    return [
        round(sum(overlap_ms(c.report, i) for c in calls if i < len(c.report.speech_spans)), 1)
        for i in range(lines)
    ]
