"""TwilioIO: the actor that owns the call's Media Streams WebSocket.

One reader task parses what Twilio sends and never blocks on audio; one writer task paces
outbound audio in 20 ms frames just ahead of playback, sends marks, and sends ``clear`` on
barge-in. Frames of a cancelled turn are dropped here, right before they would be sent, so
nothing of a cancelled turn reaches the caller whatever was still buffered.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from time import perf_counter_ns
from typing import Protocol

import structlog
import trio

from receptionist import frame_costs
from receptionist.errors import CallDisconnected, TwilioProtocolError
from receptionist.frame_costs import FrameCosts
from receptionist.messages import (
    FRAME_MS,
    CallEvent,
    CallStarted,
    CallStopped,
    ClearAudio,
    DtmfPressed,
    EndCall,
    InboundAudio,
    MarkPlayed,
    Outbound,
    OutboundAudio,
    OutboundMark,
)
from receptionist.telephony import media_streams as tp
from receptionist.turns.cancellation import TurnCancellation
from receptionist.turns.latency import stage_latencies_ms

log = structlog.get_logger()

FRAME_SECONDS = FRAME_MS / 1000
CLEAR_TIMEOUT_S = 1.0
"""A clear or close that cannot be sent in this long will not matter any more."""


class MediaConnection(Protocol):
    """What TwilioIO needs of a WebSocket (Quart's websocket object is one).

    ``receive`` and ``send`` raise CallDisconnected once the peer has gone.
    """

    async def receive(self) -> str | bytes: ...

    async def send(self, data: str) -> None: ...

    async def close(self, code: int) -> None: ...


@dataclass(slots=True)
class TwilioStats:
    frames_in: int = 0
    frames_dropped: int = 0
    malformed: int = 0
    events_dropped: int = 0
    frames_out: int = 0
    frames_late: int = 0
    """Sent after the turn's previous frame had finished playing: the caller heard a gap."""
    frames_discarded: int = 0
    marks_out: int = 0
    clears: int = 0


class PlaybackClock:
    """Where Twilio's playback of what we sent will be, so we send just ahead of it.

    Sending faster than real time would fill Twilio's buffer with audio a barge-in must then
    clear; sending exactly at real time risks gaps. ``send_ahead`` is the margin.
    """

    def __init__(self, send_ahead: float) -> None:
        self._send_ahead = send_ahead
        self._played_until = 0.0

    def next_send_time(self, now: float) -> float:
        return max(now, self._played_until - self._send_ahead)

    def sent_frame(self, now: float) -> None:
        self._played_until = max(self._played_until, now) + FRAME_SECONDS

    def cleared(self) -> None:
        self._played_until = 0.0

    def ran_dry(self, now: float) -> bool:
        """Twilio has played everything we sent (a gap, if more of the turn follows)."""
        return now > self._played_until


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
                writer = _Writer(connection, stream.stream_sid, turns, send_ahead, stats, reading)
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


class _Writer:
    def __init__(
        self,
        connection: MediaConnection,
        stream_sid: str,
        turns: TurnCancellation,
        send_ahead: float,
        stats: TwilioStats,
        reading: trio.CancelScope,
    ) -> None:
        self._reading = reading
        self._connection = connection
        self._stream_sid = stream_sid
        self._turns = turns
        self._clock = PlaybackClock(send_ahead)
        self._stats = stats
        self._turn_started: set[int] = set()
        self._media = tp.MediaMessages(stream_sid)
        self._costs = frame_costs.current()
        self.observe: Callable[[object, float], None] = lambda _message, _at: None

    async def run(
        self,
        outbound: trio.MemoryReceiveChannel[Outbound],
        stream_ended: trio.Event,
        on_end: Callable[[EndCall], Awaitable[None]],
    ) -> None:
        with outbound:
            async for item in outbound:
                if stream_ended.is_set():
                    self._stats.frames_discarded += isinstance(item, OutboundAudio)
                    continue
                try:
                    await self._handle(item, stream_ended, on_end)
                except CallDisconnected:
                    stream_ended.set()

    async def _handle(
        self, item: Outbound, stream_ended: trio.Event, on_end: Callable[[EndCall], Awaitable[None]]
    ) -> None:
        match item:
            case OutboundAudio():
                await self._send_frame(item)
            case OutboundMark(turn_id=turn_id, name=name):
                if not self._turns.is_cancelled(turn_id):
                    await self._connection.send(tp.mark_message(self._stream_sid, name))
                    self._stats.marks_out += 1
                    self.observe(item, trio.current_time())
            case ClearAudio():
                await self._clear(item)
            case EndCall():
                self.observe(item, trio.current_time())
                await on_end(item)
                stream_ended.set()
                await self._close()
                self._reading.cancel()

    async def _send_frame(self, frame: OutboundAudio) -> None:
        if self._turns.is_cancelled(frame.turn_id):
            self._stats.frames_discarded += 1
            return
        await trio.sleep_until(self._clock.next_send_time(trio.current_time()))
        # Barge-in may have happened while we waited for the frame's slot.
        if self._turns.is_cancelled(frame.turn_id):
            self._stats.frames_discarded += 1
            return
        began = perf_counter_ns()
        message = self._media.encode(frame.ulaw)
        self._costs.outbound_encode_ns += perf_counter_ns() - began
        self._costs.outbound_encode_frames += 1
        await self._connection.send(message)
        now = trio.current_time()
        if frame.turn_id in self._turn_started and self._clock.ran_dry(now):
            self._stats.frames_late += 1
        self._clock.sent_frame(now)
        self._stats.frames_out += 1
        self.observe(frame, now)
        if frame.turn_id not in self._turn_started:
            self._turn_started.add(frame.turn_id)
            self._turns.audible(frame.turn_id)
            log.info("turn", turn_id=frame.turn_id, **stage_latencies_ms(frame.timings, now))

    async def _clear(self, clear: ClearAudio) -> None:
        # The clear must go out even if the turn's own scope is being torn down around us.
        with trio.move_on_after(CLEAR_TIMEOUT_S, shield=True):
            await self._connection.send(tp.clear_message(self._stream_sid))
        self._clock.cleared()
        self._stats.clears += 1
        self.observe(clear, trio.current_time())
        log.info("twilio.clear", turn_id=clear.turn_id, ms_since_barge_in=_ms_since(clear.at))

    async def _close(self) -> None:
        with trio.move_on_after(CLEAR_TIMEOUT_S, shield=True):
            await self._connection.close(1000)


def _ms_since(at: float) -> float:
    return round((trio.current_time() - at) * 1000, 1)
