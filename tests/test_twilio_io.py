import base64
import json

import pytest
import trio
from structlog.testing import capture_logs

from receptionist.messages import (
    FRAME_BYTES,
    CallStarted,
    CallStopped,
    ClearAudio,
    DtmfPressed,
    EndCall,
    EndReason,
    InboundAudio,
    MarkPlayed,
    OutboundAudio,
    OutboundMark,
    TurnTimings,
)
from receptionist.telephony import media_streams as tp
from receptionist.turns.cancellation import TurnCancellation
from stages.twilio_io import PlaybackClock, run_twilio_io

from .fake_connection import FakeConnection

STREAM = tp.StreamStart(
    stream_sid="MZ1",
    call_sid="CA1",
    account_sid="AC1",
    tracks=("inbound",),
    encoding="audio/x-mulaw",
    sample_rate=8000,
    channels=1,
    parameters={"caller": "+15551234567"},
)


def media(ulaw: bytes = b"\x7f" * FRAME_BYTES, track: str = "inbound") -> dict:
    payload = base64.b64encode(ulaw).decode()
    return {"event": "media", "streamSid": "MZ1", "media": {"track": track, "payload": payload}}


class Call:
    """TwilioIO under test, with every channel end the other actors would hold."""

    def __init__(self, audio_buffer: int = 10) -> None:
        self.connection = FakeConnection()
        self.turns = TurnCancellation()
        self.audio_send, self.audio = trio.open_memory_channel[InboundAudio](audio_buffer)
        self.events_send, self.events = trio.open_memory_channel[object](100)
        self.outbound, self.outbound_recv = trio.open_memory_channel[object](100)
        self.ended: list[EndCall] = []

    async def record_end(self, end: EndCall) -> None:
        self.ended.append(end)

    async def start(self, nursery: trio.Nursery) -> None:
        await nursery.start(
            lambda task_status: run_twilio_io(
                self.connection,
                STREAM,
                self.audio_send,
                self.events_send,
                self.outbound_recv,
                turns=self.turns,
                send_ahead=0.1,
                on_end=self.record_end,
                task_status=task_status,
            )
        )


def frame(turn_id: int, byte: int = 0x10) -> OutboundAudio:
    return OutboundAudio(turn_id=turn_id, ulaw=bytes([byte]) * FRAME_BYTES, timings=TurnTimings())


async def test_reader_forwards_audio_marks_dtmf_and_stop():
    call = Call()
    with trio.fail_after(5):
        async with trio.open_nursery() as nursery:
            await call.start(nursery)
            await call.connection.twilio_sends(media())
            await call.connection.twilio_sends(media(track="outbound"))
            await call.connection.twilio_sends({"event": "mark", "mark": {"name": "turn1-s0"}})
            await call.connection.twilio_sends({"event": "dtmf", "dtmf": {"digit": "5"}})
            await call.connection.twilio_sends({"event": "stop", "stop": {"callSid": "CA1"}})
            call.outbound.close()
    started = await call.events.receive()
    assert isinstance(started, CallStarted)
    assert (started.call_sid, started.stream_sid, started.caller) == ("CA1", "MZ1", "+15551234567")
    assert [type(e) for e in [await call.events.receive() for _ in range(3)]] == [
        MarkPlayed,
        DtmfPressed,
        CallStopped,
    ]
    frames = [message async for message in call.audio]
    assert [f.ulaw for f in frames] == [b"\x7f" * FRAME_BYTES]


async def test_malformed_frames_are_logged_and_skipped():
    call = Call()
    with capture_logs() as logs, trio.fail_after(5):
        async with trio.open_nursery() as nursery:
            await call.start(nursery)
            await call.connection.twilio_sends("{not json")
            await call.connection.twilio_sends({"event": "media", "media": {"payload": "!!"}})
            await call.connection.twilio_sends(media())
            call.connection.twilio_hangs_up()
            call.outbound.close()
    assert [e["event"] for e in logs].count("twilio.malformed_frame") == 2
    stats = next(e for e in logs if e["event"] == "twilio.stats")
    assert (stats["malformed"], stats["frames_in"]) == (2, 1)
    assert len([message async for message in call.audio]) == 1


async def test_reader_never_blocks_on_audio_and_counts_drops():
    call = Call(audio_buffer=2)
    with capture_logs() as logs, trio.fail_after(5):
        async with trio.open_nursery() as nursery:
            await call.start(nursery)
            for _ in range(5):
                await call.connection.twilio_sends(media())
            await call.connection.twilio_sends({"event": "dtmf", "dtmf": {"digit": "1"}})
            await call.connection.twilio_sends({"event": "stop"})
            call.outbound.close()
    stats = next(e for e in logs if e["event"] == "twilio.stats")
    assert (stats["frames_in"], stats["frames_dropped"]) == (5, 3)


async def test_writer_paces_frames_just_ahead_of_playback(autojump_clock):
    call = Call()
    sent_at = []
    with trio.fail_after(5):
        async with trio.open_nursery() as nursery:
            await call.start(nursery)
            start = trio.current_time()
            for _ in range(20):
                await call.outbound.send(frame(1))
            for _ in range(20):
                await call.connection.from_server.receive()
                sent_at.append(trio.current_time() - start)
            call.connection.twilio_hangs_up()
            call.outbound.close()
    # Frame k goes out when playback reaches k * 20 ms minus the 100 ms send-ahead.
    assert sent_at == pytest.approx([max(0.0, k * 0.02 - 0.1) for k in range(20)], abs=1e-9)


async def test_barge_in_clears_and_not_one_frame_of_the_turn_follows(autojump_clock):
    call = Call()
    with trio.fail_after(5):
        async with trio.open_nursery() as nursery:
            await call.start(nursery)
            for _ in range(30):
                await call.outbound.send(frame(1, byte=0x11))
            await trio.sleep(0.2)
            call.turns.cancel_through(1)
            await call.outbound.send(ClearAudio(turn_id=1, at=trio.current_time()))
            await call.outbound.send(OutboundMark(turn_id=1, name="turn1-s0", text="stale"))
            for _ in range(3):
                await call.outbound.send(frame(2, byte=0x22))
            await trio.sleep(1)
            call.connection.twilio_hangs_up()
            call.outbound.close()
    messages = call.connection.sent_messages()
    events = [m["event"] for m in messages]
    clear_at = events.index("clear")
    after = messages[clear_at + 1 :]
    payloads = [base64.b64decode(m["media"]["payload"]) for m in after if m["event"] == "media"]
    assert payloads == [b"\x22" * FRAME_BYTES] * 3
    assert "mark" not in events[clear_at:]
    assert 0 < events[:clear_at].count("media") < 30


async def test_turn_event_logged_on_first_frame_with_stage_latencies(autojump_clock):
    call = Call()
    timings = TurnTimings(
        speech_ended=0.0,
        transcript_final=0.3,
        first_output=0.31,
        first_sentence=0.32,
        first_audio=0.4,
    )
    with capture_logs() as logs, trio.fail_after(5):
        async with trio.open_nursery() as nursery:
            await call.start(nursery)
            await trio.sleep_until(0.5)
            for _ in range(3):
                await call.outbound.send(
                    OutboundAudio(turn_id=4, ulaw=b"\0" * 160, timings=timings)
                )
            await trio.sleep(1)
            call.connection.twilio_hangs_up()
            call.outbound.close()
    (turn,) = [e for e in logs if e["event"] == "turn"]
    assert turn["turn_id"] == 4
    assert (turn["stt_ms"], turn["tts_ms"]) == (300.0, 80.0)
    assert turn["total_ms"] == pytest.approx(500.0, abs=1)


async def test_end_call_closes_the_socket_after_what_was_queued():
    call = Call()
    with trio.fail_after(5):
        async with trio.open_nursery() as nursery:
            await call.start(nursery)
            await call.outbound.send(frame(1))
            await call.outbound.send(OutboundMark(turn_id=1, name="turn1-s0", text="Goodbye."))
            await call.outbound.send(EndCall(EndReason.COMPLETED))
            await call.outbound.send(frame(1))  # after the end: discarded, never blocks
            call.outbound.close()
    assert [m["event"] for m in call.connection.sent_messages()] == ["media", "mark"]
    assert call.connection.closed_with == 1000
    assert call.ended == [EndCall(EndReason.COMPLETED)]


def test_playback_clock_sends_ahead_by_the_margin_only():
    clock = PlaybackClock(send_ahead=0.06)
    for _ in range(3):
        assert clock.next_send_time(now=1.0) == 1.0
        clock.sent_frame(1.0)
    assert clock.next_send_time(now=1.0) == pytest.approx(1.0)
    clock.sent_frame(1.0)
    assert clock.next_send_time(now=1.0) == pytest.approx(1.02)
    clock.cleared()
    assert clock.next_send_time(now=1.0) == 1.0


def test_media_message_round_trips():
    assert json.loads(tp.media_message("MZ1", b"ab"))["media"]["payload"] == "YWI="
