"""Reassembling a streamed chat completion: I/O-free, fed one chunk at a time.

A streamed completion arrives as ``chat.completion.chunk`` objects. Text comes as
``choices[0].delta.content`` fragments. Tool calls come as fragments of
``choices[0].delta.tool_calls``, keyed by their ``index``: the first fragment of an index
carries the call's ``id`` and ``function.name``, later ones only pieces of the
``function.arguments`` string. Several calls (parallel tool calls) may be under way, one
index after another. ``finish_reason`` on the last choice chunk says why the model stopped,
and a final chunk with ``choices: []`` may carry ``usage``.

``StreamAssembler.handle(chunk)`` turns each chunk (as a plain JSON mapping) into events:
``TextDelta`` at once, ``ToolCallStarted`` on each call's first fragment, ``ToolCallsReady``
with the whole calls once ``finish_reason`` says they are complete, and ``Finished`` at the end.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from receptionist.errors import LlmError

TOOL_CALLS = "tool_calls"
STOP = "stop"
LENGTH = "length"


@dataclass(frozen=True, slots=True)
class ToolCall:
    id: str
    name: str
    arguments: str
    """The raw JSON text the model wrote; parsed (and maybe rejected) by ``tools``."""


@dataclass(frozen=True, slots=True)
class TextDelta:
    text: str


@dataclass(frozen=True, slots=True)
class ToolCallStarted:
    """The model began a tool call: its arguments are still streaming."""

    index: int
    name: str


@dataclass(frozen=True, slots=True)
class ToolCallsReady:
    calls: tuple[ToolCall, ...]


@dataclass(frozen=True, slots=True)
class Finished:
    reason: str
    """The model's ``finish_reason``: "stop", "tool_calls", "length", "content_filter"."""
    usage: Mapping[str, Any] | None = None


LlmEvent = TextDelta | ToolCallStarted | ToolCallsReady | Finished


class _PartialCall:
    __slots__ = ("arguments", "id", "name")

    def __init__(self) -> None:
        self.id = ""
        self.name = ""
        self.arguments: list[str] = []


class StreamAssembler:
    """One streamed completion's state. Feed every chunk, then call ``end()``."""

    def __init__(self) -> None:
        self._calls: dict[int, _PartialCall] = {}
        self._finish_reason: str | None = None
        self._usage: Mapping[str, Any] | None = None

    def handle(self, chunk: Mapping[str, Any]) -> list[LlmEvent]:
        """The events one chunk completes."""
        if chunk.get("usage"):
            self._usage = chunk["usage"]
        events: list[LlmEvent] = []
        for choice in chunk.get("choices") or ():
            if choice.get("index", 0) != 0:
                continue  # we never ask for n > 1
            delta = choice.get("delta") or {}
            if delta.get("content"):
                events.append(TextDelta(delta["content"]))
            for fragment in delta.get("tool_calls") or ():
                events.extend(self._tool_call_fragment(fragment))
            if choice.get("finish_reason"):
                events.extend(self._finish(choice["finish_reason"]))
        return events

    def end(self) -> Finished:
        """The stream ended (``[DONE]``, or the body closed).

        Raises:
            LlmError: the stream ended before the model said why it stopped.
        """
        if self._finish_reason is None:
            raise LlmError("the completion stream ended without a finish_reason", transient=True)
        return Finished(self._finish_reason, self._usage)

    def _tool_call_fragment(self, fragment: Mapping[str, Any]) -> list[LlmEvent]:
        index = fragment.get("index", 0)
        call = self._calls.get(index)
        started = call is None
        if call is None:
            call = self._calls[index] = _PartialCall()
        call.id = fragment.get("id") or call.id
        function = fragment.get("function") or {}
        call.name = function.get("name") or call.name
        if function.get("arguments"):
            call.arguments.append(function["arguments"])
        return [ToolCallStarted(index, call.name)] if started else []

    def _finish(self, reason: str) -> list[LlmEvent]:
        self._finish_reason = reason
        if reason == LENGTH or not self._calls:
            # Arguments cut off by max_tokens are not JSON: such calls are never run.
            return []
        # Some OpenAI-compatible servers end a tool-calling reply with "stop": run the calls.
        calls = tuple(
            ToolCall(call.id, call.name, "".join(call.arguments))
            for _, call in sorted(self._calls.items())
        )
        return [ToolCallsReady(calls)]
