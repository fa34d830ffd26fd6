"""What the fake OpenAI server answers with: the scripts of its replies, and the chunks of a
streamed completion as the recorded samples in ``protocol-samples/openai/`` show them (one
token per chunk, tool-call arguments in fragments, the finish chunk, usage when asked for).
The server itself: ``fakes.openai``."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

CREATED = 1727346168
"""The ``created`` of the recorded samples: chunks look like theirs."""
_TOKEN = re.compile(r"\s*[\w']+|\s*[^\w\s']+|\s+")


@dataclass(frozen=True, slots=True)
class ToolCallScript:
    name: str
    arguments: dict[str, Any] | str
    """A dict is sent as its JSON; a str as is (to send arguments that are not JSON)."""
    fragments: int = 4
    """How many ``arguments`` deltas the JSON is cut into."""
    id: str = ""


@dataclass(frozen=True, slots=True)
class Scripted:
    """The answer to one request."""

    text: str = ""
    tool_calls: tuple[ToolCallScript, ...] = ()
    status: int = 200
    """Not 200: answer with that HTTP error and OpenAI's JSON error body instead."""
    drop_after: int | None = None
    """Close the connection, mid-body, after this many chunks."""
    first_token_delay_s: float | None = None
    """None: the server's default."""
    finish_reason: str | None = None
    """None: "tool_calls" when there are tool calls, else "stop"."""


def completion_chunks(
    scripted: Scripted, body: dict[str, Any], chunk_id: str
) -> list[dict[str, Any]]:
    """The chunks of one streamed completion answering ``body`` with ``scripted``."""
    base = {
        "id": chunk_id,
        "object": "chat.completion.chunk",
        "created": CREATED,
        "model": body.get("model", ""),
        "system_fingerprint": "fp_fake",
    }
    deltas = _deltas(scripted)
    finish = scripted.finish_reason or ("tool_calls" if scripted.tool_calls else "stop")
    chunks = [{**base, "choices": [_choice(delta)]} for delta in deltas]
    chunks.append({**base, "choices": [_choice({}, finish)]})
    if (body.get("stream_options") or {}).get("include_usage"):
        usage = {
            "prompt_tokens": 10,
            "completion_tokens": len(deltas),
            "total_tokens": 10 + len(deltas),
        }
        chunks.append({**base, "choices": [], "usage": usage})
    return chunks


def _choice(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    return {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}


def _deltas(scripted: Scripted) -> list[dict[str, Any]]:
    """The ``delta`` of each chunk, as the recorded samples order them."""
    if scripted.text:
        first: dict[str, Any] = {"role": "assistant", "content": "", "refusal": None}
        deltas = [first, *({"content": token} for token in _TOKEN.findall(scripted.text))]
    else:
        deltas = [{"role": "assistant", "content": None}]
    for index, call in enumerate(scripted.tool_calls):
        deltas.extend(_tool_call_deltas(index, call))
    return deltas


def _tool_call_deltas(index: int, call: ToolCallScript) -> Iterable[dict[str, Any]]:
    call_id = call.id or f"call_fake{index}"
    arguments = call.arguments if isinstance(call.arguments, str) else json.dumps(call.arguments)
    yield {
        "tool_calls": [
            {
                "index": index,
                "id": call_id,
                "type": "function",
                "function": {"name": call.name, "arguments": ""},
            }
        ]
    }
    size = -(-len(arguments) // max(call.fragments, 1))
    for start in range(0, len(arguments), max(size, 1)):
        fragment = arguments[start : start + size]
        yield {"tool_calls": [{"index": index, "function": {"arguments": fragment}}]}
