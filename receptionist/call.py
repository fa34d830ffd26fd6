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

from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, replace
from datetime import datetime
from functools import partial

import structlog
import trio

from receptionist.calendar.busy import BusyTimes
from receptionist.call_outcomes import fallback_outcome, save_outcome
from receptionist.config import Config
from receptionist.drain import GOING_AWAY, say_goodbye
from receptionist.engines.fallback import FallbackSpeechEngine
from receptionist.engines.tts import SpeechEngine
from receptionist.errors import (
    CallDisconnected,
    ProtocolError,
    StreamRejected,
    TwilioProtocolError,
)
from receptionist.frame_costs import FrameCosts, counting
from receptionist.llm.client import LlmClient
from receptionist.logs import current_recording, mask_phone
from receptionist.messages import (
    DialogueEvent,
    EndCall,
    EndReason,
    InboundAudio,
    ListenFor,
    Outbound,
    Sentence,
)
from receptionist.records.collector import CallRecording
from receptionist.records.recorder import Recorder
from receptionist.records.tap import run_tap
from receptionist.scheduling.messages import SchedulerRequest
from receptionist.scheduling.store import AppointmentStore
from receptionist.staff.briefing import CallFacts
from receptionist.telephony import media_streams as tp
from receptionist.telephony.connection import MediaConnection
from receptionist.telephony.stream_tokens import StreamTokens
from receptionist.telephony.transfers import RESUME_PARAMETER
from receptionist.turns.cancellation import TurnCancellation
from stages.dialogue import run_dialogue
from stages.listener import ListenerEngines, run_listener
from stages.scheduler import run_scheduler
from stages.synthesizer import run_synthesizer
from stages.twilio_io import run_twilio_io

log = structlog.get_logger()

START_TIMEOUT_S = 10.0
"""Twilio sends ``connected`` and ``start`` right after the upgrade; a silent peer is not it."""
CLOSE_TIMEOUT_S = 1.0
POLICY_VIOLATION = 1008
HUNG_UP = "hung_up"
"""``call.end``'s outcome when the caller (or the network) ended the call."""
DRAINED = "drained"
"""``call.end``'s outcome when the server's drain deadline ended the call (drain.py)."""


@dataclass(frozen=True)
class CallServices:
    """What every call shares, built once per process at start-up."""

    config: Config
    speech: SpeechEngine
    new_listener_engines: Callable[[], Awaitable[ListenerEngines]]
    """Each call's own VAD state and recogniser."""
    store: AppointmentStore
    now: Callable[[], datetime]
    stream_tokens: StreamTokens
    llm: LlmClient | None = None
    """The open LLM client when engines.dialogue is "openai" (``open_services`` opens it)."""
    records: Recorder | None = None
    """Where each call's record goes ([records] enabled; ``serve_app`` starts it)."""

    def speech_for_call(self) -> SpeechEngine:
        """This call's voice: a cloud voice's circuit breaker is the call's own."""
        if isinstance(self.speech, FallbackSpeechEngine):
            return self.speech.for_call()
        return self.speech

    busy: BusyTimes | None = None
    """The clinic calendar's busy times when ``[calendar]`` is one (``open_services``)."""


async def serve_call(
    connection: MediaConnection, services: CallServices, ending: trio.CancelScope | None = None
) -> None:
    """Run one call on an accepted Media Streams WebSocket, from ``start`` to hang-up.

    ``ending``: cancelled, it ends the call politely (the drain's deadline, drain.py).
    """
    try:
        with trio.fail_after(START_TIMEOUT_S):
            stream = await wait_for_start(connection, services.stream_tokens)
    except (ProtocolError, trio.TooSlowError, CallDisconnected) as exc:
        log.warning("call.rejected", error=str(exc) or type(exc).__name__)
        await _close(connection, POLICY_VIOLATION)
        return
    with structlog.contextvars.bound_contextvars(
        call_sid=stream.call_sid, stream_sid=stream.stream_sid
    ):
        await _supervise(connection, stream, services, ending or trio.CancelScope())


async def refuse_while_draining(connection: MediaConnection, services: CallServices) -> None:
    """A stream that reached a draining server (drain.py): close it (1001, going away) and
    have /call-ended, wherever Twilio asks it, start the call again on another server."""
    try:
        with trio.fail_after(START_TIMEOUT_S):
            stream = await wait_for_start(connection, services.stream_tokens)
    except (ProtocolError, trio.TooSlowError, CallDisconnected) as exc:
        log.warning("call.rejected", error=str(exc) or type(exc).__name__)
        await _close(connection, POLICY_VIOLATION)
        return
    log.warning("call.refused_draining", call_sid=stream.call_sid)
    await save_outcome(services.store, stream.call_sid, EndCall(EndReason.RETRY))
    await _close(connection, GOING_AWAY)


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


async def run_call(
    connection: MediaConnection,
    stream: tp.StreamStart,
    services: CallServices,
    *,
    recording: CallRecording | None = None,
    on_end: Callable[[EndCall], Awaitable[None]] | None = None,
    observe: Callable[[object], None] | None = None,
) -> None:
    """Wire the five actors of one call and run them until the call ends.

    ``recording`` sees the Dialogue's inbox and what TwilioIO exchanges with Twilio;
    ``observe`` sees the Dialogue's inbox too (a transfer's facts);
    ``on_end`` is told how the call ended when the Dialogue ends it (by default the outcome
    is saved for /call-ended).
    """
    if on_end is None:
        on_end = partial(save_outcome, services.store, stream.call_sid)
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
                inbox = events_recv
                observers = [o for o in (recording and recording.observe, observe) if o]
                if observers:
                    tap_send, inbox = trio.open_memory_channel[DialogueEvent](0)
                    await nursery.start(run_tap, events_recv, tap_send, partial(_show, observers))
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
                        engine=services.speech_for_call(),
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
                        inbox,
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
                        on_end=on_end,
                        observe=recording.observe if recording else lambda _m, _at: None,
                    )
                )
    finally:
        log.info("call.channels", **{n: _stats(c) for n, c in receivers.items()})


def _show(observers: list[Callable[[object], None]], message: object) -> None:
    for observe in observers:
        observe(message)


def _stats(channel: trio.MemoryReceiveChannel[object]) -> dict[str, int]:
    stats = channel.statistics()
    return {"buffered": stats.current_buffer_used, "size": int(stats.max_buffer_size)}


async def _close(connection: MediaConnection, code: int) -> None:
    with trio.move_on_after(CLOSE_TIMEOUT_S, shield=True):
        try:
            await connection.close(code)
        except Exception as exc:  # the socket may already be gone; nothing more to do
            log.debug("call.close_failed", error=repr(exc))
