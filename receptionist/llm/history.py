"""One call's history with the model, as OpenAI message dicts, and what the caller heard of it.

Each agent turn's sentences are remembered with the place of the message that holds them,
so that after a barge-in ``keep_heard`` can trim the turn to the sentences the caller heard,
followed by ``INTERRUPTED``; its tool calls and their results stay, as the API requires
each tool call to be answered. ``revision`` counts changes, so a completion started early
(a ``Speculation``) is kept only if the history is still the one it was started on.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from receptionist.llm import results
from receptionist.llm.stream import ToolCall
from receptionist.turns.sentences import split_sentences

INTERRUPTED = "[interrupted]"
"""Ends the agent's words in the history where the caller cut them off."""


@dataclass(slots=True)
class _SpokenTurn:
    """The sentences of the agent's latest turn, each with its message's place in history."""

    turn: int
    sentences: list[tuple[int, str]] = field(default_factory=list)


class History:
    """The messages of one call, from the system prompt on. Not shared between calls."""

    def __init__(self, system_prompt: str) -> None:
        self._messages: list[dict[str, Any]] = [{"role": "system", "content": system_prompt}]
        self._spoken: _SpokenTurn | None = None
        self.revision = 0
        """Counts changes to the history: a ``Speculation`` holds only while it is unchanged."""

    @property
    def messages(self) -> list[dict[str, Any]]:
        return self._messages

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
