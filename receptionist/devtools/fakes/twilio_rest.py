"""A fake of Twilio's REST API (2010-04-01) on 127.0.0.1, for the warm-transfer and SMS tests.

It serves the real paths, under ``/2010-04-01/Accounts/{AccountSid}``:
``POST Calls.json`` (create), ``POST Calls/{CallSid}.json`` (update: ``Twiml``, ``Url`` or
``Status``), ``POST Conferences/{Sid or name}/Participants.json`` (create),
``POST|DELETE Conferences/{Sid}/Participants/{CallSid}.json`` and ``POST Messages.json``;
form-encoded bodies, HTTP basic auth checked (20003), the JSON shapes of the Call,
Participant and Message resources, and Twilio's error body (``code``, ``message``,
``more_info``, ``status``: 20404 not found, 21211 invalid To, 21201 no To...).

It also plays the telephone network (``twilio_network.FakeTelephoneNetwork``, which it
extends): ringing, TwiML, conferences and signed status callbacks. ``faults``: how the next
requests fail (5xx, 429, a malformed answer, a stall). Every request is recorded in
``requests``.
"""

from __future__ import annotations

import base64
import enum
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import trio
from hypercorn.config import Config as HypercornConfig
from hypercorn.trio import serve
from quart import Response, request
from quart_trio import QuartTrio

from receptionist.devtools.fakes import twilio_resources as resources
from receptionist.devtools.fakes.twilio_network import FINAL, FakeCall, FakeTelephoneNetwork

PREFIX = "/2010-04-01/Accounts/<account_sid>"
Form = list[tuple[str, str]]


class Fault(enum.Enum):
    SERVER_ERROR = "server_error"  # 500, Twilio's error body
    RATE_LIMITED = "rate_limited"  # 429, code 20429
    MALFORMED = "malformed"  # 200 with an HTML page
    STALL = "stall"  # never answer


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    form: Form
    authorization: str


@dataclass
class FakeTwilioRest(FakeTelephoneNetwork):
    faults: deque[Fault] = field(default_factory=deque)
    requests: list[RecordedRequest] = field(default_factory=list)
    messages: list[dict[str, Any]] = field(default_factory=list)
    _base_url: str = ""

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
