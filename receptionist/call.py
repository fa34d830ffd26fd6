"""The call supervisor: one trio nursery of actors per call, and the call's error boundary.

::

    Twilio WS <-> TwilioIO --audio--> Listener --speech/transcripts--> Dialogue <-> Scheduler
                     ^  `--marks, dtmf, stop-------------------------------^  |
                     `---- audio + marks, clear <--- Synthesizer <-- sentences'

It opens every channel, starts every actor with ``nursery.start`` (TwilioIO last, so no
audio is read before everything downstream is ready), binds ``call_sid``/``stream_sid`` to
every log line of the call, and turns whatever escapes the actors into a logged, contained
end of this one call: the server and every other call go on.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from functools import partial

import structlog
import trio

from receptionist.calendar.busy import BusyTimes
from receptionist.config import Config
from receptionist.engines.tts import SpeechEngine
from receptionist.errors import CallDisconnected, ProtocolError, StreamRejected, TwilioProtocolError
from receptionist.llm.client import LlmClient
from receptionist.messages import (
    DialogueEvent,
    EndCall,
    EndReason,
    InboundAudio,
    ListenFor,
    Outbound,
    Sentence,
)
from receptionist.scheduling.messages import SchedulerRequest
from receptionist.scheduling.store import AppointmentStore
from receptionist.telephony import media_streams as tp
from receptionist.telephony.webhooks import is_valid_stream_token
from receptionist.turns.cancellation import TurnCancellation
from stages.dialogue import run_dialogue
from stages.listener import ListenerEngines, run_listener
from stages.scheduler import run_scheduler
from stages.synthesizer import run_synthesizer
from stages.twilio_io import MediaConnection, run_twilio_io

log = structlog.get_logger()

START_TIMEOUT_S = 10.0
"""Twilio sends ``connected`` and ``start`` right after the upgrade; a silent peer is not it."""
CLOSE_TIMEOUT_S = 1.0
MAX_REMEMBERED_OUTCOMES = 1000
"""Outcomes wait only for Twilio's /call-ended request, seconds after the stream ends."""
POLICY_VIOLATION = 1008


class CallOutcomes:
    """How recent calls ended, for the /call-ended webhook. Bounded: oldest forgotten."""

    def __init__(self, capacity: int = MAX_REMEMBERED_OUTCOMES) -> None:
        self._capacity = capacity
        self._outcomes: OrderedDict[str, EndCall] = OrderedDict()

    def record(self, call_sid: str, outcome: EndCall) -> None:
        self._outcomes[call_sid] = outcome
        self._outcomes.move_to_end(call_sid)
        while len(self._outcomes) > self._capacity:
            self._outcomes.popitem(last=False)

    def pop(self, call_sid: str) -> EndCall | None:
        return self._outcomes.pop(call_sid, None)


@dataclass(frozen=True)
class CallServices:
    """What every call shares, built once per process at start-up."""

    config: Config
    speech: SpeechEngine
    new_listener_engines: Callable[[], Awaitable[ListenerEngines]]
    """Each call's own VAD state and recogniser."""
    store: AppointmentStore
    now: Callable[[], datetime]
    stream_secret: bytes
    outcomes: CallOutcomes
    llm: LlmClient | None = None
    """The open LLM client when engines.dialogue is "openai" (``open_services`` opens it)."""
    busy: BusyTimes | None = None
    """The clinic calendar's busy times when ``[calendar]`` is one (``open_services``)."""


async def serve_call(connection: MediaConnection, services: CallServices) -> None:
    """Run one call on an accepted Media Streams WebSocket, from ``start`` to hang-up."""
    try:
        with trio.fail_after(START_TIMEOUT_S):
            stream = await wait_for_start(connection, services.stream_secret)
    except (ProtocolError, trio.TooSlowError, CallDisconnected) as exc:
        log.warning("call.rejected", error=str(exc) or type(exc).__name__)
        await _close(connection, POLICY_VIOLATION)
        return
    with structlog.contextvars.bound_contextvars(
        call_sid=stream.call_sid, stream_sid=stream.stream_sid
    ):
        await _supervise(connection, stream, services)


async def wait_for_start(connection: MediaConnection, secret: bytes) -> tp.StreamStart:
    """Read up to the ``start`` message and check it came through our own webhook.

    Raises:
        TwilioProtocolError: a malformed first message or an unsupported media format.
        StreamRejected: no valid stream token.
    """
    while True:
        event = tp.parse_message(await connection.receive())
        if isinstance(event, tp.Connected):
            continue
        if not isinstance(event, tp.StreamStart):
            raise TwilioProtocolError(f"expected 'start', got {type(event).__name__}")
        tp.check_media_format(event)
        if not is_valid_stream_token(secret, event.call_sid, event.parameters):
            raise StreamRejected("media stream without a valid token from /incoming-call")
        return event


async def _supervise(
    connection: MediaConnection, stream: tp.StreamStart, services: CallServices
) -> None:
    started = trio.current_time()
    log.info("call.start", caller=mask_phone(stream.parameters.get("caller")))
    try:
        await run_call(connection, stream, services)
    except* Exception as group:
        # The one error boundary of the call: log it, hand the caller to a person if we
        # can, and let every other call carry on.
        log.error("call.crashed", exc_info=group)
        services.outcomes.record(stream.call_sid, _fallback_outcome(services.config))
        await _close(connection, 1011)
    finally:
        log.info("call.end", seconds=round(trio.current_time() - started, 2))


def _fallback_outcome(config: Config) -> EndCall:
    return EndCall(EndReason.ERROR, transfer_to=config.clinic.transfer_number or None)


async def run_call(
    connection: MediaConnection, stream: tp.StreamStart, services: CallServices
) -> None:
    """Wire the five actors of one call and run them until the call ends."""
    config, buffers = services.config, services.config.buffers
    turns = TurnCancellation()
    audio_send, audio_recv = trio.open_memory_channel[InboundAudio](buffers.inbound_audio_frames)
    events_send, events_recv = trio.open_memory_channel[DialogueEvent](buffers.dialogue_events)
    hints_send, hints_recv = trio.open_memory_channel[ListenFor](buffers.hints)
    sentences_send, sentences_recv = trio.open_memory_channel[Sentence](buffers.sentences)
    outbound_send, outbound_recv = trio.open_memory_channel[Outbound](buffers.outbound_frames)
    requests_send, requests_recv = trio.open_memory_channel[SchedulerRequest](buffers.scheduler)
    receivers: dict[str, trio.MemoryReceiveChannel[object]] = {
        "inbound_audio": audio_recv,
        "dialogue_events": events_recv,
        "sentences": sentences_recv,
        "outbound": outbound_recv,
    }
    try:
        async with trio.open_nursery() as nursery:
            # The originals close once every actor holds its own clone.
            with events_send, outbound_send:
                await nursery.start(
                    partial(
                        run_scheduler,
                        requests_recv,
                        events_send.clone(),
                        store=services.store,
                        busy=services.busy,
                    )
                )
                await nursery.start(
                    partial(
                        run_synthesizer,
                        sentences_recv,
                        outbound_send.clone(),
                        engine=services.speech,
                        turns=turns,
                    )
                )
                await nursery.start(
                    partial(
                        run_listener,
                        audio_recv,
                        hints_recv,
                        events_send.clone(),
                        engines=await services.new_listener_engines(),
                    )
                )
                await nursery.start(
                    partial(
                        run_dialogue,
                        events_recv,
                        sentences_send,
                        outbound_send.clone(),
                        hints_send,
                        requests_send,
                        config=config,
                        turns=turns,
                        now=services.now,
                        llm=services.llm,
                    )
                )
                await nursery.start(
                    partial(
                        run_twilio_io,
                        connection,
                        stream,
                        audio_send,
                        events_send.clone(),
                        outbound_recv,
                        turns=turns,
                        send_ahead=config.twilio.send_ahead_ms / 1000,
                        on_end=partial(services.outcomes.record, stream.call_sid),
                    )
                )
    finally:
        log.info("call.channels", **{n: _stats(c) for n, c in receivers.items()})


def _stats(channel: trio.MemoryReceiveChannel[object]) -> dict[str, int]:
    stats = channel.statistics()
    return {"buffered": stats.current_buffer_used, "size": int(stats.max_buffer_size)}


async def _close(connection: MediaConnection, code: int) -> None:
    with trio.move_on_after(CLOSE_TIMEOUT_S, shield=True):
        try:
            await connection.close(code)
        except Exception as exc:  # the socket may already be gone; nothing more to do
            log.debug("call.close_failed", error=repr(exc))


def mask_phone(number: str | None) -> str | None:
    """Keep only the last four digits of a phone number for the logs."""
    if not number:
        return number
    return "*" * max(len(number) - 4, 0) + number[-4:]
