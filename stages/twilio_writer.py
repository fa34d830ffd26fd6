"""TwilioIO's writer: outbound audio paced just ahead of Twilio's playback, in media messages
of several frames, marks, ``clear`` on barge-in, and the close on hang-up (the TwilioIO actor
in twilio_io.py runs it).

Twilio plays a media message of any length from its buffer, frame after frame, and empties
the buffer on ``clear``: a 100 ms message plays as five 20 ms frames would.

Frames of a cancelled turn are dropped right before they would be sent, so nothing of a
cancelled turn reaches the caller whatever was still buffered; those of a held turn
(``TurnCancellation.hold``) wait there until it is released or cancelled.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from time import perf_counter_ns

import structlog
import trio

from receptionist import frame_costs
from receptionist.errors import CallDisconnected
from receptionist.messages import (
    FRAME_MS,
    ClearAudio,
    EndCall,
    Outbound,
    OutboundAudio,
    OutboundMark,
)
from receptionist.telephony import media_streams as tp
from receptionist.telephony.connection import MediaConnection, TwilioStats
from receptionist.turns.cancellation import TurnCancellation
from receptionist.turns.latency import stage_latencies_ms

log = structlog.get_logger()

FRAME_SECONDS = FRAME_MS / 1000
CLEAR_TIMEOUT_S = 1.0
"""A clear or close that cannot be sent in this long will not matter any more."""
ROUNDING_S = 1e-9


class PlaybackClock:
    """Where Twilio's playback of what we sent will be, so we send just ahead of it.

    Sending faster than real time would fill Twilio's buffer with audio a barge-in must then
    clear; sending exactly at real time risks gaps. ``send_ahead`` is the margin: a media
    message goes out once Twilio holds no more than the margin, so it then holds between
    ``send_ahead`` and ``send_ahead`` plus one message (``[twilio] media_message_ms``).
    """

    def __init__(self, send_ahead: float) -> None:
        self._send_ahead = send_ahead
        self._played_until = 0.0

    def next_send_time(self, now: float) -> float:
        due = self._played_until - self._send_ahead
        # The tolerance absorbs float error in sums of 20 ms steps.
        return now if due <= now + ROUNDING_S else due

    def sent(self, now: float, frames: int) -> None:
        self._played_until = max(self._played_until, now) + frames * FRAME_SECONDS

    def cleared(self) -> None:
        self._played_until = 0.0

    def ran_dry(self, now: float) -> bool:
        """Twilio has played everything we sent (a gap, if more of the turn follows)."""
        return now > self._played_until


class TwilioWriter:
    """Sends a turn's frames in media messages of up to ``message_frames`` each: one socket
    send (and one pacing wake) per message instead of per 20 ms frame, which is what they
    cost. A message takes only frames already queued, of one turn, up to the next mark or
    clear: it never waits for audio, and marks and ``clear`` go out where they did."""

    def __init__(
        self,
        connection: MediaConnection,
        stream_sid: str,
        turns: TurnCancellation,
        stats: TwilioStats,
        reading: trio.CancelScope,
        *,
        send_ahead: float,
        message_frames: int,
    ) -> None:
        self._reading = reading
        self._connection = connection
        self._stream_sid = stream_sid
        self._turns = turns
        self._clock = PlaybackClock(send_ahead)
        self._message_frames = message_frames
        self._stats = stats
        self._turn_started: set[int] = set()
        self._sentence_due: set[int] = set()
        """Turns whose next frame begins one of their later sentences (``turn.sentence``)."""
        self._media = tp.MediaMessages(stream_sid)
        self._costs = frame_costs.current()
        self._taken: Outbound | None = None
        """Taken from the channel while filling a message, but not of it: handled next."""
        self.observe: Callable[[object, float], None] = lambda _message, _at: None

    async def run(
        self,
        outbound: trio.MemoryReceiveChannel[Outbound],
        stream_ended: trio.Event,
        on_end: Callable[[EndCall], Awaitable[None]],
    ) -> None:
        with outbound:
            while (item := await self._next(outbound)) is not None:
                if stream_ended.is_set():
                    self._stats.frames_discarded += isinstance(item, OutboundAudio)
                    continue
                try:
                    await self._handle(item, outbound, stream_ended, on_end)
                except CallDisconnected:
                    stream_ended.set()

    async def _next(self, outbound: trio.MemoryReceiveChannel[Outbound]) -> Outbound | None:
        if (taken := self._taken) is not None:
            self._taken = None
            return taken
        return await _next(outbound)

    async def _handle(
        self,
        item: Outbound,
        outbound: trio.MemoryReceiveChannel[Outbound],
        stream_ended: trio.Event,
        on_end: Callable[[EndCall], Awaitable[None]],
    ) -> None:
        match item:
            case OutboundAudio():
                await self._send_audio(item, outbound)
            case OutboundMark(turn_id=turn_id, name=name):
                if self._turns.is_held(turn_id):
                    await self._turns.wait_released(turn_id)
                if not self._turns.is_cancelled(turn_id):
                    await self._connection.send(tp.mark_message(self._stream_sid, name))
                    self._stats.marks_out += 1
                    self._sentence_due.add(turn_id)
                    self.observe(item, trio.current_time())
            case ClearAudio():
                await self._clear(item)
            case EndCall():
                self.observe(item, trio.current_time())
                await on_end(item)
                stream_ended.set()
                await self._close()
                self._reading.cancel()

    async def _send_audio(
        self, first: OutboundAudio, outbound: trio.MemoryReceiveChannel[Outbound]
    ) -> None:
        if not await self._frame_due(first.turn_id):
            self._stats.frames_discarded += 1
            return
        # No checkpoint between the check above and taking the frames: none is cancelled.
        frames = self._fill_message(first, outbound)
        began = perf_counter_ns()
        message = self._media.encode(b"".join(frame.ulaw for frame in frames))
        self._costs.outbound_encode_ns += perf_counter_ns() - began
        self._costs.outbound_encode_frames += len(frames)
        await self._connection.send(message)
        now = trio.current_time()
        if first.turn_id in self._turn_started and self._clock.ran_dry(now):
            self._stats.frames_late += 1
        self._clock.sent(now, len(frames))
        self._stats.frames_out += len(frames)
        self._stats.messages_out += 1
        for frame in frames:
            self.observe(frame, now)
        if first.turn_id not in self._turn_started:
            self._turn_started.add(first.turn_id)
            self._turns.audible(first.turn_id)
            log.info("turn", turn_id=first.turn_id, **stage_latencies_ms(first.timings, now))
        elif first.turn_id in self._sentence_due:
            # When a later sentence began to reach the caller (a message never crosses the
            # mark before it, so it starts this message): after a holding line ("Let me
            # check."), the answer proper, whose latency the turn's first frame does not show.
            self._sentence_due.discard(first.turn_id)
            total_ms = stage_latencies_ms(first.timings, now)["total_ms"]
            log.info("turn.sentence", turn_id=first.turn_id, total_ms=total_ms)

    def _fill_message(
        self, first: OutboundAudio, outbound: trio.MemoryReceiveChannel[Outbound]
    ) -> list[OutboundAudio]:
        """``first`` and the frames of its turn already queued behind it, up to a message."""
        frames = [first]
        while len(frames) < self._message_frames:
            try:
                item = outbound.receive_nowait()
            except (trio.WouldBlock, trio.EndOfChannel):  # the next receive sees it again
                break
            if not (isinstance(item, OutboundAudio) and item.turn_id == first.turn_id):
                self._taken = item
                break
            frames.append(item)
        return frames

    async def _frame_due(self, turn_id: int) -> bool:
        """Wait for the next message's slot (and, while its turn is held, for its release);
        False if its turn is cancelled first."""
        while not self._turns.is_cancelled(turn_id):
            if self._turns.is_held(turn_id):
                await self._turns.wait_released(turn_id)
                continue
            now = trio.current_time()
            if (send_at := self._clock.next_send_time(now)) <= now:
                return True
            await trio.sleep_until(send_at)
            self._woke(trio.current_time() - send_at)  # then a barge-in or hold may have come
        return False

    def _woke(self, late: float) -> None:
        self._stats.wakes += 1
        self._stats.wakes_late += late > FRAME_SECONDS
        self._stats.wake_late_max_ms = max(self._stats.wake_late_max_ms, round(late * 1000, 1))

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


async def _next(outbound: trio.MemoryReceiveChannel[Outbound]) -> Outbound | None:
    """The next item, None once its senders have closed. What is already queued is taken
    without a round of the event loop per frame (sending it awaits the socket anyway)."""
    try:
        return outbound.receive_nowait()
    except trio.WouldBlock:
        pass
    except trio.EndOfChannel:
        return None
    try:
        return await outbound.receive()
    except trio.EndOfChannel:
        return None


def _ms_since(at: float) -> float:
    return round((trio.current_time() - at) * 1000, 1)
