"""The call supervisor: one trio nursery of actors per call.

::

    Twilio WS <-> TwilioIO --audio--> Listener --speech/transcripts--> Dialogue <-> Scheduler
                     ^  `--marks, dtmf, stop-------------------------------^  |
                     `---- audio + marks, clear <--- Synthesizer <-- sentences'

It opens every channel and starts every actor with ``nursery.start`` (TwilioIO last, so no
audio is read before everything downstream is ready). A stream's admission and the call's
error boundary, around it, are in call_stream.py.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from functools import partial

import structlog
import trio

from receptionist.calendar.busy import BusyTimes
from receptionist.call_outcomes import save_outcome
from receptionist.config import Config
from receptionist.engines.fallback import FallbackSpeechEngine
from receptionist.engines.tts import SpeechEngine
from receptionist.llm.client import LlmClient
from receptionist.messages import (
    FRAME_MS,
    DialogueEvent,
    EndCall,
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
from receptionist.telephony import media_streams as tp
from receptionist.telephony.connection import MediaConnection
from receptionist.telephony.stream_tokens import StreamTokens
from receptionist.turns.cancellation import TurnCancellation
from stages.dialogue import run_dialogue
from stages.listener import ListenerEngines, run_listener
from stages.scheduler import run_scheduler
from stages.synthesizer import run_synthesizer
from stages.twilio_io import run_twilio_io

log = structlog.get_logger()


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
                        settle_ms=config.turn_taking.settle_ms,
                        settle_max_ms=config.turn_taking.settle_max_ms,
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
                        message_frames=config.twilio.media_message_ms // FRAME_MS,
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
