"""The LLM history stays under its token budget (issue 10)."""

from __future__ import annotations

from receptionist.llm.history import EARLIER, History, estimated_tokens
from receptionist.llm.stream import ToolCall

SYSTEM = "You are the receptionist. " * 20
BUDGET = 400


def long_call(history: History, turns: int) -> None:
    """Turns of small talk, with a booking made in the second turn."""
    for turn in range(turns):
        history.caller_said(f"turn {turn}: " + "tell me about parking, please. " * 5)
        history.agent_turn(turn)
        if turn == 1:
            book = ToolCall("call_book", "book_appointment", '{"day": "2026-12-01"}')
            check = ToolCall("call_check", "check_availability", '{"day": "2026-12-01"}')
            history.record_round(
                [], [check, book],
                {"call_book": {"booked": {"id": 7}}, "call_check": {"free": ["10:00"]}},
            )  # fmt: skip
        history.record_round(["There is parking behind the clinic. " * 4], [], {})


def test_a_long_call_is_sent_under_the_budget_with_the_system_prompt_first() -> None:
    history = History(SYSTEM, max_tokens=BUDGET)
    long_call(history, 40)
    sent = history.messages
    assert estimated_tokens(sent) <= BUDGET
    assert sent[0] == {"role": "system", "content": SYSTEM}
    assert sent[-1]["role"] == "assistant"
    assert sent[-2]["content"].startswith("turn 39:")  # the latest turn is whole


def test_the_booking_state_is_kept_when_its_turn_is_left_out() -> None:
    history = History(SYSTEM, max_tokens=BUDGET)
    long_call(history, 40)
    summary = history.messages[1]
    assert summary["role"] == "system"
    assert summary["content"].startswith(EARLIER)
    assert '"booked"' in summary["content"]
    assert "book_appointment" in summary["content"]
    assert "check_availability" not in summary["content"]


def test_a_tool_call_is_never_split_from_its_result() -> None:
    for budget in range(150, 900, 7):
        history = History(SYSTEM, max_tokens=budget)
        long_call(history, 6)
        sent = history.messages
        asked = {c["id"] for m in sent for c in m.get("tool_calls") or ()}
        answered = {m["tool_call_id"] for m in sent if m["role"] == "tool"}
        assert asked == answered
        assert sent[1]["role"] in ("system", "user")  # turns start at the caller's words


def test_a_short_call_is_sent_whole() -> None:
    history = History(SYSTEM, max_tokens=BUDGET)
    long_call(history, 1)
    assert history.messages[1]["role"] == "user"
    assert len(history.messages) == 3
