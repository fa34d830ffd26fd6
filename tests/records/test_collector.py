"""One call's record as collected: the stereo recording as heard, the recorder never waits,
logged events (and a tool call's detail) kept."""

from __future__ import annotations

import json

import structlog
import trio
from structlog.contextvars import merge_contextvars
from structlog.testing import capture_logs

from receptionist.llm.results import tool_call_detail
from receptionist.logs import current_recording, record_call_events
from receptionist.messages import (
    FRAME_BYTES,
    SAMPLE_RATE,
    ULAW_SILENCE,
    CallStarted,
    ClearAudio,
    InboundAudio,
    MarkPlayed,
    OutboundAudio,
    OutboundMark,
    TurnTimings,
)
from receptionist.records.collector import AudioChunk, CallFinished, CallRecording, RecorderMessage
from receptionist.records.recorder import Recorder


def _frame(byte: int) -> bytes:
    return bytes([byte]) * FRAME_BYTES


def test_the_recording_is_what_the_caller_heard_a_clear_drops_what_had_not_played():
    sent: list[object] = []
    recording = CallRecording(lambda m: sent.append(m) or True, record_audio=True,
                              max_samples=10 * SAMPLE_RATE)  # fmt: skip
    recording.observe(CallStarted("CA1", "MZ1", "+15551234567", at=0.0), 0.0)
    timings = TurnTimings()
    for n in range(10):  # the caller's first 200 ms
        recording.observe(InboundAudio(_frame(0x11), at=n * 0.02), n * 0.02)
    for _ in range(20):  # 400 ms of agent audio sent ahead of playback: 200 ms have played
        recording.observe(OutboundAudio(1, _frame(0x22), timings), 0.2)
    for n in range(10, 20):
        recording.observe(InboundAudio(_frame(0x11), at=n * 0.02), n * 0.02)
    recording.observe(OutboundMark(1, "m1", "Hello there."), 0.2)
    recording.observe(ClearAudio(1, at=0.4), 0.4)  # barge-in: the last 200 ms never play
    recording.observe(MarkPlayed("m1", at=0.41), 0.41)  # Twilio echoes cleared marks too
    recording.finish(crashed=False)

    chunks = [m for m in sent if isinstance(m, AudioChunk)]
    caller = b"".join(c.caller for c in chunks)
    agent = b"".join(c.agent for c in chunks)
    assert caller == _frame(0x11) * 20
    assert agent == ULAW_SILENCE * FRAME_BYTES * 10 + _frame(0x22) * 10
    (finished,) = [m for m in sent if isinstance(m, CallFinished)]
    (line,) = finished.record["lines"]
    assert (line["text"], line["heard"], line["cut_off"]) == ("Hello there.", False, True)
    assert finished.record["barge_ins"] == [{"turn_id": 1, "at_s": 0.4, "reaction_ms": None}]
    assert finished.record["outcome"] == "hung up"
    assert finished.record["audio_seconds"] == 0.4


async def test_a_full_recorder_queue_drops_and_counts_never_waits(record_config):
    send, receive = trio.open_memory_channel[RecorderMessage](1)
    recorder = Recorder(record_config, send)
    recording = recorder.start_call()
    recording.observe(CallStarted("CA1", "MZ1", None, at=0.0), 0.0)
    for n in range(3 * SAMPLE_RATE // FRAME_BYTES):  # three chunks' worth, room for one
        recording.observe(InboundAudio(_frame(0x11), at=n * 0.02), n * 0.02)
    recording.finish(crashed=True)
    assert recorder.dropped == 3
    assert recording.dropped == 3
    assert isinstance(receive.receive_nowait(), AudioChunk)


async def test_logged_tool_calls_fallbacks_and_guesses_reach_the_calls_record():
    sent: list[object] = []
    recording = CallRecording(lambda m: sent.append(m) or True, record_audio=False,
                              max_samples=SAMPLE_RATE)  # fmt: skip
    recording.observe(CallStarted("CA1", "MZ1", None, at=trio.current_time()))
    log = structlog.get_logger()
    with capture_logs(processors=[merge_contextvars, record_call_events]):
        log.info("llm.tool_call", tool="book_slot", outcome="BookSlot")  # no call: not kept
        token = current_recording.set(recording)
        try:
            log.info("llm.tool_call", tool="book_slot", outcome="BookSlot")
            log.info("dialogue.preemptive", kept=False, guessed="next tuesday")
            log.info("dialogue.heard", text="not an event a record keeps")
        finally:
            current_recording.reset(token)
    recording.finish(crashed=False)
    (finished,) = sent
    assert isinstance(finished, CallFinished)
    events = [(e["event"], e.get("tool"), e.get("kept")) for e in finished.record["events"]]
    assert events == [("llm.tool_call", "book_slot", None), ("dialogue.preemptive", None, False)]


async def test_a_tool_calls_arguments_and_result_reach_the_record_but_no_log_line():
    sent: list[object] = []
    recording = CallRecording(lambda m: sent.append(m) or True, record_audio=False,
                              max_samples=SAMPLE_RATE)  # fmt: skip
    recording.observe(CallStarted("CA1", "MZ1", None, at=trio.current_time()))
    detail = tool_call_detail('{"name": "Jo", "phone": "+15551234567"}', {"booked": {"id": 9}})
    token = current_recording.set(recording)
    try:
        with capture_logs(processors=[merge_contextvars, record_call_events]) as lines:
            structlog.get_logger().info("llm.tool_call", tool="book_appointment", **detail)
    finally:
        current_recording.reset(token)
    recording.finish(crashed=False)
    assert "record_only" not in lines[0]
    assert "+15551234567" not in json.dumps(lines)
    (finished,) = sent
    assert isinstance(finished, CallFinished)
    (event,) = finished.record["events"]
    assert event["arguments"] == {"name": "Jo", "phone": "+15551234567"}
    assert event["result"] == {"booked": {"id": 9}}
    assert tool_call_detail("{not json", {})["record_only"]["arguments"] == "{not json"
