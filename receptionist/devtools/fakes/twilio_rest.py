"""A fake of Twilio's REST API (2010-04-01) on 127.0.0.1, for the warm-transfer and SMS tests.

It serves the real paths, under ``/2010-04-01/Accounts/{AccountSid}``:
``POST Calls.json`` (create), ``POST Calls/{CallSid}.json`` (update: ``Twiml``, ``Url`` or
``Status``), ``POST Conferences/{Sid or name}/Participants.json`` (create),
``POST|DELETE Conferences/{Sid}/Participants/{CallSid}.json`` and ``POST Messages.json``;
form-encoded bodies, HTTP basic auth checked (20003), the JSON shapes of the Call,
Participant and Message resources, and Twilio's error body (``code``, ``message``,
``more_info``, ``status``: 20404 not found, 21211 invalid To, 21201 no To...).

It also plays the telephone network: a call it creates rings the number, and the number
behaves as a test told it (``phones``: answers after N s, no-answer, busy, failed); once
answered it runs the call's TwiML (``<Say>`` takes ``say_s``; ``<Dial><Conference>`` joins
the conference). It sends the status callbacks Twilio would (call progress events and
conference participant events) to the URLs it was given, form-encoded and signed with
``X-Twilio-Signature``. A caller's own call (the one our server answered) is registered
with ``add_inbound_call``; ``run_twiml`` plays the TwiML our webhook answered for it.
``faults``: how the next requests fail (5xx, 429, a malformed answer, a stall).
Every request is recorded in ``requests``; ``changed`` is set on each change (tests wait on
``wait_until``).
"""

from __future__ import annotations

import base64
import enum
import itertools
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from email.utils import formatdate
from typing import Any
from xml.etree import ElementTree

import httpx
import trio
from hypercorn.config import Config as HypercornConfig
from hypercorn.trio import serve
from quart import Response, request
from quart_trio import QuartTrio

from receptionist.devtools.fakes import twilio_resources as resources
from receptionist.telephony.webhooks import twilio_signature

PREFIX = "/2010-04-01/Accounts/<account_sid>"
CALLBACK_TIMEOUT_S = 5.0
"""Twilio gives up on a status callback URL after about this long."""
FINAL = {"completed", "busy", "failed", "no-answer", "canceled"}
Form = list[tuple[str, str]]


class Fault(enum.Enum):
    SERVER_ERROR = "server_error"  # 500, Twilio's error body
    RATE_LIMITED = "rate_limited"  # 429, code 20429
    MALFORMED = "malformed"  # 200 with an HTML page
    STALL = "stall"  # never answer


@dataclass(frozen=True)
class Phone:
    """How a dialled number behaves."""

    answers_after_s: float = 2.0
    """Or, for busy and failed, how long until the network says so."""
    outcome: str = "answer"
    """"answer", or the final status it ends with unanswered: "no-answer", "busy", "failed"."""


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    form: Form
    authorization: str


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
class FakeTwilioRest:
    account_sid: str = "AC" + "0" * 31 + "1"
    auth_token: str = "fake-twilio-token"
    phones: dict[str, Phone] = field(default_factory=dict)
    say_s: float = 3.0
    """How long a <Say> takes to play."""
    lose_callbacks: bool = False
    """Status callbacks are recorded but never reach their URL (a network fault)."""
    faults: deque[Fault] = field(default_factory=deque)
    requests: list[RecordedRequest] = field(default_factory=list)
    calls: dict[str, FakeCall] = field(default_factory=dict)
    messages: list[dict[str, Any]] = field(default_factory=list)
    conferences: dict[str, dict[str, Any]] = field(default_factory=dict)
    """By name: {"sid", "members": [call sids], "callback", "events"}."""
    callbacks: list[tuple[str, dict[str, str], int]] = field(default_factory=list)
    """(url, params, our server's HTTP status) of each status callback sent."""
    _sids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _nursery: trio.Nursery | None = None
    _base_url: str = ""
    _changed: trio.Event = field(default_factory=trio.Event)

    @property
    def base_url(self) -> str:
        return self._base_url

    async def serve(self, *, task_status: trio.TaskStatus[str] = trio.TASK_STATUS_IGNORED) -> None:
        """Serve on an ephemeral port of 127.0.0.1; ``started`` with the API's base URL."""
        hc = HypercornConfig()
        hc.bind = ["127.0.0.1:0"]
        hc.accesslog = None
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            binds = await nursery.start(
                lambda task_status: serve(self._app(), hc, task_status=task_status)
            )
            self._base_url = binds[0]
            task_status.started(self._base_url)

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

    def forms(self, path_end: str) -> list[dict[str, str]]:
        """The forms of the requests whose path ends with ``path_end``."""
        return [dict(r.form) for r in self.requests if r.path.endswith(path_end)]

    # --- The HTTP API ---------------------------------------------------------------------

    def _app(self) -> QuartTrio:
        app = QuartTrio("fake-twilio-rest")

        @app.route(f"{PREFIX}/Calls.json", methods=["POST"])
        async def create_call(account_sid: str) -> Response:
            return await self._handle(account_sid, self._create_call)

        @app.route(f"{PREFIX}/Calls/<call_sid>.json", methods=["POST"])
        async def update_call(account_sid: str, call_sid: str) -> Response:
            return await self._handle(account_sid, lambda form: self._update_call(call_sid, form))

        @app.route(f"{PREFIX}/Conferences/<conference>/Participants.json", methods=["POST"])
        async def add_participant(account_sid: str, conference: str) -> Response:
            return await self._handle(account_sid, lambda f: self._add_participant(conference, f))

        @app.route(
            f"{PREFIX}/Conferences/<conference>/Participants/<call_sid>.json",
            methods=["POST", "DELETE"],
        )
        async def participant(account_sid: str, conference: str, call_sid: str) -> Response:
            return await self._handle(
                account_sid, lambda form: self._change_participant(conference, call_sid, form)
            )

        @app.route(f"{PREFIX}/Messages.json", methods=["POST"])
        async def send_message(account_sid: str) -> Response:
            return await self._handle(account_sid, self._send_message)

        return app

    async def _handle(self, account_sid: str, act: Callable[[Form], Response]) -> Response:
        form = [(k, v) for k, vs in (await request.form).lists() for v in vs]
        auth = request.headers.get("Authorization", "")
        self.requests.append(RecordedRequest(request.method, request.path, form, auth))
        self._notify()
        expected = base64.b64encode(f"{self.account_sid}:{self.auth_token}".encode()).decode()
        if account_sid != self.account_sid or auth != f"Basic {expected}":
            return resources.error(401, 20003, "Authenticate")
        fault = self.faults.popleft() if self.faults else None
        if fault is Fault.STALL:
            await trio.sleep_forever()
        if fault is Fault.SERVER_ERROR:
            return resources.error(500, 20500, "Internal Server Error")
        if fault is Fault.RATE_LIMITED:
            return resources.error(429, 20429, "Too Many Requests")
        if fault is Fault.MALFORMED:
            return Response("<html><body>Bad gateway</body></html>", 200, mimetype="text/html")
        return act(form)

    def _create_call(self, form: Form) -> Response:
        fields = dict(form)
        problem = resources.check_numbers(fields)
        if problem:
            return problem
        if not fields.get("Twiml") and not fields.get("Url"):
            return resources.error(400, 21205, "Url parameter is required.")
        sid = self._sid("CA")
        call = FakeCall(
            resources.call(self.account_sid, sid, fields["To"], fields["From"], "outbound-api"),
            status_callback=fields.get("StatusCallback", ""),
            events=tuple(v for k, v in form if k == "StatusCallbackEvent") or ("completed",),
            timeout_s=float(fields.get("Timeout", "60")),
            twiml=[fields["Twiml"]] if fields.get("Twiml") else [],
        )
        self.calls[sid] = call
        self._spawn(self._ring, call)
        return resources.json_response(201, call.resource)

    def _update_call(self, call_sid: str, form: Form) -> Response:
        call = self.calls.get(call_sid)
        if call is None or call.resource["status"] in FINAL:
            return resources.error(404, 20404, f"The requested resource {call_sid} was not found")
        fields = dict(form)
        if "Twiml" in fields:
            self._leave_conferences(call_sid)
            call.twiml.append(fields["Twiml"])
            self._spawn(self._execute, call, fields["Twiml"])
        elif fields.get("Status") == "canceled" and call.answered.is_set():
            pass  # as Twilio: canceling is for queued or ringing calls, a no-op once answered
        elif fields.get("Status") in ("canceled", "completed"):
            # The answer already shows the call ended; its callback follows.
            status = "completed" if call.answered.is_set() else "canceled"
            self._leave_conferences(call_sid)
            call.resource["status"] = status
            self._spawn(self._progress, call, "completed", status)
        elif "Url" not in fields:
            return resources.error(400, 21218, "Invalid ApplicationSid")
        self._notify()
        return resources.json_response(200, call.resource)

    def _add_participant(self, conference: str, form: Form) -> Response:
        fields = dict(form)
        problem = resources.check_numbers(fields)
        if problem:
            return problem
        twiml = f"<Response><Dial><Conference>{conference}</Conference></Dial></Response>"
        created = self._create_call([(k, v) for k, v in form if k != "Twiml"] + [("Twiml", twiml)])
        sid = next(reversed(self.calls))
        room = self._conference(conference)
        added = resources.participant(self.account_sid, room, sid, "queued")
        return resources.json_response(created.status_code, added)

    def _change_participant(self, conference: str, call_sid: str, form: Form) -> Response:
        rooms = self.conferences.values()
        room = next((c for c in rooms if conference in (c["sid"], c["name"])), None)
        if room is None or call_sid not in room["members"]:
            return resources.error(404, 20404, f"The requested resource {call_sid} was not found")
        if request.method == "DELETE":
            self._spawn(self._end, self.calls[call_sid], "completed")
            return Response("", 204)
        changed = resources.participant(self.account_sid, room, call_sid, "connected")
        return resources.json_response(200, changed)

    def _send_message(self, form: Form) -> Response:
        fields = dict(form)
        problem = resources.check_numbers(fields)
        if problem:
            return problem
        if not fields.get("Body"):
            return resources.error(400, 21602, "Message body is required.")
        message = resources.message(self.account_sid, self._sid("SM"), fields)
        self.messages.append(message)
        self._notify()
        return resources.json_response(201, message)

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
