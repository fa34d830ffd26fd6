"""The load test's clinic and its callers' side: the config (with practitioners, if asked
for), the slots callers race for, and the fake model that books them (loadtest.py)."""

from __future__ import annotations

import json
from collections import deque
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from receptionist.config import Config
from receptionist.devtools.bench.process import ROOT
from receptionist.devtools.fakes.openai import FakeOpenAI, Scripted, ToolCallScript
from receptionist.scheduling.store import AppointmentStore

CONTESTED = 3
"""Slot times every other caller races for (for each practitioner, where there are some)."""
SERVICE = "check-up"
PRACTITIONER_NAMES = ("Dr. Patel", "Dr. Chen", "Dr. Okafor", "Dr. Silva")


def loadtest_config(out: Path, practitioners: int) -> Path:
    """config.toml, with ``practitioners`` [[practitioners]] doing every service appended."""
    text = (ROOT / "config.toml").read_text(encoding="utf-8")
    for name in PRACTITIONER_NAMES[:practitioners]:
        text += f"\n[[practitioners]]\nname = {json.dumps(name)}\n"
    path = out / "loadtest-config.toml"
    path.write_text(text, encoding="utf-8")
    return path


@dataclass
class BookingModel(FakeOpenAI):
    """The model's side of every call: book the slot this caller is given (a contested one
    with a practitioner named, cycling through them, where there are some), then say how it
    went and hang up. Keeps what each booking's tool result told it (and so the caller)."""

    slots: deque[datetime] = field(default_factory=deque)
    contested: tuple[datetime, ...] = ()
    practitioners: tuple[str, ...] = ()
    told_booked: dict[int, str] = field(default_factory=dict)
    told_taken: int = 0
    _callers: int = 0

    def _next_reply(self, body: dict[str, Any]) -> Scripted:
        last = body["messages"][-1]
        goodbye = (ToolCallScript("end_call", {}),)
        if last["role"] == "tool":
            result = json.loads(last["content"])
            if "booked" in result:
                booked = result["booked"]
                self.told_booked[booked["appointment_id"]] = f"{booked['date']} {booked['time']}"
                return Scripted(text="You're booked. Goodbye!", tool_calls=goodbye)
            self.told_taken += 1
            return Scripted(text="Sorry, that time was just taken. Goodbye!", tool_calls=goodbye)
        self._callers += 1
        arguments: dict[str, Any] = {"service": SERVICE, "name": f"Caller {self._callers}"}
        if self._callers % 2 == 0 or not self.slots:
            turn = self._callers // 2
            start = self.contested[turn % len(self.contested)]
            if self.practitioners:
                who = (turn // len(self.contested)) % len(self.practitioners)
                arguments["practitioner"] = self.practitioners[who]
        else:
            start = self.slots.popleft()
        arguments |= {"date": start.date().isoformat(), "time": f"{start:%H:%M}"}
        return Scripted(tool_calls=(ToolCallScript("book_appointment", arguments),))


def bookable_slots(config: Config, needed: int) -> tuple[tuple[datetime, ...], deque[datetime]]:
    """CONTESTED slots to race for, and ``needed`` others, from the days after tomorrow.

    Free starts lie on the scheduler's grid, closer together than an appointment lasts: only
    starts one appointment apart are taken, so no two slots overlap (an overlap is a clean
    "taken" answer, not a race, and would hide what the test counts)."""
    store = AppointmentStore(config)
    service = config.service(SERVICE)
    assert service is not None
    length = timedelta(minutes=service.minutes)
    found: list[datetime] = []
    day = date.today() + timedelta(days=2)
    with store:
        while len(found) < needed + CONTESTED:
            slots = store.free_slots(SERVICE, day, limit=1000)
            for start in slots if isinstance(slots, tuple) else ():
                if not found or start >= found[-1] + length:
                    found.append(start)
            day += timedelta(days=1)
    return tuple(found[:CONTESTED]), deque(found[CONTESTED:])
