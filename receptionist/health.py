"""Health and metrics routes for load balancers and Prometheus.

GET /healthz   the process is up (always 200 while it serves).
GET /readyz    200 when it should get calls: the database answers, the engines are
               loaded (they are before the server listens), and it is not draining; 503
               otherwise, with the reasons.
GET /metrics   Prometheus text (metrics.py); off (404) unless RECEPTIONIST_METRICS_TOKEN
               is set, then only for ``Authorization: Bearer <token>`` (401 otherwise).
"""

from __future__ import annotations

import hmac

import structlog
import trio
from quart import Response, request
from quart_trio import QuartTrio

from receptionist import metrics
from receptionist.call import CallServices
from receptionist.drain import Drain
from receptionist.errors import StoreUnavailable

log = structlog.get_logger()

READINESS_TIMEOUT_S = 2.0
"""A database slower than this to answer one read is not ready for calls."""


def add_health_routes(app: QuartTrio, services: CallServices, drain: Drain) -> None:
    metrics_token = services.config.secrets.metrics_token

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz")
    async def readyz() -> tuple[dict[str, object], int]:
        problems = []
        if drain.draining:
            problems.append("draining")
        if not await _database_answers(services):
            problems.append("database unreachable")
        body: dict[str, object] = {
            "status": "not ready" if problems else "ready",
            "problems": problems,
            "calls": drain.active_calls,
        }
        return body, 503 if problems else 200

    @app.get("/metrics")
    async def metrics_route() -> Response:
        if not metrics_token:
            return Response("metrics are off: set RECEPTIONIST_METRICS_TOKEN", status=404)
        offered = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        if not hmac.compare_digest(offered.encode(), metrics_token.encode()):
            return Response("unauthorized", status=401, headers={"WWW-Authenticate": "Bearer"})
        body, content_type = metrics.exposition()
        return Response(body, content_type=content_type)


async def _database_answers(services: CallServices) -> bool:
    with trio.move_on_after(READINESS_TIMEOUT_S):
        try:
            await trio.to_thread.run_sync(services.store.ping, abandon_on_cancel=True)
        except StoreUnavailable as exc:
            log.warning("readiness.database_unreachable", error=str(exc))
            return False
        return True
    log.warning("readiness.database_unreachable", error="timed out")
    return False
