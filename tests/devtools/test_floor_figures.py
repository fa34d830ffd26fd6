"""The bench floor phase's figures, from a caller's timeline and a server log, and its model."""

from __future__ import annotations

import json
from typing import Any

from receptionist.devtools.bench.floor import (
    FloorCall,
    floor_figures,
    overlap_by_line,
    overlap_ms,
    reply_ms,
    server_reply_ms,
    silencing_backchannels,
    talk_over_ms,
    tool_runs,
    tool_turn_ms,
)
from receptionist.devtools.bench.floor_callers import (
    CALLS,
    FRAGMENT_ID,
    PAUSE_MS,
    FloorModel,
    Line,
    caller_scripts,
)
from receptionist.devtools.playback import CallerReport
from receptionist.messages import SAMPLE_RATE


def report(
    spans: list[tuple[float, float] | None],
    heard_at: list[float],
    arrivals: list[list[float]],
    *,
    closed_while_saying: int = 0,
) -> CallerReport:
    return CallerReport(
        call_sid="CAf0",
        heard_ulaw=b"",
        greeting_ms=None,
        reply_latencies_ms=(),
        clears=0,
        closed_by_server=False,
        speech_spans=tuple(spans),
        reply_arrivals=tuple(tuple(a) for a in arrivals),
        heard_at=tuple(heard_at),
        closed_while_saying=closed_while_saying,
    )


def frames(start: float, count: int) -> list[float]:
    return [round(start + i * 0.02, 3) for i in range(count)]


def test_talk_over_counts_agent_audio_heard_while_the_caller_says_their_turn() -> None:
    # The caller says a line from 1.0 to 2.0 s; the agent's answer to its first word plays
    # from 1.5 s for 20 frames: 1.5 to 1.88 s overlap the line, 20 frames, 400 ms.
    call = FloorCall(report([(1.0, 2.0)], frames(1.5, 20), [[], []]), ("turn",))
    assert overlap_ms(call.report, 0) == 400.0
    assert talk_over_ms(call) == 400.0


def test_audio_played_after_the_line_or_over_a_backchannel_is_no_talk_over() -> None:
    heard = [*frames(2.1, 50), *frames(3.2, 10)]
    call = FloorCall(
        report([(1.0, 2.0), (3.2, 3.5)], heard, [[], frames(2.1, 50), frames(3.6, 5)]),
        ("turn", "backchannel"),
    )
    assert talk_over_ms(call) == 0.0
    assert silencing_backchannels(call) == 0


def test_a_backchannel_after_which_the_agent_said_nothing_silenced_it() -> None:
    call = FloorCall(
        report([(1.0, 2.0), (3.2, 3.5)], [], [[], frames(2.5, 40), []]),
        ("turn", "backchannel"),
    )
    assert silencing_backchannels(call) == 1


def test_reply_latency_is_from_a_lines_last_voiced_frame_to_the_next_agent_frame() -> None:
    call = FloorCall(
        report(
            [(1.0, 2.0), (4.0, 4.3), (6.0, 7.0)],
            [],
            [[0.2], frames(2.7, 100), frames(4.5, 20), frames(7.6, 10)],
        ),
        ("turn", "backchannel", "over"),
    )
    assert reply_ms(call) == [700.0, 600.0]  # the backchannel's is no reply


def log_line(event: str, call_sid: str, **fields: Any) -> str:
    return json.dumps({**fields, "event": event, "call_sid": call_sid})


def test_tool_runs_count_side_effects_and_those_proposed_on_a_fragment() -> None:
    log = [
        log_line("llm.tool_call", "CAf0001", tool="cancel_appointment", outcome="Cancel",
                 call_id=f"{FRAGMENT_ID}3"),
        log_line("llm.tool_call", "CAf0001", tool="cancel_appointment", outcome="Cancel",
                 call_id="call_whole4"),
        log_line("llm.tool_call", "CAf1001", tool="check_availability",
                 outcome="CheckAvailability", call_id=f"{FRAGMENT_ID}5"),
        log_line("llm.tool_call", "CAf1001", tool="end_call", outcome="Invalid",
                 call_id=f"{FRAGMENT_ID}6"),
        log_line("llm.tool_call", "CAc0001", tool="end_call", outcome="Hangup",
                 call_id=f"{FRAGMENT_ID}7"),  # another phase's call
        log_line("llm.tool_call", "CAf1001", tool="end_call", outcome="Hangup"),  # no id logged
        log_line("dialogue.barge_in", "CAf1001", turn_id=2, continued=True),
        log_line("dialogue.barge_in", "CAf1001", turn_id=3, continued=False),
        log_line("dialogue.barge_in", "CAf1001", turn_id=4),  # logged before continued was
        log_line("dialogue.hold", "CAf1001", turn_id=5),
        log_line("dialogue.hold", "CAf1001", turn_id=6),
        log_line("dialogue.release", "CAf1001", turn_id=6),
    ]  # fmt: skip
    assert tool_runs(log, "f") == {
        "side_effects": 3, "fragment": 1, "held": 2, "released": 1, "withdrawn": 1
    }  # fmt: skip


def test_tool_turns_answer_latency_is_after_the_holding_line_where_one_was_said() -> None:
    log = [
        # A holding line: first audio at 600 ms, the answer's first frame at 1400 ms.
        log_line("llm.holding_line", "CAf0001", turn_id=5, line="One moment, please."),
        log_line("turn", "CAf0001", turn_id=5, total_ms=600.0),
        log_line("llm.tool_call", "CAf0001", turn_id=5, tool="cancel_appointment",
                 outcome="Cancel"),
        log_line("turn.sentence", "CAf0001", turn_id=5, total_ms=1400.0),
        log_line("turn.sentence", "CAf0001", turn_id=5, total_ms=2600.0),
        # No holding line (the model spoke first, or before it was built): the first frame.
        log_line("turn", "CAf0002", turn_id=5, total_ms=1100.0),
        log_line("llm.tool_call", "CAf0002", turn_id=5, tool="cancel_appointment",
                 outcome="Cancel"),
        log_line("turn.sentence", "CAf0002", turn_id=5, total_ms=2000.0),
        # Not tool turns: a goodbye with end_call, and another phase's call.
        log_line("turn", "CAf0002", turn_id=6, total_ms=700.0),
        log_line("llm.tool_call", "CAf0002", turn_id=6, tool="end_call", outcome="Hangup"),
        log_line("turn", "CAc0001", turn_id=5, total_ms=900.0),
        log_line("llm.tool_call", "CAc0001", turn_id=5, tool="cancel_appointment",
                 outcome="Cancel"),
    ]  # fmt: skip
    latencies = tool_turn_ms(log, "f")
    assert sorted(latencies["first_audio"]) == [600.0, 1100.0]
    assert sorted(latencies["answer"]) == [1100.0, 1400.0]


def test_the_servers_own_reply_figure_is_its_turn_logs_total_for_the_floor_calls() -> None:
    log = [
        log_line("turn", "CAf0001", turn_id=1, total_ms=None),  # the greeting: no speech
        log_line("turn", "CAf0001", turn_id=2, total_ms=612.5),
        log_line("turn", "CAf1001", turn_id=3, total_ms=700.0),
        log_line("turn", "CAc0001", turn_id=2, total_ms=900.0),  # another phase's call
        log_line("dialogue.said", "CAf0001", turn_id=2, total_ms=1.0),
    ]
    assert server_reply_ms(log, "f") == [612.5, 700.0]


def test_floor_figures_per_call_and_in_all() -> None:
    calls = [
        FloorCall(report([(1.0, 2.0)], frames(1.5, 20), [[], frames(2.5, 5)]), ("turn",)),
        FloorCall(report([(1.0, 2.0)], [], [[], frames(2.8, 5)], closed_while_saying=1), ("turn",)),
    ]
    figures = floor_figures(calls, {"side_effects": 2, "fragment": 1, "withdrawn": 0})
    assert figures["talk_over_ms_total"] == 400.0
    assert figures["calls_with_talk_over"] == 1
    assert figures["talk_over_ms_per_call"]["p95"] == 400.0
    assert figures["hang_ups_on_a_speaking_caller"] == 1
    assert figures["fragment_tool_runs"] == 1
    assert figures["reply_ms"]["p50"] == 500.0


def request(*messages: dict[str, Any]) -> dict[str, Any]:
    return {"messages": [{"role": "system", "content": "You are..."}, *messages]}


def user(text: str) -> dict[str, Any]:
    return {"role": "user", "content": text}


def test_the_model_proposes_side_effects_on_fragments_as_on_whole_sentences() -> None:
    model = FloorModel()
    on_yes = model(request(user("I need to cancel my appointment."), user("Yes,")))
    assert [c.name for c in on_yes.tool_calls] == ["cancel_appointment"]
    assert on_yes.tool_calls[0].id.startswith(FRAGMENT_ID)
    whole = model(request(user("Yes, please cancel it.")))
    assert [c.name for c in whole.tool_calls] == ["cancel_appointment"]
    assert not whole.tool_calls[0].id.startswith(FRAGMENT_ID)
    for fragment in ("No,", "Great,"):
        assert model(request(user(fragment))).tool_calls[0].id.startswith(FRAGMENT_ID)
    bye = model(request(user("No, that's everything. Thank you, goodbye.")))
    assert [c.name for c in bye.tool_calls] == ["end_call"]
    assert not bye.tool_calls[0].id.startswith(FRAGMENT_ID)
    assert not model(request(user("Hello,"))).tool_calls


def test_the_model_goes_on_after_a_backchannel() -> None:
    model = FloorModel()
    asked = model(request(user("I need to cancel my appointment."), user("mm-hm")))
    assert asked.text == model(request(user("I need to cancel my appointment."))).text


def test_overlap_by_line_sums_each_line_over_the_calls() -> None:
    call = FloorCall(report([(1.0, 2.0), None], frames(1.5, 20), [[], [], []]), ("turn", "turn"))
    assert overlap_by_line([call, call], 3) == [800.0, 0.0, 0.0]


def test_the_model_speaks_after_its_tool_ran() -> None:
    cancel = {"id": "call_whole1", "type": "function",
              "function": {"name": "cancel_appointment", "arguments": "{}"}}  # fmt: skip
    after = FloorModel()(
        request(
            user("Yes, please cancel it."),
            {"role": "assistant", "content": None, "tool_calls": [cancel]},
            {"role": "tool", "tool_call_id": "call_whole1", "content": "{}"},
        )
    )
    assert after.text
    assert not after.tool_calls


def test_every_breath_is_a_first_word_and_the_rest() -> None:
    breaths = [line for lines in CALLS.values() for line in lines if line.breath]
    assert breaths
    assert all(" " in line.text for line in breaths)
    assert Line("mm-hm", over_s=1.0, backchannel=True).role == "backchannel"
    assert Line("Next Tuesday.", over_s=1.0).role == "over"


def test_a_breath_is_two_utterances_for_deepgram_timed_like_its_audio() -> None:
    scripts = {script.name: script for script in caller_scripts()}
    cancel = scripts["cancel"]
    assert cancel.roles == tuple(line.role for line in CALLS["cancel"])
    assert [u.text for u in cancel.deepgram[:2]] == ["Hello,", "I need to cancel my appointment."]
    pause = cancel.deepgram[1].start - cancel.deepgram[0].end
    assert PAUSE_MS[0] / 1000 - 0.02 <= pause <= PAUSE_MS[1] / 1000
    first_line = cancel.audio[0]
    spoken = (cancel.deepgram[1].end - cancel.deepgram[0].start) * SAMPLE_RATE
    assert abs(len(first_line) - spoken) <= 1
    assert cancel.over_s == {1: 1.5}
