"""TwilioIO: the actor that owns the call's Media Streams WebSocket.

One reader task (here) parses what Twilio sends and never blocks on audio; one writer task
(twilio_writer.py) paces outbound audio just ahead of playback, several 20 ms frames to a
media message, sends marks, and sends ``clear`` on barge-in. Frames of a cancelled turn
are dropped right before they would be sent, so nothing of a cancelled turn reaches the
caller whatever was still buffered.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import asdict
from time import perf_counter_ns

import structlog
import trio

from receptionist import frame_costs
from receptionist.errors import CallDisconnected, TwilioProtocolError
from receptionist.frame_costs import FrameCosts
from receptionist.messages import (
    CallEvent,
    CallStarted,
    CallStopped,
    DtmfPressed,
    EndCall,
    InboundAudio,
    MarkPlayed,
    Outbound,
)
from receptionist.telephony import media_streams as tp
from receptionist.telephony.connection import MediaConnection, TwilioStats
from receptionist.turns.cancellation import TurnCancellation
from stages.twilio_writer import TwilioWriter

log = structlog.get_logger()


async def _ignore_end(_end: EndCall) -> None:
    pass


async def run_twilio_io(
    connection: MediaConnection,
    stream: tp.StreamStart,
    inbound_audio: trio.MemorySendChannel[InboundAudio],
    call_events: trio.MemorySendChannel[CallEvent],
    outbound: trio.MemoryReceiveChannel[Outbound],
    *,
    turns: TurnCancellation,
    send_ahead: float,
    message_frames: int,
    on_end: Callable[[EndCall], Awaitable[None]] = _ignore_end,
    observe: Callable[[object, float], None] = lambda _message, _at: None,
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Carry one call's audio and events between Twilio and the other actors.

    Resource handling:
        Owns and closes ``inbound_audio``, ``call_events`` and ``outbound``. When the stream
        ends (``stop``, a dropped socket, or our own hang-up) the reader closes its channels,
        which unwinds the Listener and the Dialogue; the writer drains ``outbound`` until its
        senders close, discarding, so no sender is ever met by a closed channel.

    Error handling:
        A malformed or unknown frame is logged and skipped. A full inbound-audio channel drops
        the frame and counts it, and a full ``call_events`` drops a mark or key press and
        logs it (the reader must never stall: Twilio's audio, marks and stop travel the same
        socket). A lost connection ends the call like ``stop``.
    """
    stats = TwilioStats()
    stream_ended = trio.Event()
    # Cancelled once we hang up: a real WebSocket's receive() does not return when our own
    # close goes out, and the peer may never answer it.
    reading = trio.CancelScope()
    with inbound_audio, call_events, outbound:
        await call_events.send(_call_started(stream))
        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(
                    _read,
                    connection,
                    inbound_audio,
                    call_events,
                    stats,
                    stream_ended,
                    reading,
                    observe,
                )
                writer = TwilioWriter(
                    connection, stream.stream_sid, turns, stats, reading,
                    send_ahead=send_ahead, message_frames=message_frames,
                )  # fmt: skip
                writer.observe = observe  # the call's record: what reached Twilio, when
                nursery.start_soon(writer.run, outbound, stream_ended, on_end)
                task_status.started()
        finally:
            log.info("twilio.stats", **asdict(stats))


def _call_started(stream: tp.StreamStart) -> CallStarted:
    caller = stream.parameters.get("caller") or None
    return CallStarted(
        call_sid=stream.call_sid,
        stream_sid=stream.stream_sid,
        caller=caller,
        parameters=stream.parameters,
        at=trio.current_time(),
    )


async def _read(
    connection: MediaConnection,
    inbound_audio: trio.MemorySendChannel[InboundAudio],
    call_events: trio.MemorySendChannel[CallEvent],
    stats: TwilioStats,
    stream_ended: trio.Event,
    reading: trio.CancelScope,
    observe: Callable[[object, float], None],
) -> None:
    with inbound_audio, call_events:
        try:
            costs = frame_costs.current()
            with reading:
                while await _read_one(
                    connection, inbound_audio, call_events, stats, costs, observe
                ):
                    pass
        except CallDisconnected:
            log.info("twilio.disconnected")
        finally:
            stream_ended.set()
            inbound_audio.close()
        await call_events.send(CallStopped(at=trio.current_time()))


async def _read_one(
    connection: MediaConnection,
    inbound_audio: trio.MemorySendChannel[InboundAudio],
    call_events: trio.MemorySendChannel[CallEvent],
    stats: TwilioStats,
    costs: FrameCosts,
    observe: Callable[[object, float], None],
) -> bool:
    """Handle one frame; False once the stream has stopped."""
    raw = await connection.receive()
    now = trio.current_time()
    began = perf_counter_ns()
    try:
        event = tp.parse_message(raw)
        costs.inbound_parse_ns += perf_counter_ns() - began
        costs.inbound_parse_frames += 1
    except TwilioProtocolError as exc:
        stats.malformed += 1
        log.warning("twilio.malformed_frame", error=str(exc), frame=str(raw)[:200])
        return True
    match event:
        case tp.Media(track="inbound", ulaw=ulaw):
            stats.frames_in += 1
            observe(frame := InboundAudio(ulaw=ulaw, at=now), now)
            try:
                inbound_audio.send_nowait(frame)
            except trio.WouldBlock:
                stats.frames_dropped += 1
        case tp.Mark(name=name):
            _forward(call_events, MarkPlayed(name=name, at=now), stats)
        case tp.Dtmf(digit=digit):
            _forward(call_events, DtmfPressed(digit=digit, at=now), stats)
        case tp.Stop():
            log.info("twilio.stop")
            return False
        case tp.Media() | tp.Connected() | tp.StreamStart():
            log.debug("twilio.ignored", kind=type(event).__name__)
    return True


def _forward(
    call_events: trio.MemorySendChannel[CallEvent], event: CallEvent, stats: TwilioStats
) -> None:
    """Hand a mark or key press on without waiting: a Dialogue that is slow to read (stuck
    on a full sentences channel) must not stall the inbound audio behind it, or barge-in
    with it. A full inbox drops the event, loudly; a lost goodbye mark is bounded by the
    floor's own deadline."""
    try:
        call_events.send_nowait(event)
    except trio.WouldBlock:
        stats.events_dropped += 1
        log.warning("twilio.event_dropped", kind=type(event).__name__)
