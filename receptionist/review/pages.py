"""The call review routes, on the server's quart-trio app.

    GET  /calls                         the calls, newest first (?day=YYYY-MM-DD&outcome=&page=)
    GET  /calls/<call_sid>              transcript, recording, bookings, latency waterfall
    GET  /calls/<call_sid>/recording.wav
    GET  /calls/<call_sid>.json         the whole record, for tools
    GET/POST /calls/login, POST /calls/logout

Off (404) unless RECEPTIONIST_ADMIN_PASSWORD is set; every route but the login checks the
session (pages redirect to the login, files answer 401). Wrong passwords lock the login out
for a growing time (lockout.py): 429 with Retry-After.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Awaitable, Callable
from datetime import date, datetime
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

import structlog
import trio
from markupsafe import Markup
from quart import Blueprint, Response, redirect, render_template, request, send_file
from quart_trio import QuartTrio

from receptionist.call import CallServices
from receptionist.logs import mask_phone
from receptionist.records.store import CallSummary, RecordStore, recordings_folder
from receptionist.review.auth import (
    LOGIN_CSRF_COOKIE,
    SESSION_COOKIE,
    SESSION_S,
    Access,
    new_csrf_token,
    same_origin,
)
from receptionist.review.lockout import LoginLockout
from receptionist.review.stats import p50_p95, reply_totals
from receptionist.review.waterfall import COLOURS, LABELS, waterfall_svg

PAGE_SIZE = 50
OUTCOMES = ("completed", "transfer", "hung up", "error")
log = structlog.get_logger()
Handler = TypeVar("Handler", bound=Callable[..., Awaitable[Any]])


def register_review(app: QuartTrio, services: CallServices) -> None:
    """The review routes, when RECEPTIONIST_ADMIN_PASSWORD is set; without it none exist."""
    if services.config.secrets.admin_password:
        app.register_blueprint(review_blueprint(services))


def review_blueprint(services: CallServices) -> Blueprint:
    pages = Blueprint("review", __name__, template_folder="templates")
    access = Access(services.config.secrets.admin_password)
    store = RecordStore(services.config)
    folder = recordings_folder(services.config)
    tz = services.config.clinic.tz

    lockout = LoginLockout()

    def guarded(*, page: bool) -> Callable[[Handler], Handler]:
        def decorate(handler: Handler) -> Handler:
            @wraps(handler)
            async def checked(*args: Any, **kwargs: Any) -> Any:
                if not access.enabled:
                    return Response("not found", status=404)
                if not access.session_valid(request.cookies.get(SESSION_COOKIE), time.time()):
                    return redirect("/calls/login") if page else Response("login", status=401)
                return await handler(*args, **kwargs)

            return checked  # type: ignore[return-value]

        return decorate

    @pages.route("/calls/login", methods=["GET", "POST"])
    async def login() -> Any:
        if not access.enabled:
            return Response("not found", status=404)
        failed, address, now = False, request.remote_addr or "", trio.current_time()
        if request.method == "POST":
            if wait_s := lockout.wait_s(address, now):
                log.warning("review.login_locked", address=address, wait_s=round(wait_s))
                return await _login_page(429, retry_after_s=math.ceil(wait_s))
            form = await request.form
            token = request.cookies.get(LOGIN_CSRF_COOKIE, "")
            fair = token and form.get("csrf") == token and _same_origin()
            if fair and access.password_matches(form.get("password", "")):
                lockout.succeeded(address)
                response = redirect("/calls")
                _set_cookie(response, SESSION_COOKIE, access.new_session(time.time()))
                response.delete_cookie(LOGIN_CSRF_COOKIE, path="/calls")
                return response
            if fair:  # a guess; a request without the form's token guesses nothing
                lock_s = lockout.failed(address, now)
                log.warning("review.login_failed", address=address, lock_s=lock_s)
            failed = True
        return await _login_page(403 if failed else 200)

    @pages.post("/calls/logout")
    @guarded(page=True)
    async def logout() -> Any:
        session = request.cookies.get(SESSION_COOKIE, "")
        form = await request.form
        if form.get("csrf") != access.logout_token(session) or not _same_origin():
            return Response("bad request", status=400)
        response = redirect("/calls/login")
        response.delete_cookie(SESSION_COOKIE, path="/calls")
        return response

    @pages.get("/calls")
    @guarded(page=True)
    async def calls() -> Any:
        day = _day(request.args.get("day", ""))
        outcome = request.args.get("outcome", "")
        page = max(_int(request.args.get("page", "1")), 1)
        found = await trio.to_thread.run_sync(
            lambda: store.calls(
                day=day, outcome=outcome, limit=PAGE_SIZE + 1, offset=(page - 1) * PAGE_SIZE
            )
        )
        rows = [_row(summary, tz) for summary in found[:PAGE_SIZE]]
        return await render_template(
            "calls.html", rows=rows, day=day.isoformat() if day else "", outcome=outcome,
            outcomes=OUTCOMES, page=page, more=len(found) > PAGE_SIZE,
            logout=access.logout_token(request.cookies.get(SESSION_COOKIE, "")),
        )  # fmt: skip

    @pages.get("/calls/<call_sid>")
    @guarded(page=True)
    async def call(call_sid: str) -> Any:
        found = await trio.to_thread.run_sync(store.call, call_sid)
        if found is None:
            return Response("no such call", status=404)
        summary, detail = found
        day = store.local_day(summary.started_at)
        day_details = await trio.to_thread.run_sync(store.details_of_day, day)
        agent_turns = detail.get("turns", [])
        return await render_template(
            "call.html", call=_row(summary, tz), detail=detail,
            lines=detail.get("lines", []), turns=agent_turns, tool_calls=_tool_calls(detail),
            waterfall=Markup(waterfall_svg(agent_turns)),
            legend=[(LABELS[s], COLOURS[s]) for s in LABELS],
            call_stats=p50_p95(reply_totals([detail])),
            day_stats=p50_p95(reply_totals(day_details)), day=day.isoformat(),
            logout=access.logout_token(request.cookies.get(SESSION_COOKIE, "")),
        )  # fmt: skip

    @pages.get("/calls/<call_sid>.json")
    @guarded(page=False)
    async def call_json(call_sid: str) -> Any:
        found = await trio.to_thread.run_sync(store.call, call_sid)
        if found is None:
            return Response("no such call", status=404)
        return found[1]

    @pages.get("/calls/<call_sid>/recording.wav")
    @guarded(page=False)
    async def recording(call_sid: str) -> Any:
        found = await trio.to_thread.run_sync(store.call, call_sid)
        path = _recording_path(folder, found[0]) if found else None
        if path is None or not path.is_file():
            return Response("no recording", status=404)
        return await send_file(path, mimetype="audio/wav", conditional=True)

    @pages.after_request
    async def private(response: Response) -> Response:
        response.headers["Cache-Control"] = "no-store"
        response.headers["X-Frame-Options"] = "DENY"
        # not no-referrer: with it Chromium posts forms with "Origin: null"
        response.headers["Referrer-Policy"] = "same-origin"
        return response

    return pages


async def _login_page(status: int, *, retry_after_s: int = 0) -> Response:
    token = new_csrf_token()
    html = await render_template(
        "login.html", csrf=token, failed=status == 403, retry_after_s=retry_after_s
    )
    page = Response(html, status=status, mimetype="text/html")
    if retry_after_s:
        page.headers["Retry-After"] = str(retry_after_s)
    _set_cookie(page, LOGIN_CSRF_COOKIE, token)
    return page


def _same_origin() -> bool:
    return same_origin(request.headers.get("Origin"), request.host)


def _set_cookie(response: Any, name: str, value: str) -> None:
    secure = request.scheme == "https" or request.headers.get("X-Forwarded-Proto") == "https"
    response.set_cookie(
        name, value, max_age=SESSION_S, path="/calls", httponly=True, samesite="Strict",
        secure=secure,
    )  # fmt: skip


def _recording_path(folder: Path, summary: CallSummary) -> Path | None:
    if not summary.recording:
        return None
    path = (folder / summary.recording).resolve()
    return path if path.is_relative_to(folder.resolve()) else None


def _row(summary: CallSummary, tz: Any) -> dict[str, Any]:
    started = datetime.fromtimestamp(summary.started_at, tz)
    return {
        "call_sid": summary.call_sid, "started": started.strftime("%Y-%m-%d %H:%M:%S"),
        "caller": mask_phone(summary.caller) or "unknown", "seconds": summary.seconds,
        "outcome": summary.outcome, "bookings": summary.bookings,
        "recording": bool(summary.recording),
    }  # fmt: skip


def _tool_calls(detail: dict[str, Any]) -> list[dict[str, Any]]:
    """The LLM's tool calls, what each asked and what it was answered, as compact JSON text
    (escaped by the template like every other text)."""
    return [
        {"at_s": event.get("at_s"), "tool": event.get("tool", ""),
         "outcome": event.get("outcome", ""), "arguments": _compact(event.get("arguments")),
         "result": _compact(event.get("result"))}
        for event in detail.get("events", [])
        if event.get("event") == "llm.tool_call"
    ]  # fmt: skip


def _compact(value: Any) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _day(text: str) -> date | None:
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        return None


def _int(text: str) -> int:
    return int(text) if text.isdigit() else 1
