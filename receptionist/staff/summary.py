"""The LLM brain's summary of a finished call: one short completion, time-boxed.

Any failure (the model down, too slow, an empty answer, the client already closed as the
process stops) gives "" and the report keeps the summary composed from the facts
(report.py): a report is never held up or lost for want of a summary. ``Cancelled`` is not
caught (it is no ``Exception``): the recorder then writes the record with the facts.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from contextlib import aclosing
from functools import partial
from typing import Any

import structlog
import trio

from receptionist.config import Config
from receptionist.llm.client import LlmClient
from receptionist.llm.stream import TextDelta
from receptionist.staff.report import call_outcome, composed_summary, transcript

log = structlog.get_logger()

INSTRUCTIONS = (
    "You write the summary of a phone call to a clinic's receptionist, for the clinic's staff."
    " Write exactly two short sentences: what the caller wanted and what was done. Plain text,"
    " no lists, no greetings, no guesses beyond the facts and the transcript."
)
MAX_TRANSCRIPT_LINES = 60
"""A long call's summary comes from its first lines: the request stays small and quick."""


async def llm_summary(client: LlmClient, record: Mapping[str, Any], timeout_s: float) -> str:
    """The model's summary of the call, or "" if it fails or takes longer than ``timeout_s``."""
    if not any(line["who"] == "caller" for line in transcript(record)):
        return ""  # nothing was said: the facts say it all, and the model is not asked
    words: list[str] = []
    request = summary_request(record)
    with trio.move_on_after(timeout_s) as timer:
        try:
            async with aclosing(client.stream(request, (), allow_tools=False)) as events:
                async for event in events:
                    if isinstance(event, TextDelta):
                        words.append(event.text)
        except Exception as exc:  # any failure (LlmError, a client closed at shutdown): the facts
            log.warning("report.summary_failed", error=str(exc) or repr(exc))
            return ""
    if timer.cancelled_caught:
        log.warning("report.summary_failed", error=f"no summary within {timeout_s} s")
        return ""
    return "".join(words).strip()


def report_summariser(
    config: Config, client: LlmClient | None
) -> Callable[[Mapping[str, Any]], Awaitable[str]] | None:
    """The recorder's summariser with the LLM brain; None with the offline one."""
    if client is None:
        return None
    return partial(llm_summary, client, timeout_s=config.notify.summary_timeout_s)


def summary_request(record: Mapping[str, Any]) -> list[dict[str, str]]:
    lines = transcript(record)[:MAX_TRANSCRIPT_LINES]
    said = "\n".join(f"{line['who']}: {line['text']}" for line in lines)
    facts = (
        f"Outcome: {call_outcome(record)}.\nFacts: {composed_summary(record)}\n"
        f"Transcript:\n{said or '(nothing was said)'}"
    )
    return [{"role": "system", "content": INSTRUCTIONS}, {"role": "user", "content": facts}]
