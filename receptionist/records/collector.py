"""One call's record, collected from the messages its actors already exchange.

``CallRecording.observe`` is called synchronously on the call's hot path (the supervisor's
tap on the Dialogue's inbox, and TwilioIO for what reached Twilio), so it only appends to
small lists and, once a second, hands a chunk of audio to the recorder with ``send_nowait``:
it never waits, and what the recorder cannot take is dropped and counted.

The recording is what the caller heard (``tracks.Tracks``). Log events no message carries
(tool calls, fallbacks, provider errors) reach the record through ``logs.record_call_events``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import structlog
import trio

from receptionist.messages import (
    SAMPLE_RATE,
    CallStarted,
    CallStopped,
    ClearAudio,
    EndCall,
    InboundAudio,
    MarkPlayed,
    OutboundAudio,
    OutboundMark,
    SpeechStarted,
    Transcript,
)
from receptionist.records.tracks import Tracks
from receptionist.scheduling.messages import (
    BookingCancelled,
    BookingConfirmed,
    BookingMoved,
    MessageSaved,
)
from receptionist.turns.latency import stage_latencies_ms

log = structlog.get_logger()

LOGGED_EVENTS = frozenset({
    "dialogue.preemptive", "llm.tool_call", "llm.fallback", "llm.retry", "llm.tool_timeout",
    "tts.fallback", "deepgram.reconnecting", "deepgram.error", "scheduler.store_unavailable",
    "listener.recognition_failed", "dialogue.barge_in", "call.crashed", "call.escalated",
    "call.message_taken",
})  # fmt: skip
"""Log events a record keeps (``logs.record_call_events`` shows it every event logged in
the call): what no message carries."""
MAX_EVENTS = 500


@dataclass(frozen=True, slots=True)
class AudioChunk:
    call_sid: str
    caller: bytes
    agent: bytes
    """Both mu-law, the same length."""


@dataclass(frozen=True, slots=True)
class CallFinished:
    call_sid: str
    record: Mapping[str, Any]


RecorderMessage = AudioChunk | CallFinished


class CallRecording:
    def __init__(
        self,
        send: Callable[[RecorderMessage], bool],
        *,
        record_audio: bool,
        max_samples: int,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self._send = send
        self._record_audio = record_audio
        self._max_samples = max_samples
        self._wall_clock = wall_clock
        self.dropped = 0
        self._record: dict[str, Any] = {
            "call_sid": "", "stream_sid": "", "caller": "", "lines": [], "turns": [],
            "barge_ins": [], "bookings": [], "events": [], "outcome": "",
        }  # fmt: skip
        self._t0 = 0.0
        self._started_wall = 0.0
        self._speech_started: float | None = None
        self._sentence_started: float | None = None
        self._turns_seen: set[int] = set()
        self._audio = Tracks()

    @property
    def call_sid(self) -> str:
        return str(self._record["call_sid"])

    def observe(self, message: object, at: float | None = None) -> None:
        """One message a call's actor sent or received; ``at`` when it reached Twilio."""
        now = trio.current_time() if at is None else at
        match message:
            case InboundAudio(ulaw=ulaw):
                self._audio.caller(ulaw)
                self._flush(final=False)
            case OutboundAudio():
                self._agent_frame(message, now)
            case CallStarted():
                self._started(message)
            case SpeechStarted(at=started):
                self._speech_started = started
            case Transcript(is_final=True, text=text) if text.strip():
                self._caller_line(message, text)
            case OutboundMark():
                self._agent_line(message, now)
            case MarkPlayed(name=name):
                # Twilio echoes a cleared sentence's mark too: that one stays cut off.
                for line in self._record["lines"]:
                    if line.get("mark") == name and not line["cut_off"]:
                        line["heard"] = True
            case ClearAudio(turn_id=turn_id, at=cleared_at):
                self._cleared(turn_id, cleared_at, now)
            case EndCall(reason=reason):
                self._record["outcome"] = self._record["outcome"] or reason.value
            case CallStopped():
                self._record["outcome"] = self._record["outcome"] or "hung up"
            case BookingConfirmed() | BookingMoved() | BookingCancelled():
                self._booking(message)
            case MessageSaved(message_id=message_id, message=saved):
                self._record["message"] = {
                    "id": message_id, "name": saved.name, "phone": saved.phone,
                    "about": saved.about, "reason": saved.reason.value,
                }  # fmt: skip

    def log_event(self, event: Mapping[str, Any], record_only: Mapping[str, Any] | None) -> None:
        """An event logged in the call (``logs.CallEventSink``): kept if it is one no message
        carries (tool calls, fallbacks, provider errors), with its ``record_only`` detail."""
        if event.get("event") not in LOGGED_EVENTS or len(self._record["events"]) >= MAX_EVENTS:
            return
        kept = {k: v for k, v in event.items() if k not in ("call_sid", "stream_sid", "level")}
        kept.update(record_only or {})
        kept["at_s"] = self._seconds(trio.current_time())
        self._record["events"].append(json_safe(kept))

    def finish(self, *, crashed: bool) -> None:
        """The call is over: the last audio and the record go to the recorder."""
        if crashed:
            self._record["outcome"] = "error"
        self._record["outcome"] = self._record["outcome"] or "hung up"
        self._flush(final=True)
        for line in self._record["lines"]:
            line.pop("mark", None)
        self._record["ended_at"] = self._wall_clock()
        self._record["audio_seconds"] = round(self._audio.written / SAMPLE_RATE, 2)
        self._record["audio_truncated"] = self._audio.written >= self._max_samples
        self._record["dropped"] = self.dropped
        if self._record["call_sid"]:
            self._post(CallFinished(self.call_sid, self._record))

    def _started(self, started: CallStarted) -> None:
        self._t0 = started.at
        self._started_wall = self._wall_clock()
        self._record.update(
            call_sid=started.call_sid, stream_sid=started.stream_sid,
            caller=started.caller or "", started_at=self._started_wall,
        )  # fmt: skip

    def _caller_line(self, transcript: Transcript, text: str) -> None:
        start = self._speech_started if self._speech_started is not None else transcript.at
        end = transcript.speech_ended_at or transcript.at
        self._record["lines"].append({
            "who": "caller", "text": text, "start_s": self._seconds(start),
            "end_s": self._seconds(end), "heard": True, "cut_off": False,
        })  # fmt: skip
        self._speech_started = None

    def _agent_frame(self, frame: OutboundAudio, now: float) -> None:
        self._audio.agent(frame.ulaw)
        if self._sentence_started is None:
            self._sentence_started = now
        if frame.turn_id not in self._turns_seen:
            self._turns_seen.add(frame.turn_id)
            self._record["turns"].append({
                "turn_id": frame.turn_id, "at_s": self._seconds(now),
                **stage_latencies_ms(frame.timings, now),
            })  # fmt: skip
        self._flush(final=False)

    def _agent_line(self, mark: OutboundMark, now: float) -> None:
        start = self._sentence_started if self._sentence_started is not None else now
        self._sentence_started = None
        self._record["lines"].append({
            "who": "agent", "text": mark.text, "turn_id": mark.turn_id, "mark": mark.name,
            "start_s": self._seconds(start), "end_s": self._seconds(now),
            "heard": False, "cut_off": False,
        })  # fmt: skip

    def _cleared(self, turn_id: int, decided_at: float, now: float) -> None:
        self._audio.clear()
        if self._sentence_started is not None:  # a sentence cut before its mark: no text
            self._record["lines"].append({
                "who": "agent", "text": "", "turn_id": turn_id, "heard": False,
                "start_s": self._seconds(self._sentence_started), "end_s": self._seconds(now),
                "cut_off": True,
            })  # fmt: skip
            self._sentence_started = None
        for line in self._record["lines"]:
            if line["who"] == "agent" and line.get("turn_id", -1) <= turn_id and not line["heard"]:
                line["cut_off"] = True
        reaction = None
        if self._speech_started is not None:
            reaction = round((decided_at - self._speech_started) * 1000, 1)
        self._record["barge_ins"].append(
            {"turn_id": turn_id, "at_s": self._seconds(decided_at), "reaction_ms": reaction}
        )

    def _booking(self, reply: BookingConfirmed | BookingMoved | BookingCancelled) -> None:
        kind = {BookingConfirmed: "booked", BookingMoved: "moved", BookingCancelled: "cancelled"}
        appointment = reply.appointment
        self._record["bookings"].append({
            "change": kind[type(reply)], "id": appointment.id,
            "start": appointment.start.isoformat(), "end": appointment.end.isoformat(),
            "service": appointment.service, "name": appointment.name,
            "reason": appointment.reason, "practitioner": appointment.practitioner,
        })  # fmt: skip

    def _flush(self, *, final: bool) -> None:
        if not self._record_audio or not self._record["call_sid"]:
            return
        chunk = self._audio.take(final=final, limit=self._max_samples)
        if chunk is not None:
            self._post(AudioChunk(self.call_sid, *chunk))

    def _post(self, message: RecorderMessage) -> None:
        if not self._send(message):
            self.dropped += 1

    def _seconds(self, at: float) -> float:
        return round(max(at - self._t0, 0.0), 3)


def json_safe(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)
