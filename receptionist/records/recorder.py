"""The recorder: one actor per process that writes every call's record and recording.

Calls hand it messages with ``send_nowait`` (``Recorder.start_call``): a full queue drops
and counts, never waits. It writes in a worker thread, one message at a time; a failure
is logged and the next message is written. A daily sweep deletes records and recordings
older than ``[records] keep_days``.
"""

from __future__ import annotations

import time
import wave
from datetime import timedelta
from pathlib import Path

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
from receptionist.records.store import CallSummary, RecordStore, recordings_folder
from receptionist.records.wav import open_recording, stereo_pcm

log = structlog.get_logger()

SWEEP_EVERY_S = timedelta(days=1).total_seconds()
DRAIN_TIMEOUT_S = 5.0


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
    *,
    task_status: trio.TaskStatus[Recorder] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Write records until cancelled; reports the Recorder calls use."""
    store = RecordStore(config)
    try:
        await trio.to_thread.run_sync(store.open)
    except StoreUnavailable as exc:  # calls go on; each write tries again and logs
        log.error("records.unavailable", error=str(exc))
    writer = RecordWriter(store, recordings_folder(config))
    send, receive = trio.open_memory_channel[RecorderMessage](config.records.queue)
    try:
        async with trio.open_nursery() as nursery:
            if config.records.keep_days:
                nursery.start_soon(_sweep_daily, writer, config.records.keep_days)
            task_status.started(Recorder(config, send))
            async for message in receive:
                await trio.to_thread.run_sync(writer.write, message)
    finally:
        # Calls ending as the server stops hand in their records as it is cancelled.
        with trio.move_on_after(DRAIN_TIMEOUT_S, shield=True):
            await trio.to_thread.run_sync(writer.drain, _queued(receive))
        receive.close()


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

    def __init__(self, store: RecordStore, folder: Path) -> None:
        self._store = store
        self._folder = folder
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
        self._store.save(summary, {**record, "recording": name})
        log.info("records.saved", call_sid=finished.call_sid, recording=bool(name))


def _safe(call_sid: str) -> str:
    return "".join(c for c in call_sid if c.isalnum())[:64] or "call"
