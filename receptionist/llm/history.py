"""One call's history with the model, as OpenAI message dicts, and what the caller heard of it.

Each agent turn's sentences are remembered with the place of the message that holds them,
so that after a barge-in ``keep_heard`` can trim the turn to the sentences the caller heard,
followed by ``INTERRUPTED``; its tool calls and their results stay, as the API requires
each tool call to be answered. ``revision`` counts changes, so a completion started early
(a ``Speculation``) is kept only if the history is still the one it was started on.

Every request resends the history, so ``messages`` is kept under a token budget: the oldest
whole turns (a caller's words and all the answer to them, each tool call with its result)
are left out, the system prompt always stays, and what was booked, moved or cancelled in
the turns left out is summed up after it, so the model never forgets the booking state.
Tokens are estimated (``estimated_tokens``): the model's own tokenizer (tiktoken) would
fetch its vocabulary from the internet on first use, and the budget needs no exactness.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from receptionist.llm import results
from receptionist.llm.stream import ToolCall
from receptionist.turns.sentences import split_sentences

CHARS_PER_TOKEN = 4
"""OpenAI's rule of thumb for English text."""
TOKENS_PER_MESSAGE = 4
"""Each message's role and framing."""
STATEFUL_TOOLS = frozenset({"book_appointment", "cancel_appointment"})
"""Tool calls whose results are the booking state: summed up when their turn is left out."""
EARLIER = "Earlier in this call (older turns left out):"

INTERRUPTED = "[interrupted]"
"""Ends the agent's words in the history where the caller cut them off."""


@dataclass(slots=True)
class _SpokenTurn:
    """The sentences of the agent's latest turn, each with its message's place in history."""

    turn: int
    sentences: list[tuple[int, str]] = field(default_factory=list)


class History:
    """The messages of one call, from the system prompt on. Not shared between calls."""

    def __init__(self, system_prompt: str, *, max_tokens: int | None = None) -> None:
        self._messages: list[dict[str, Any]] = [{"role": "system", "content": system_prompt}]
        self._max_tokens = max_tokens
        self._spoken: _SpokenTurn | None = None
        self.revision = 0
        """Counts changes to the history: a ``Speculation`` holds only while it is unchanged."""

    @property
    def messages(self) -> list[dict[str, Any]]:
        """What the model is sent: the whole history, or under the budget its latest turns."""
        if self._max_tokens is None or estimated_tokens(self._messages) <= self._max_tokens:
            return self._messages
        system, turns = self._messages[0], _turns(self._messages[1:])
        # Room for the summary of every earlier booking, at most, so the whole fits.
        most = _booking_state([m for turn in turns[:-1] for m in turn])
        budget = self._max_tokens - estimated_tokens([system, {"content": most}])
        kept: list[list[dict[str, Any]]] = []
        for turn in reversed(turns):  # the latest turn is always kept
            budget -= estimated_tokens(turn)
            if kept and budget < 0:
                break
            kept.insert(0, turn)
        left_out = turns[: len(turns) - len(kept)]
        summary = _booking_state([m for turn in left_out for m in turn])
        head = [system, {"role": "system", "content": summary}] if summary else [system]
        return head + [message for turn in kept for message in turn]

    def caller_said(self, text: str) -> None:
        self._messages.append({"role": "user", "content": text})
        self.revision += 1

    def agent_turn(self, turn: int) -> None:
        """The agent's turn ``turn`` begins: what follows is what ``keep_heard`` may trim."""
        self._spoken = _SpokenTurn(turn)

    def record_spoken(self, text: str, *, turn: int | None = None) -> None:
        """Words said without the model (greeting, reprompts): the model should know them.

        ``turn`` starts a new agent turn (for ``keep_heard``); None adds to the current one.
        """
        if turn is not None:
            self.agent_turn(turn)
        self._append_said(split_sentences(text), {"role": "assistant", "content": text})

    def record_round(
        self, said: list[str], calls: Sequence[ToolCall], done: dict[str, dict[str, Any]]
    ) -> None:
        """Add a round to the history: what was said, and each tool call with its result."""
        if not said and not calls:
            return
        message: dict[str, Any] = {"role": "assistant", "content": " ".join(said) or None}
        if calls:
            message["tool_calls"] = [
                {
                    "id": c.id,
                    "type": "function",
                    "function": {"name": c.name, "arguments": c.arguments},
                }
                for c in calls
            ]
        self._append_said(said, message)
        for call in calls:
            result = done.get(call.id, results.INTERRUPTED)
            self._messages.append(
                {"role": "tool", "tool_call_id": call.id, "content": results.dumps(result)}
            )

    def keep_heard(self, turn: int, heard: int) -> None:
        """The caller cut turn ``turn`` off after hearing its first ``heard`` sentences:
        keep only those, then ``INTERRUPTED``. Tool calls and results stay as they were."""
        self.revision += 1
        spoken = self._spoken
        if spoken is None or spoken.turn != turn:
            return  # that turn said nothing
        self._spoken = None
        kept: dict[int, list[str]] = {}
        for index, sentence in spoken.sentences[:heard]:
            kept.setdefault(index, []).append(sentence)
        # Heard sentences are a prefix: every message emptied here comes after the last kept.
        for index in sorted({index for index, _ in spoken.sentences}, reverse=True):
            message = self._messages[index]
            if index in kept:
                message["content"] = " ".join(kept[index])
            elif message.get("tool_calls"):
                message["content"] = None
            else:
                del self._messages[index]
        if kept:
            last = self._messages[max(kept)]
            last["content"] = f"{last['content']} {INTERRUPTED}"
        else:
            self._messages.append({"role": "assistant", "content": INTERRUPTED})

    def take_back(self, turn: int, heard: int = 0) -> None:
        """The caller's last words were not a whole turn, and turn ``turn`` answering them
        was cut before any of it was heard: remove both (they come again, joined with the
        rest), with any tool call it proposed and never ran. An answer that ran a tool stays,
        trimmed (the history must show what was done)."""
        spoken = self._spoken
        users = [i for i, m in enumerate(self._messages) if m["role"] == "user"]
        after = self._messages[users[-1] + 1 :] if users else []
        never_ran = results.dumps(results.INTERRUPTED)
        ran = any(m["role"] == "tool" and m["content"] != never_ran for m in after)
        if spoken is None or spoken.turn != turn or ran:
            self.keep_heard(turn, heard)
            return
        self.revision += 1
        self._spoken = None
        del self._messages[users[-1] :]

    def _append_said(self, sentences: list[str], message: dict[str, Any]) -> None:
        self.revision += 1
        if self._spoken is not None:
            index = len(self._messages)
            self._spoken.sentences.extend((index, sentence) for sentence in sentences)
        self._messages.append(message)


def estimated_tokens(messages: Sequence[dict[str, Any]]) -> int:
    """About how many tokens ``messages`` cost: their text's length, over four."""
    chars = sum(
        len(str(m.get("content") or "")) + len(str(m.get("tool_calls", ""))) for m in messages
    )
    return chars // CHARS_PER_TOKEN + TOKENS_PER_MESSAGE * len(messages)


def _turns(messages: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """Whole turns: each starts at a caller's words and holds the answer, tool calls and
    their results included, so a turn left out never splits a call from its result."""
    turns: list[list[dict[str, Any]]] = []
    for message in messages:
        if message["role"] == "user" or not turns:
            turns.append([])
        turns[-1].append(message)
    return turns


def _booking_state(left_out: list[dict[str, Any]]) -> str:
    """What the stateful tool calls in ``left_out`` did, one line each."""
    names = {
        call["id"]: call["function"]["name"]
        for message in left_out
        for call in message.get("tool_calls") or ()
    }
    done = [
        f"- {names[m['tool_call_id']]}: {m['content']}"
        for m in left_out
        if m["role"] == "tool" and names.get(m["tool_call_id"]) in STATEFUL_TOOLS
    ]
    return "\n".join([EARLIER, *done]) if done else ""
