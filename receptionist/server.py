"""The HTTP and WebSocket server: quart-trio, served by hypercorn's trio worker.

Routes:
    POST /incoming-call  Twilio's voice webhook: answers <Connect><Stream> TwiML.
    POST /call-ended     <Connect action>: after our stream ends, dial a person or hang up.
    WS   /media-stream   one call's Media Stream, run by the call supervisor.
    GET  /healthz /readyz /metrics   for load balancers and Prometheus (health.py).

On SIGTERM the server drains (drain.py) and then stops.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from typing import Any

import structlog
import trio
from hypercorn.config import Config as HypercornConfig
from hypercorn.trio import serve
from quart import Response, request, websocket
from quart_trio import QuartTrio

from receptionist.call import CallServices, refuse_while_draining, serve_call, take_outcome
from receptionist.drain import (
    REDIRECTS_PARAMETER,
    Drain,
    drain_on_sigterm,
    redirect_twiml,
)
from receptionist.errors import CallDisconnected
from receptionist.health import add_health_routes
from receptionist.messages import EndReason
from receptionist.telephony import webhooks

log = structlog.get_logger()

MAX_WEBSOCKET_MESSAGE_BYTES = 64 * 1024
"""A Twilio frame is a few hundred bytes; anything far larger is not Twilio."""
APOLOGY = "Sorry, we are having technical trouble. Please call back a little later. Goodbye."
TWIML = "text/xml"
TRY_AGAIN_LATER = 1013


class QuartConnection:
    """Quart's websocket as a MediaConnection.

    quart-trio cancels the handler when the peer disconnects, so ``receive`` never reports it;
    a send that fails on a closed socket is reported as CallDisconnected.
    """

    def __init__(self, ws: Any) -> None:
        self._ws = ws

    async def receive(self) -> str | bytes:
        data: str | bytes = await self._ws.receive()
        return data

    async def send(self, data: str) -> None:
        try:
            await self._ws.send(data)
        except (trio.BrokenResourceError, trio.ClosedResourceError, OSError) as exc:
            raise CallDisconnected("websocket closed") from exc

    async def close(self, code: int) -> None:
        await self._ws.close(code)


def create_app(
    services: CallServices, *, twilio_auth_token: str = "", drain: Drain | None = None
) -> QuartTrio:
    app = QuartTrio("receptionist")
    config = services.config
    drain = drain or Drain()
    add_health_routes(app, services, drain)

    async def twilio_params() -> tuple[str, list[tuple[str, str]]] | Response:
        """The request's public URL and parameters, or a 403 for a bad signature."""
        # Title-cased, as public_base_url looks them up.
        headers = {name.title(): value for name, value in request.headers.items()}
        base = webhooks.public_base_url(config.server.public_url, headers, request.scheme)
        query = request.query_string.decode()
        url = base + request.path + (f"?{query}" if query else "")
        is_post = request.method == "POST"
        params = list(_items(await request.form)) if is_post else list(_items(request.args))
        if twilio_auth_token:
            signature = request.headers.get("X-Twilio-Signature", "")
            body: bytes = await request.get_data(as_text=False)  # type: ignore[assignment]
            # Twilio signs a GET's URL alone: its parameters are already in the query.
            signed = params if is_post else []
            if not webhooks.is_valid_twilio_request(
                twilio_auth_token, url, signed, signature, body=body
            ):
                log.warning("webhook.bad_signature", path=request.path)
                return Response("invalid signature", status=403)
        return base, params

    @app.route("/incoming-call", methods=["GET", "POST"])
    async def incoming_call() -> Response:
        checked = await twilio_params()
        if isinstance(checked, Response):
            return checked
        base, params = checked
        fields = dict(params)
        call_sid = fields.get("CallSid", "")
        if not call_sid:
            return Response("CallSid missing", status=400)
        if drain.draining:
            return _elsewhere(base + request.path, request.args, call_sid)
        parameters = {
            "callSid": call_sid,
            "caller": fields.get("From", ""),
            webhooks.TOKEN_PARAMETER: webhooks.stream_token(services.stream_secret, call_sid),
        }
        log.info("webhook.incoming_call", call_sid=call_sid)
        return Response(webhooks.connect_stream_twiml(base, parameters), mimetype=TWIML)

    @app.route("/call-ended", methods=["GET", "POST"])
    async def call_ended() -> Response:
        checked = await twilio_params()
        if isinstance(checked, Response):
            return checked
        base, params = checked
        call_sid = dict(params).get("CallSid", "")
        outcome = await take_outcome(services, call_sid)
        if outcome and outcome.reason is EndReason.RETRY:
            return _elsewhere(base + "/incoming-call", {}, call_sid)
        transfer_to = outcome.transfer_to if outcome else None
        apology = (
            APOLOGY if outcome and outcome.reason is EndReason.ERROR and not transfer_to else None
        )
        log.info("webhook.call_ended", call_sid=call_sid, transfer=bool(transfer_to))
        return Response(webhooks.after_stream_twiml(transfer_to, apology), mimetype=TWIML)

    @app.websocket(webhooks.STREAM_PATH)
    async def media_stream() -> None:
        await websocket.accept()
        if drain.draining:
            connection = QuartConnection(websocket._get_current_object())  # type: ignore[attr-defined]
            await refuse_while_draining(connection, services)
            return
        if drain.active_calls >= config.server.max_calls:
            log.warning("call.refused_busy", max_calls=config.server.max_calls)
            await websocket.close(TRY_AGAIN_LATER)
            return
        with drain.admit() as ending:
            connection = QuartConnection(websocket._get_current_object())  # type: ignore[attr-defined]
            await serve_call(connection, services, ending)

    def _elsewhere(url: str, args: Any, call_sid: str) -> Response:
        """A draining process sends Twilio to another (drain.py)."""
        given = str(args.get(REDIRECTS_PARAMETER, "0"))
        redirects = int(given) if given.isdigit() else 0
        log.info("webhook.redirected_draining", call_sid=call_sid, redirects=redirects)
        transfer_to = config.clinic.transfer_number or None
        return Response(redirect_twiml(url, redirects, transfer_to), mimetype=TWIML)

    return app


def _items(multidict: Any) -> Iterable[tuple[str, str]]:
    return ((key, value) for key, values in multidict.lists() for value in values)


def hypercorn_config(host: str, port: int) -> HypercornConfig:
    hc = HypercornConfig()
    hc.bind = [f"{host}:{port}"]
    hc.accesslog = None
    hc.websocket_max_message_size = MAX_WEBSOCKET_MESSAGE_BYTES
    hc.graceful_timeout = 5.0
    return hc


async def serve_app(
    services: CallServices,
    host: str,
    port: int,
    *,
    listen_fd: int | None = None,
    task_status: trio.TaskStatus[list[str]] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve until cancelled, or until SIGTERM's drain is done; reports the bound addresses
    (port 0 picks a free one). ``listen_fd``: a listening socket inherited from the parent
    of several workers (workers.py), instead of ``host`` and ``port``."""
    auth_token = services.config.secrets.twilio_auth_token
    if not auth_token:
        log.warning("webhook.signatures_unchecked", hint="set TWILIO_AUTH_TOKEN in production")
    drain = Drain()
    app = create_app(services, twilio_auth_token=auth_token, drain=drain)
    hc = hypercorn_config(host, port)
    if listen_fd is not None:
        hc.bind = [f"fd://{listen_fd}"]
    drained = trio.Event()
    async with trio.open_nursery() as nursery:
        timeout_s = services.config.server.drain_timeout_s
        await nursery.start(drain_on_sigterm, drain, timeout_s, drained)
        await serve(app, hc, shutdown_trigger=drained.wait, task_status=task_status)
        nursery.cancel_scope.cancel()


def new_stream_secret(configured: str) -> bytes:
    """``configured`` (RECEPTIONIST_STREAM_SECRET, when several processes share the
    traffic: ``config.secrets.stream_secret``), else random."""
    return configured.encode() if configured else secrets.token_bytes(32)
