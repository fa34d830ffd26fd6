"""The three cloud fakes together, scripted for ``tests/fixtures/booking_call``: for the cloud
end-to-end tests and for ``python -m receptionist.devtools.fakes`` (replays against them).

``booking_replies(day)`` is what a model would answer to that caller, turn by turn: it
checks availability, books (arguments cut into several SSE fragments) and hangs up.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, replace
from datetime import date
from functools import partial
from pathlib import Path

import trio

from receptionist.config import Config
from receptionist.devtools.fakes.deepgram import FakeDeepgram
from receptionist.devtools.fakes.deepgram_script import load_script
from receptionist.devtools.fakes.elevenlabs import FakeElevenLabs
from receptionist.devtools.fakes.openai import FakeOpenAI, Scripted, ToolCallScript

FIXTURES = Path(__file__).resolve().parents[3] / "tests" / "fixtures"
KEYS = {
    "DEEPGRAM_API_KEY": "fake-deepgram-key",
    "OPENAI_API_KEY": "fake-openai-key",
    "ELEVENLABS_API_KEY": "fake-elevenlabs-key",
}
"""Dummy keys: each fake accepts only its own, as the real services check theirs."""
SETTINGS = ("deepgram.base_url", "llm.base_url", "elevenlabs.base_url")
SUMMARY_REPLY = Scripted(text="The caller booked a check-up. Nothing else was asked.")
"""The model's summary of each call for its report (records on, the LLM brain)."""
"""The config settings that point each engine at its fake, in ``serve``'s port order."""


def booking_replies(day: date) -> tuple[Scripted, ...]:
    """The model's side of booking_call.wav: a check-up on ``day`` (a Tuesday) at ten."""
    iso = day.isoformat()
    check = ToolCallScript("check_availability", {"service": "check-up", "date": iso}, 5)
    book = ToolCallScript(
        "book_appointment",
        {"service": "check-up", "date": iso, "time": "10:00", "name": "John Smith",
         "reason": "annual check-up"},
        fragments=7,
    )  # fmt: skip
    goodbye = ToolCallScript("end_call", {})
    return (
        Scripted(text="Of course. Which day would suit you?"),  # "book a check up"
        Scripted(text="Let me check.", tool_calls=(check,)),  # "next Tuesday"
        Scripted(text="On Tuesday I have ten or ten thirty. Which would you like?"),
        Scripted(text="Ten o'clock it is. May I have your name?"),  # "ten o'clock"
        Scripted(text="Thank you. A check-up on Tuesday at ten, shall I book it?"),  # name
        Scripted(tool_calls=(book,)),  # "yes"
        Scripted(text="You're booked. Would you like a reminder text?"),
        Scripted(text="Done. Anything else I can help with?"),  # "yes please"
        Scripted(text="Thanks for calling. Goodbye!", tool_calls=(goodbye,)),  # "no, goodbye"
    )


@dataclass
class CloudFakes:
    """Deepgram, OpenAI and ElevenLabs fakes; ``urls`` once ``serve`` has started."""

    deepgram: FakeDeepgram
    openai: FakeOpenAI
    elevenlabs: FakeElevenLabs
    urls: dict[str, str] | None = None

    @classmethod
    def for_booking_call(cls, day: date, *, every_call: bool = False) -> CloudFakes:
        script = load_script(FIXTURES / "booking_call.json")
        replies = booking_replies(day)
        return cls(
            FakeDeepgram(api_key=KEYS["DEEPGRAM_API_KEY"], script=script, follow_speech=True,
                         every_call=every_call),
            FakeOpenAI(script=deque(replies), every_call=replies if every_call else (),
                       same_point_same_reply=True, untooled_reply=SUMMARY_REPLY),
            FakeElevenLabs(api_key=KEYS["ELEVENLABS_API_KEY"]),
        )  # fmt: skip

    async def serve(
        self,
        *,
        ports: tuple[int, int, int] = (0, 0, 0),
        task_status: trio.TaskStatus[dict[str, str]] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        """Run all three on 127.0.0.1 (Deepgram, OpenAI, ElevenLabs on ``ports``, 0: an
        ephemeral one); ``started`` with the base URLs, as config settings."""
        servers = (self.deepgram.serve, self.openai.serve, self.elevenlabs.serve)
        async with trio.open_nursery() as nursery:
            urls = [await nursery.start(partial(serve, port=port))
                    for serve, port in zip(servers, ports, strict=True)]  # fmt: skip
            self.urls = dict(zip(SETTINGS, urls, strict=True))
            task_status.started(self.urls)

    def configure(self, config: Config) -> Config:
        """``config`` with the three cloud engines, pointed at these fakes, and their keys."""
        assert self.urls is not None, "serve() first"
        urls = self.urls
        return replace(
            config,
            engines=replace(config.engines, stt="deepgram", dialogue="openai", tts="elevenlabs"),
            deepgram=replace(config.deepgram, base_url=urls["deepgram.base_url"]),
            llm=replace(config.llm, base_url=urls["llm.base_url"], api_key_env="OPENAI_API_KEY"),
            elevenlabs=replace(config.elevenlabs, base_url=urls["elevenlabs.base_url"]),
            secrets=replace(
                config.secrets,
                deepgram_api_key=KEYS["DEEPGRAM_API_KEY"],
                llm_api_key=KEYS["OPENAI_API_KEY"],
                elevenlabs_api_key=KEYS["ELEVENLABS_API_KEY"],
            ),
        )
