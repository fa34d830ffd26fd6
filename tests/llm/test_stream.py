"""Reassembling recorded OpenAI streams, and cutting a recorded one into sentences as it streams.

The recorded streams are byte-for-byte SSE bodies from the live API (see each sample's
``.source.txt``); the SSE ``data:`` lines are parsed here, independently of the SDK.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from receptionist.errors import LlmError
from receptionist.llm.stream import (
    Finished,
    LlmEvent,
    StreamAssembler,
    TextDelta,
    ToolCall,
    ToolCallsReady,
    ToolCallStarted,
)
from receptionist.turns.sentences import SentenceSplitter
from tests.helpers.paths import SAMPLES

OPENAI = SAMPLES / "openai"


def sse_chunks(name: str) -> list[dict[str, Any]]:
    """The JSON chunks of a recorded stream, up to ``data: [DONE]`` (which must be there)."""
    chunks: list[dict[str, Any]] = []
    for event in (OPENAI / name).read_text(encoding="utf-8").split("\n\n"):
        data = "\n".join(line[6:] for line in event.splitlines() if line.startswith("data: "))
        if data == "[DONE]":
            return chunks
        if data:
            chunks.append(json.loads(data))
    raise AssertionError(f"{name} has no data: [DONE]")


def replay(name: str) -> tuple[list[LlmEvent], Finished]:
    assembler = StreamAssembler()
    events = [event for chunk in sse_chunks(name) for event in assembler.handle(chunk)]
    return events, assembler.end()


def text_of(events: list[LlmEvent]) -> str:
    return "".join(event.text for event in events if isinstance(event, TextDelta))


def calls_of(events: list[LlmEvent]) -> tuple[ToolCall, ...]:
    ready = [event for event in events if isinstance(event, ToolCallsReady)]
    assert len(ready) <= 1
    return ready[0].calls if ready else ()


def test_single_tool_call_reassembles_from_fragments() -> None:
    assert len(sse_chunks("sse_single_tool_call.txt")) == 10
    events, finished = replay("sse_single_tool_call.txt")
    assert calls_of(events) == (
        ToolCall("call_4XzlGBLtUe9dy3GVNV4jhq7h", "get_weather", '{"city":"New York City"}'),
    )
    assert ToolCallStarted(0, "get_weather") in events
    assert text_of(events) == ""
    assert finished.reason == "tool_calls"
    assert finished.usage is not None
    usage = {key: finished.usage[key] for key in ("prompt_tokens", "completion_tokens")}
    assert usage == {"prompt_tokens": 44, "completion_tokens": 16}
    assert finished.usage["total_tokens"] == 60


def test_parallel_tool_calls_reassemble_by_index() -> None:
    assert len(sse_chunks("sse_parallel_tool_calls.txt")) == 25
    events, finished = replay("sse_parallel_tool_calls.txt")
    calls = calls_of(events)
    assert [(call.id, call.name) for call in calls] == [
        ("call_JMW1whyEaYG438VE1OIflxA2", "GetWeatherArgs"),
        ("call_DNYTawLBoN8fj3KN6qU9N1Ou", "get_stock_price"),
    ]
    assert json.loads(calls[0].arguments) == {"city": "Edinburgh", "country": "GB", "units": "c"}
    assert json.loads(calls[1].arguments) == {"ticker": "AAPL", "exchange": "NASDAQ"}
    assert [e for e in events if isinstance(e, ToolCallStarted)] == [
        ToolCallStarted(0, "GetWeatherArgs"),
        ToolCallStarted(1, "get_stock_price"),
    ]
    assert finished.reason == "tool_calls"
    assert finished.usage is not None
    assert finished.usage["total_tokens"] == 209


def test_plain_content_streams_text_and_stops() -> None:
    assert len(sse_chunks("sse_plain_content.txt")) == 33
    events, finished = replay("sse_plain_content.txt")
    assert text_of(events) == (
        "I'm unable to provide real-time weather updates. To get the current weather in "
        "San Francisco, I recommend checking a reliable weather website or a weather app."
    )
    assert calls_of(events) == ()
    assert finished.reason == "stop"
    assert finished.usage is not None
    assert finished.usage["total_tokens"] == 44


def test_finish_reason_length() -> None:
    assert len(sse_chunks("sse_finish_reason_length.txt")) == 4
    events, finished = replay("sse_finish_reason_length.txt")
    assert text_of(events) == '{"'
    assert finished.reason == "length"
    assert finished.usage is not None
    assert finished.usage["completion_tokens"] == 1


def test_recorded_text_is_cut_into_its_two_sentences_as_it_streams() -> None:
    assembler, splitter = StreamAssembler(), SentenceSplitter()
    spoken: list[tuple[int, str]] = []
    for piece in sse_chunks("sse_plain_content.txt"):
        for event in assembler.handle(piece):
            if isinstance(event, TextDelta):
                spoken.extend((len(spoken), s) for s in splitter.feed(event.text))
    # The first sentence is out as soon as the space after its "." arrives, mid-stream.
    assert spoken == [(0, "I'm unable to provide real-time weather updates.")]
    assert splitter.flush() == (
        "To get the current weather in San Francisco, I recommend checking a reliable "
        "weather website or a weather app."
    )


def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    return {"choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}


def fragment(index: int, arguments: str, **start: str) -> dict[str, Any]:
    function = {"arguments": arguments, **({"name": start["name"]} if start else {})}
    call = {"index": index, "function": function, **({"id": start["id"]} if start else {})}
    return chunk({"tool_calls": [call]})


def test_interleaved_fragments_are_kept_apart_by_index() -> None:
    assembler = StreamAssembler()
    stream = [
        fragment(0, "", id="a", name="check_availability"),
        fragment(1, "", id="b", name="end_call"),
        fragment(0, '{"date": '),
        fragment(1, "{}"),
        fragment(0, '"2026-12-01"}'),
        chunk({}, "tool_calls"),
    ]
    events = [event for piece in stream for event in assembler.handle(piece)]
    assert calls_of(events) == (
        ToolCall("a", "check_availability", '{"date": "2026-12-01"}'),
        ToolCall("b", "end_call", "{}"),
    )


def test_tool_calls_finished_with_stop_still_run() -> None:
    """Some OpenAI-compatible servers end a tool-calling reply with "stop"."""
    assembler = StreamAssembler()
    assembler.handle(fragment(0, "{}", id="a", name="end_call"))
    assert calls_of(assembler.handle(chunk({}, "stop"))) == (ToolCall("a", "end_call", "{}"),)


def test_tool_calls_cut_off_by_length_never_run() -> None:
    assembler = StreamAssembler()
    assembler.handle(fragment(0, '{"date": "2026-', id="a", name="check_availability"))
    assert assembler.handle(chunk({}, "length")) == []
    assert assembler.end().reason == "length"


def test_a_stream_without_finish_reason_is_an_error() -> None:
    assembler = StreamAssembler()
    assembler.handle(chunk({"content": "Hello"}))
    with pytest.raises(LlmError, match="finish_reason") as raised:
        assembler.end()
    assert raised.value.transient
