"""One Media Streams WebSocket, from the upgrade to the close: the call's admission and its
error boundary.

``serve_call`` admits a stream (``connected`` then ``start``, with a valid token from our own
webhook), binds ``call_sid``/``stream_sid`` to every log line of the call, runs the call's
actors (call.py) and turns whatever escapes them into a logged, contained end of this one
call: the server and every other call go on. It records how the call ended (``call.end``,
the outcome saved for /call-ended) and, on a drain, ends the call politely.
"""

from __future__ import annotations

from dataclasses import asdict, replace

import structlog
import trio

from receptionist.call import CallServices, run_call
from receptionist.call_outcomes import fallback_outcome, save_outcome
from receptionist.drain import GOING_AWAY, say_goodbye
from receptionist.errors import (
    CallDisconnected,
    ProtocolError,
    StreamRejected,
    TwilioProtocolError,
)
from receptionist.frame_costs import FrameCosts, counting
from receptionist.logs import current_recording, mask_phone
from receptionist.messages import EndCall, EndReason
from receptionist.staff.briefing import CallFacts
from receptionist.telephony import media_streams as tp
from receptionist.telephony.connection import MediaConnection
from receptionist.telephony.stream_tokens import StreamTokens
from receptionist.telephony.transfers import RESUME_PARAMETER

log = structlog.get_logger()

START_TIMEOUT_S = 10.0
"""Twilio sends ``connected`` and ``start`` right after the upgrade; a silent peer is not it."""
CLOSE_TIMEOUT_S = 1.0
POLICY_VIOLATION = 1008
HUNG_UP = "hung_up"
"""``call.end``'s outcome when the caller (or the network) ended the call."""
DRAINED = "drained"
"""``call.end``'s outcome when the server's drain deadline ended the call (drain.py)."""


async def serve_call(
    connection: MediaConnection, services: CallServices, ending: trio.CancelScope | None = None
) -> None:
    """Run one call on an accepted Media Streams WebSocket, from ``start`` to hang-up.

    ``ending``: cancelled, it ends the call politely (the drain's deadline, drain.py).
    """
    stream = await _admit(connection, services)
    if stream is None:
        return
    with structlog.contextvars.bound_contextvars(
        call_sid=stream.call_sid, stream_sid=stream.stream_sid
    ):
        await _supervise(connection, stream, services, ending or trio.CancelScope())


async def refuse_while_draining(connection: MediaConnection, services: CallServices) -> None:
    """A stream that reached a draining server (drain.py): close it (1001, going away) and
    have /call-ended, wherever Twilio asks it, start the call again on another server."""
    stream = await _admit(connection, services)
    if stream is None:
        return
    log.warning("call.refused_draining", call_sid=stream.call_sid)
    await save_outcome(services.store, stream.call_sid, EndCall(EndReason.RETRY))
    await _close(connection, GOING_AWAY)


async def _admit(connection: MediaConnection, services: CallServices) -> tp.StreamStart | None:
    """The stream's ``start``, or None once a stream that never sent a valid one is closed."""
    try:
        with trio.fail_after(START_TIMEOUT_S):
            return await wait_for_start(connection, services.stream_tokens)
    except (ProtocolError, trio.TooSlowError, CallDisconnected) as exc:
        log.warning("call.rejected", error=str(exc) or type(exc).__name__)
        await _close(connection, POLICY_VIOLATION)
        return None


async def wait_for_start(connection: MediaConnection, tokens: StreamTokens) -> tp.StreamStart:
    """Read up to the ``start`` message and check it came through our own webhook.

    Raises:
        TwilioProtocolError: a malformed first message or an unsupported media format.
        StreamRejected: no valid stream token for this stream (edited parameters, expired,
            or already used).
    """
    while True:
        event = tp.parse_message(await connection.receive())
        if isinstance(event, tp.Connected):
            continue
        if not isinstance(event, tp.StreamStart):
            raise TwilioProtocolError(f"expected 'start', got {type(event).__name__}")
        tp.check_media_format(event)
        if not tokens.redeem(event.call_sid, event.parameters):
            raise StreamRejected("media stream without a valid, unused token from /incoming-call")
        return event


async def _supervise(
    connection: MediaConnection, stream: tp.StreamStart, services: CallServices,
    ending: trio.CancelScope,
) -> None:  # fmt: skip
    started = trio.current_time()
    log.info("call.start", caller=mask_phone(stream.parameters.get("caller")),
             resume=stream.parameters.get(RESUME_PARAMETER))  # fmt: skip
    costs = FrameCosts()
    recording = services.records.start_call() if services.records else None
    recorded = current_recording.set(recording)
    crashed = False
    outcome = HUNG_UP  # unless the call ends it itself
    facts = CallFacts(stream.parameters.get("caller", ""))

    async def ended(end: EndCall) -> None:
        nonlocal outcome
        outcome = end.reason.value
        if end.reason is EndReason.TRANSFER:
            end = replace(end, brief=facts.brief(end.why))
        await save_outcome(services.store, stream.call_sid, end)

    try:
        with counting(costs), ending:  # counting before the actors start: they inherit it
            await run_call(connection, stream, services, recording=recording, on_end=ended,
                           observe=facts.observe)  # fmt: skip
        if ending.cancelled_caught:
            outcome = DRAINED
            await _end_politely(connection, stream, services)
    except* Exception as group:
        crashed = True
        # The one error boundary of the call: log it, hand the caller to a person if we
        # can, and let every other call carry on.
        log.error("call.crashed", exc_info=group)
        outcome = EndReason.ERROR.value
        await save_outcome(services.store, stream.call_sid, fallback_outcome(services.config))
        await _close(connection, 1011)
    finally:
        log.info("call.frame_costs", **asdict(costs))
        log.info("call.end", seconds=round(trio.current_time() - started, 2), outcome=outcome)
        if recording is not None:
            recording.finish(crashed=crashed)
        current_recording.reset(recorded)


async def _end_politely(
    connection: MediaConnection, stream: tp.StreamStart, services: CallServices
) -> None:
    """The server is going down: say so, and hang up (drain.py)."""
    await save_outcome(services.store, stream.call_sid, EndCall(EndReason.COMPLETED))
    try:
        await say_goodbye(connection, stream.stream_sid, services.speech)
    except CallDisconnected:
        return
    await _close(connection, 1000)


async def _close(connection: MediaConnection, code: int) -> None:
    with trio.move_on_after(CLOSE_TIMEOUT_S, shield=True):
        try:
            await connection.close(code)
        except Exception as exc:  # the socket may already be gone; nothing more to do
            log.debug("call.close_failed", error=repr(exc))
