"""The HTTP and WebSocket server: quart-trio, served by hypercorn's trio worker.

Routes:
    POST /incoming-call  Twilio's voice webhook: answers <Connect><Stream> TwiML.
    POST /call-ended     <Connect action>: after our stream ends, dial a person or hang up.
    POST /transfer-status  a warm transfer's status callbacks (staff/transfer.py).
    WS   /media-stream   one call's Media Stream, run by the call supervisor.
    GET  /healthz /readyz /metrics   for load balancers and Prometheus (health.py).
    GET  /calls...       the call review pages (receptionist/review), when a password is set.

On SIGTERM the server drains (drain.py) and then stops. While it serves, it announces
itself in the database (heartbeat.py), so a draining peer knows it can take new calls.
"""

from __future__ import annotations

import gc
from collections.abc import Iterable
from contextlib import nullcontext
from dataclasses import replace
from typing import Any

import structlog
import trio
from hypercorn.config import Config as HypercornConfig
from hypercorn.trio import serve
from quart import Response, request, websocket
from quart_trio import QuartTrio

from receptionist.call import CallServices
from receptionist.call_outcomes import take_outcome
from receptionist.call_stream import refuse_while_draining, serve_call
from receptionist.drain import (
    REDIRECTS_PARAMETER,
    Drain,
    drain_on_sigterm,
    redirect_twiml,
)
from receptionist.health import add_health_routes
from receptionist.heartbeat import announce, live_peer_exists, new_server_id
from receptionist.media_websocket import (
    DisconnectReportingWebsocket,
    QuartConnection,
    refuse_websocket_extensions,
)
from receptionist.messages import EndReason
from receptionist.records.recorder import run_recorder
from receptionist.review.pages import register_review
from receptionist.staff.summary import report_summariser
from receptionist.staff.transfer import WarmTransfers
from receptionist.staff.twilio_rest import TwilioRest
from receptionist.telephony import webhooks
from receptionist.telephony.stream_tokens import CALL_SID_PARAMETER, TOKEN_PARAMETER
from receptionist.telephony.transfers import CALL_QUERY, TRANSFER_STATUS_PATH

log = structlog.get_logger()

MAX_WEBSOCKET_MESSAGE_BYTES = 64 * 1024
"""A Twilio frame is a few hundred bytes; anything far larger is not Twilio."""
APOLOGY = "Sorry, we are having technical trouble. Please call back a little later. Goodbye."
TWIML = "text/xml"
TRY_AGAIN_LATER = 1013


def create_app(
    services: CallServices,
    *,
    twilio_auth_token: str = "",
    drain: Drain | None = None,
    transfers: WarmTransfers | None = None,
) -> QuartTrio:
    app = QuartTrio("receptionist")
    app.asgi_websocket_class = DisconnectReportingWebsocket
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
            return await _elsewhere(base + request.path, request.args, call_sid)
        parameters = {CALL_SID_PARAMETER: call_sid, "caller": fields.get("From", "")}
        parameters[TOKEN_PARAMETER] = services.stream_tokens.issue(parameters)
        log.info("webhook.incoming_call", call_sid=call_sid)
        return Response(webhooks.connect_stream_twiml(base, parameters), mimetype=TWIML)

    @app.route("/call-ended", methods=["GET", "POST"])
    async def call_ended() -> Response:
        checked = await twilio_params()
        if isinstance(checked, Response):
            return checked
        base, params = checked
        call_sid = dict(params).get("CallSid", "")
        outcome = await take_outcome(services.store, call_sid)
        if outcome and outcome.reason is EndReason.RETRY:
            return await _elsewhere(base + "/incoming-call", {}, call_sid)
        if outcome and outcome.reason is EndReason.TRANSFER and transfers:
            log.info("webhook.call_ended", call_sid=call_sid, transfer=True)
            twiml = await transfers.after_stream(call_sid, outcome, base)
            return Response(twiml, mimetype=TWIML)
        transfer_to = outcome.transfer_to if outcome else None
        apology = (
            APOLOGY if outcome and outcome.reason is EndReason.ERROR and not transfer_to else None
        )
        log.info("webhook.call_ended", call_sid=call_sid, transfer=bool(transfer_to))
        return Response(webhooks.after_stream_twiml(transfer_to, apology), mimetype=TWIML)

    @app.route(TRANSFER_STATUS_PATH, methods=["POST"])
    async def transfer_status() -> Response:
        checked = await twilio_params()
        if isinstance(checked, Response):
            return checked
        base, params = checked
        call_sid = request.args.get(CALL_QUERY, "")
        if transfers and call_sid:
            await transfers.on_status(call_sid, dict(params), base)
        return Response("", status=204)

    def upgrade_is_signed() -> bool:
        """Twilio signs a media stream's upgrade over its wss:// URL, with no parameters."""
        headers = {name.title(): value for name, value in websocket.headers.items()}
        http_scheme = "https" if websocket.scheme == "wss" else "http"
        base = webhooks.public_base_url(config.server.public_url, headers, http_scheme)
        query = websocket.query_string.decode()
        url = webhooks.websocket_url(base) + (f"?{query}" if query else "")
        signature = websocket.headers.get("X-Twilio-Signature", "")
        return webhooks.is_valid_twilio_request(twilio_auth_token, url, [], signature)

    @app.websocket(webhooks.STREAM_PATH)
    async def media_stream() -> Response | None:
        if twilio_auth_token and not upgrade_is_signed():
            log.warning("webhook.bad_signature", path=webhooks.STREAM_PATH)
            return Response("invalid signature", status=403)
        await websocket.accept()
        if drain.draining:
            connection = QuartConnection(websocket._get_current_object())  # type: ignore[attr-defined]
            await refuse_while_draining(connection, services)
            return None
        if drain.active_calls >= config.server.max_calls:
            log.warning("call.refused_busy", max_calls=config.server.max_calls)
            await websocket.close(TRY_AGAIN_LATER)
            return None
        with drain.admit() as ending:
            connection = QuartConnection(websocket._get_current_object())  # type: ignore[attr-defined]
            await serve_call(connection, services, ending)
        return None

    async def _elsewhere(url: str, args: Any, call_sid: str) -> Response:
        """A draining process sends Twilio to another, if one is live (drain.py)."""
        given = str(args.get(REDIRECTS_PARAMETER, "0"))
        redirects = int(given) if given.isdigit() else 0
        # Not draining (a retried stream's /call-ended): this process is itself the peer.
        peer = not drain.draining or await live_peer_exists(services.store, drain.server_id)
        log.info("webhook.redirected_draining", call_sid=call_sid, redirects=redirects,
                 peer=peer)  # fmt: skip
        transfer_to = config.clinic.transfer_number or None
        twiml = redirect_twiml(url, redirects, transfer_to, peer=peer is not False)
        return Response(twiml, mimetype=TWIML)

    register_review(app, services)
    return app


def _items(multidict: Any) -> Iterable[tuple[str, str]]:
    return ((key, value) for key, values in multidict.lists() for value in values)


def hypercorn_config(host: str, port: int) -> HypercornConfig:
    hc = HypercornConfig()
    hc.bind = [f"{host}:{port}"]
    hc.accesslog = None
    hc.websocket_max_message_size = MAX_WEBSOCKET_MESSAGE_BYTES
    hc.graceful_timeout = 5.0
    refuse_websocket_extensions()  # no permessage-deflate on audio
    return hc


def freeze_startup_heap() -> None:
    """Exempt what start-up built from the garbage collector's full collections.

    A serving process starts with about 190,000 tracked objects (modules, the app, the
    engines' models) that live as long as it does. Every full (generation 2) collection
    traversed them all: 18-76 ms with the event loop stopped, each call's outbound audio
    late by as much, several times as calls began (measured on the cloud capacity ramp at
    16 calls). Frozen, they are never scanned again, nor collected: call it once, in a
    process that serves, after start-up (not in tests, whose objects come and go).
    """
    gc.collect()
    gc.freeze()


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
    drain = Drain(new_server_id())
    hc = hypercorn_config(host, port)
    if listen_fd is not None:
        hc.bind = [f"fd://{listen_fd}"]
    drained = trio.Event()
    rest = TwilioRest.from_config(services.config)
    async with rest or nullcontext(), trio.open_nursery() as nursery:
        if services.config.records.enabled and services.records is None:
            summarise = report_summariser(services.config, services.llm)
            recorder = await nursery.start(run_recorder, services.config, summarise)
            services = replace(services, records=recorder)
        transfers = WarmTransfers(
            services.config, services.store, services.stream_tokens, rest, nursery, services.now
        )
        clinic = services.config.clinic
        if clinic.transfer_number and clinic.transfer_mode == "warm" and not transfers.warm:
            log.warning("transfer.cold_only", hint="warm transfers need TWILIO_ACCOUNT_SID,"
                        " TWILIO_AUTH_TOKEN and [twilio].phone_number")  # fmt: skip
        app = create_app(services, twilio_auth_token=auth_token, drain=drain, transfers=transfers)
        timeout_s = services.config.server.drain_timeout_s
        await nursery.start(drain_on_sigterm, drain, timeout_s, drained)
        await nursery.start(announce, services.store, drain, services.config.server.heartbeat_s)
        await serve(app, hc, shutdown_trigger=drained.wait, task_status=task_status)
        nursery.cancel_scope.cancel()
