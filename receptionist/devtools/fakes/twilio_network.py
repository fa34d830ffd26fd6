"""The telephone network behind the fake Twilio REST API (``twilio_rest.py``).

A call it creates rings the number, and the number behaves as a test told it (``phones``:
answers after N s, no-answer, busy, failed); once answered it runs the call's TwiML
(``<Say>`` takes ``say_s``; ``<Dial><Conference>`` joins the conference). It sends the
status callbacks Twilio would (call progress events and conference participant events) to
the URLs it was given, form-encoded and signed with ``X-Twilio-Signature``. A caller's own
call (the one our server answered) is registered with ``add_inbound_call``; ``run_twiml``
plays the TwiML our webhook answered for it. ``changed`` is set on each change (tests wait
on ``wait_until``).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from email.utils import formatdate
from typing import Any
from xml.etree import ElementTree

import httpx
import trio

from receptionist.devtools.fakes import twilio_resources as resources
from receptionist.telephony.webhooks import twilio_signature

CALLBACK_TIMEOUT_S = 5.0
"""Twilio gives up on a status callback URL after about this long."""
FINAL = {"completed", "busy", "failed", "no-answer", "canceled"}


@dataclass(frozen=True)
class Phone:
    """How a dialled number behaves."""

    answers_after_s: float = 2.0
    """Or, for busy and failed, how long until the network says so."""
    outcome: str = "answer"
    """"answer", or the final status it ends with unanswered: "no-answer", "busy", "failed"."""


@dataclass
class FakeCall:
    resource: dict[str, Any]
    status_callback: str = ""
    events: tuple[str, ...] = ()
    timeout_s: float = 60.0
    twiml: list[str] = field(default_factory=list)
    """Every TwiML the call was given, in order (its first, then each update's)."""
    answered: trio.Event = field(default_factory=trio.Event)


@dataclass
class FakeTelephoneNetwork:
    account_sid: str = "AC" + "0" * 31 + "1"
    auth_token: str = "fake-twilio-token"
    phones: dict[str, Phone] = field(default_factory=dict)
    say_s: float = 3.0
    """How long a <Say> takes to play."""
    lose_callbacks: bool = False
    """Status callbacks are recorded but never reach their URL (a network fault)."""
    calls: dict[str, FakeCall] = field(default_factory=dict)
    conferences: dict[str, dict[str, Any]] = field(default_factory=dict)
    """By name: {"sid", "members": [call sids], "callback", "events"}."""
    callbacks: list[tuple[str, dict[str, str], int]] = field(default_factory=list)
    """(url, params, our server's HTTP status) of each status callback sent."""
    _sids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _nursery: trio.Nursery | None = None
    _changed: trio.Event = field(default_factory=trio.Event)

    # --- What tests do --------------------------------------------------------------------

    def add_inbound_call(self, call_sid: str, *, from_: str, to: str) -> None:
        """A caller's call to our number, in progress (our server answered its webhook)."""
        resource = resources.call(self.account_sid, call_sid, to, from_, "inbound")
        resource["status"] = "in-progress"
        self.calls[call_sid] = FakeCall(resource)
        self.calls[call_sid].answered.set()

    def run_twiml(self, call_sid: str, twiml: str) -> None:
        """Twilio runs ``twiml`` on the call (what our webhook answered for it)."""
        call = self.calls[call_sid]
        call.twiml.append(twiml)
        self._spawn(self._execute, call, twiml)

    def hang_up(self, call_sid: str) -> None:
        self._spawn(self._end, self.calls[call_sid], "completed")

    async def wait_until(self, predicate: Callable[[], bool]) -> None:
        while not predicate():
            await self._changed.wait()

    # --- The telephone network ------------------------------------------------------------

    async def _ring(self, call: FakeCall) -> None:
        phone = self.phones.get(call.resource["to"], Phone())
        await self._progress(call, "initiated", "queued")
        await self._progress(call, "ringing", "ringing")
        if phone.outcome in ("busy", "failed"):
            with trio.move_on_after(min(phone.answers_after_s, call.timeout_s)):
                await self._until_final(call)
                return
            await self._end(call, phone.outcome)
            return
        wait = call.timeout_s if phone.outcome == "no-answer" else phone.answers_after_s
        with trio.move_on_after(min(wait, call.timeout_s)):
            await self._until_final(call)
            return
        if phone.outcome == "no-answer" or phone.answers_after_s > call.timeout_s:
            await self._end(call, "no-answer")
            return
        call.answered.set()
        await self._progress(call, "answered", "in-progress")
        if call.twiml:
            await self._execute(call, call.twiml[0])

    async def _until_final(self, call: FakeCall) -> None:
        await self.wait_until(lambda: call.resource["status"] in FINAL)

    async def _execute(self, call: FakeCall, twiml: str) -> None:
        """Run the parts of TwiML the receptionist uses: Say, Dial/Conference, Hangup."""
        runs_now = len(call.twiml)
        for verb in ElementTree.fromstring(twiml):
            if len(call.twiml) != runs_now or call.resource["status"] in FINAL:
                return  # new TwiML, or the call ended: this document stops
            if verb.tag == "Say":
                await trio.sleep(self.say_s)
            elif verb.tag == "Dial" and verb.find("Conference") is not None:
                await self._join(call, verb.find("Conference"))  # type: ignore[arg-type]
                return
            elif verb.tag == "Hangup":
                await self._end(call, "completed")
                return

    async def _join(self, call: FakeCall, conference: ElementTree.Element) -> None:
        room = self._conference(conference.text or "")
        if conference.get("statusCallback") and not room["callback"]:
            # As Twilio: the first participant to set a statusCallback sets the conference's.
            room["callback"] = conference.get("statusCallback")
            room["events"] = (conference.get("statusCallbackEvent") or "").split()
        if conference.get("endConferenceOnExit") == "true":
            room["ends_with"].add(call.resource["sid"])
        room["members"].append(call.resource["sid"])
        self._notify()
        await self._conference_event(room, "join", call.resource["sid"])

    def _leave_conferences(self, call_sid: str) -> None:
        for room in self.conferences.values():
            if call_sid in room["members"]:
                room["members"].remove(call_sid)
                self._spawn(self._conference_event, room, "leave", call_sid)
                if call_sid in room["ends_with"]:
                    for other in list(room["members"]):
                        self._spawn(self._end, self.calls[other], "completed")
                    room["members"].clear()

    async def _end(self, call: FakeCall, status: str) -> None:
        if call.resource["status"] in FINAL:
            return
        if status == "completed" and not call.answered.is_set():
            status = "canceled"
        self._leave_conferences(call.resource["sid"])
        await self._progress(call, "completed", status)

    async def _progress(self, call: FakeCall, event: str, status: str) -> None:
        call.resource["status"] = status
        call.resource["date_updated"] = formatdate(usegmt=True)
        self._notify()
        if call.status_callback and event in call.events:
            params = resources.call_progress(self.account_sid, call.resource, len(self.callbacks))
            await self._callback(call.status_callback, params)

    async def _conference_event(self, room: dict[str, Any], event: str, call_sid: str) -> None:
        if not room["callback"] or event not in room["events"]:
            return
        ends = call_sid in room["ends_with"]
        params = resources.participant_event(
            self.account_sid, room, call_sid, event, ends, len(self.callbacks)
        )
        await self._callback(room["callback"], params)

    async def _callback(self, url: str, params: dict[str, str]) -> None:
        signature = twilio_signature(self.auth_token, url, params.items())
        status = 0
        if self.lose_callbacks:
            self.callbacks.append((url, params, status))
            self._notify()
            return
        with trio.move_on_after(CALLBACK_TIMEOUT_S):
            async with httpx.AsyncClient() as client:
                try:
                    response = await client.post(
                        url, data=params, headers={"X-Twilio-Signature": signature}
                    )
                    status = response.status_code
                except httpx.TransportError:
                    status = -1
        self.callbacks.append((url, params, status))
        self._notify()

    # --- Resources ------------------------------------------------------------------------

    def _conference(self, name: str) -> dict[str, Any]:
        if name not in self.conferences:
            self.conferences[name] = {
                "sid": self._sid("CF"), "name": name, "members": [], "callback": "",
                "events": [], "ends_with": set(),
            }  # fmt: skip
        return self.conferences[name]

    def _sid(self, prefix: str) -> str:
        """Marked "fa4e" so they never clash with the SIDs tests give callers' calls."""
        return f"{prefix}fa4e{next(self._sids):028x}"

    def _spawn(self, fn: Callable[..., Any], *args: Any) -> None:
        assert self._nursery is not None, "serve() first"
        self._nursery.start_soon(fn, *args)

    def _notify(self) -> None:
        self._changed.set()
        self._changed = trio.Event()
