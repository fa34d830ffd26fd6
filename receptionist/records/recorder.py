"""The recorder: one actor per process that writes every call's record and recording.

Calls hand it messages with ``send_nowait`` (``Recorder.start_call``): a full queue drops
and counts, never waits. It writes in a worker thread, one message at a time; a failure
is logged and the next message is written. A daily sweep deletes records and recordings
older than ``[records] keep_days``.
"""

from __future__ import annotations

import time
import wave
from collections.abc import Awaitable, Callable, Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

import structlog
import trio

from receptionist.config import Config
from receptionist.errors import StoreUnavailable
from receptionist.messages import SAMPLE_RATE
from receptionist.records.collector import (
    AudioChunk,
    CallFinished,
    CallRecording,
    RecorderMessage,
)
from receptionist.records.store import CallSummary, Notice, RecordStore, recordings_folder
from receptionist.records.wav import open_recording, stereo_pcm
from receptionist.staff.report import compose_report
from receptionist.staff.webhook import REPORT_TOPIC, report_key, webhook_configured

log = structlog.get_logger()

SWEEP_EVERY_S = timedelta(days=1).total_seconds()
DRAIN_TIMEOUT_S = 5.0
SUMMARIES_AT_ONCE = 8
"""Calls whose summaries are asked for at once; more wait (their records wait with them)."""
LLM_SUMMARY = "llm_summary"
"""The model's summary, handed to the writer in the record (it goes into the report)."""
Summarise = Callable[[Mapping[str, Any]], Awaitable[str]]


class Recorder:
    """The calls' side of the recorder: a bounded queue, never waited on."""

    def __init__(self, config: Config, send: trio.MemorySendChannel[RecorderMessage]) -> None:
        self._config = config.records
        self._send = send
        self.dropped = 0

    def start_call(self) -> CallRecording:
        return CallRecording(
            self._offer,
            record_audio=self._config.record_audio,
            max_samples=self._config.max_recording_minutes * 60 * SAMPLE_RATE,
        )

    def _offer(self, message: RecorderMessage) -> bool:
        try:
            self._send.send_nowait(message)
        except (trio.WouldBlock, trio.BrokenResourceError, trio.ClosedResourceError):
            self.dropped += 1
            return False
        return True


async def run_recorder(
    config: Config,
    summarise: Summarise | None = None,
    *,
    task_status: trio.TaskStatus[Recorder] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Write records until cancelled; reports the Recorder calls use.

    ``summarise``: the LLM brain's summary of a finished call (staff/summary.py), asked
    for in a task of its own (at most ``SUMMARIES_AT_ONCE``) while other calls' audio is
    written; the record is written once it answers (or gives up, or the recorder stops).
    """
    store = RecordStore(config)
    try:
        await trio.to_thread.run_sync(store.open)
    except StoreUnavailable as exc:  # calls go on; each write tries again and logs
        log.error("records.unavailable", error=str(exc))
    writer = RecordWriter(
        store, recordings_folder(config),
        report_topic=REPORT_TOPIC if webhook_configured(config) else None,
    )  # fmt: skip
    one_writer = trio.Lock()  # the writer is used by one thread at a time

    async def write(message: RecorderMessage) -> None:
        async with one_writer:
            await trio.to_thread.run_sync(writer.write, message)

    send, receive = trio.open_memory_channel[RecorderMessage](config.records.queue)
    try:
        async with trio.open_nursery() as nursery:
            if config.records.keep_days:
                nursery.start_soon(_sweep_daily, writer, config.records.keep_days)
            task_status.started(Recorder(config, send))
            summaries = trio.CapacityLimiter(SUMMARIES_AT_ONCE)
            async for message in receive:
                if summarise is not None and isinstance(message, CallFinished):
                    nursery.start_soon(_summarised, message, summarise, summaries, write)
                else:
                    await write(message)
    finally:
        # Calls ending as the server stops hand in their records as it is cancelled.
        with trio.move_on_after(DRAIN_TIMEOUT_S, shield=True):
            await trio.to_thread.run_sync(writer.drain, _queued(receive))
        receive.close()


async def _summarised(
    finished: CallFinished,
    summarise: Summarise,
    summaries: trio.CapacityLimiter,
    write: Callable[[RecorderMessage], Awaitable[None]],
) -> None:
    """Write a finished call's record with the model's summary, or without it: the record
    is written even when the recorder is stopped meanwhile."""
    summary = ""
    try:
        async with summaries:
            summary = await summarise(finished.record)
    finally:
        record = {**finished.record, LLM_SUMMARY: summary} if summary else finished.record
        with trio.move_on_after(DRAIN_TIMEOUT_S, shield=True):
            await write(CallFinished(finished.call_sid, record))


def _queued(receive: trio.MemoryReceiveChannel[RecorderMessage]) -> list[RecorderMessage]:
    queued = []
    while True:
        try:
            queued.append(receive.receive_nowait())
        except (trio.WouldBlock, trio.EndOfChannel, trio.ClosedResourceError):
            return queued


async def _sweep_daily(writer: RecordWriter, keep_days: int) -> None:
    while True:
        cutoff = time.time() - keep_days * 86400
        await trio.to_thread.run_sync(writer.sweep, cutoff)
        await trio.sleep(SWEEP_EVERY_S)


class RecordWriter:
    """Blocking: one thread at a time. Every failure is logged and survived."""

    def __init__(
        self, store: RecordStore, folder: Path, *, report_topic: str | None = None
    ) -> None:
        """``report_topic``: each call's report also goes to this outbox topic (the webhook)."""
        self._store = store
        self._folder = folder
        self._report_topic = report_topic
        self._open: dict[str, tuple[str, wave.Wave_write]] = {}

    def write(self, message: RecorderMessage) -> None:
        try:
            match message:
                case AudioChunk():
                    self._append(message)
                case CallFinished():
                    self._finish(message)
        except Exception as exc:  # a record is never worth a crash; the next one may work
            log.error("records.write_failed", call_sid=message.call_sid, error=repr(exc))

    def sweep(self, cutoff: float) -> int:
        """Delete what started before ``cutoff`` (epoch seconds); how many recordings went."""
        try:
            paths = self._store.delete_before(cutoff)
        except Exception as exc:
            log.error("records.sweep_failed", error=repr(exc))
            return 0
        for relative in paths:
            (self._folder / relative).unlink(missing_ok=True)
        log.info("records.swept", recordings=len(paths))
        return len(paths)

    def drain(self, queued: list[RecorderMessage]) -> None:
        """Write what is still queued, then close every recording still open."""
        for message in queued:
            self.write(message)
        for _name, recording in self._open.values():
            recording.close()
        self._open.clear()

    def _append(self, chunk: AudioChunk) -> None:
        if chunk.call_sid not in self._open:
            day = time.strftime("%Y-%m-%d", time.gmtime())
            name = f"{day}/{_safe(chunk.call_sid)}.wav"
            self._open[chunk.call_sid] = (name, open_recording(self._folder / name))
        self._open[chunk.call_sid][1].writeframes(stereo_pcm(chunk.caller, chunk.agent))

    def _finish(self, finished: CallFinished) -> None:
        name = ""
        if finished.call_sid in self._open:
            name, recording = self._open.pop(finished.call_sid)
            recording.close()
        record = dict(finished.record)
        summary = CallSummary(
            call_sid=finished.call_sid,
            stream_sid=record["stream_sid"],
            caller=record["caller"],
            started_at=record["started_at"],
            ended_at=record["ended_at"],
            outcome=record["outcome"],
            bookings=len(record["bookings"]),
            recording=name,
        )
        report = compose_report(record, self._store.tz, llm_summary=record.pop(LLM_SUMMARY, ""))
        notices = []
        if self._report_topic is not None:
            notices.append(Notice(self._report_topic, report_key(finished.call_sid), report))
        self._store.save(summary, {**record, "recording": name, "report": report}, notices)
        log.info("records.saved", call_sid=finished.call_sid, recording=bool(name))


def _safe(call_sid: str) -> str:
    return "".join(c for c in call_sid if c.isalnum())[:64] or "call"
