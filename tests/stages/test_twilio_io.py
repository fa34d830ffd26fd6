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
    MarkPlayed,
    OutboundAudio,
    OutboundMark,
    TurnTimings,
)
from receptionist.telephony import media_streams as tp
from stages.twilio_writer import PlaybackClock
from tests.helpers.twilio import Call, frame, media


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


async def test_a_dialogue_that_does_not_read_never_stalls_inbound_audio():
    # The misbehaving peer is our own Dialogue, stuck (say, on a full sentences channel):
    # its inbox is full, and Twilio keeps sending marks, key presses and audio.
    call = Call(events_buffer=1)
    with capture_logs() as logs, trio.fail_after(5):
        async with trio.open_nursery() as nursery:
            await call.start(nursery)  # CallStarted fills the inbox
            await call.connection.twilio_sends({"event": "mark", "mark": {"name": "turn1-s0"}})
            await call.connection.twilio_sends({"event": "dtmf", "dtmf": {"digit": "5"}})
            await call.connection.twilio_sends(media())
            assert (await call.audio.receive()).ulaw == b"\x7f" * FRAME_BYTES
            await call.connection.twilio_sends({"event": "stop"})
            call.outbound.close()
            assert isinstance(await call.events.receive(), CallStarted)
    assert [e["kind"] for e in logs if e["event"] == "twilio.event_dropped"] == [
        "MarkPlayed",
        "DtmfPressed",
    ]
    stats = next(e for e in logs if e["event"] == "twilio.stats")
    assert stats["events_dropped"] == 2


async def _sent(call: Call, messages: int) -> list[tuple[float, dict]]:
    """The next ``messages`` the writer sends, with when they went out."""
    sent = []
    for _ in range(messages):
        message = json.loads(await call.connection.from_server.receive())
        sent.append((trio.current_time(), message))
    return sent


def _frames(message: dict) -> int:
    return len(base64.b64decode(message["media"]["payload"])) // FRAME_BYTES


@pytest.mark.parametrize("message_frames", [1, 3, 5])
async def test_writer_paces_messages_just_ahead_of_playback(autojump_clock, message_frames):
    call = Call(message_frames=message_frames)
    for _ in range(30):  # the Synthesizer is ahead of real time
        call.outbound.send_nowait(frame(1))
    with trio.fail_after(5):
        async with trio.open_nursery() as nursery:
            await call.start(nursery)
            sent = await _sent(call, 30 // message_frames)
            call.connection.twilio_hangs_up()
            call.outbound.close()
    assert all(_frames(message) == message_frames for _, message in sent)
    # Whole messages of queued frames, each sent once Twilio holds no more than the 100 ms
    # margin: then it holds at most the margin plus one message, and no frame is later
    # than its slot (k * 20 ms less the margin).
    first_frame, played_until = 0, 0.0
    for at, _message in sent:
        assert at <= max(0.0, first_frame * 0.02 - 0.1) + 1e-9
        assert played_until - at <= 0.1 + 1e-9
        played_until = max(played_until, at) + message_frames * 0.02
        first_frame += message_frames
    assert call.connection.sent_messages() == []


async def test_writer_sends_five_frames_a_message_one_wake_each(autojump_clock):
    call = Call(message_frames=5)
    for _ in range(20):
        call.outbound.send_nowait(frame(1))
    with trio.fail_after(5):
        async with trio.open_nursery() as nursery:
            await call.start(nursery)
            sent = await _sent(call, 4)
            call.connection.twilio_hangs_up()
            call.outbound.close()
    # 200 ms at once (the margin and one message), then 100 ms whenever playback is down
    # to the margin.
    assert [at for at, _ in sent] == pytest.approx([0.0, 0.0, 0.1, 0.2], abs=1e-9)


async def test_a_message_never_waits_for_audio_nor_crosses_a_mark_or_a_turn(autojump_clock):
    call = Call(message_frames=5)
    with trio.fail_after(5):
        async with trio.open_nursery() as nursery:
            await call.start(nursery)
            await call.outbound.send(frame(1))
            [(at, alone)] = await _sent(call, 1)  # the first frame of a turn goes at once
            for item in [*[frame(1)] * 2, OutboundMark(turn_id=1, name="turn1-s0", text="Hi."),
                         *[frame(1)] * 7, *[frame(2)] * 2]:  # fmt: skip
                call.outbound.send_nowait(item)
            sent = [message for _, message in await _sent(call, 5)]
            call.connection.twilio_hangs_up()
            call.outbound.close()
    assert at == 0.0
    assert _frames(alone) == 1
    shapes = [_frames(m) if m["event"] == "media" else m["event"] for m in sent]
    assert shapes == [2, "mark", 5, 2, 2]
    assert base64.b64decode(sent[-1]["media"]["payload"]) == frame(2).ulaw * 2


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
    assert b"".join(payloads) == b"\x22" * FRAME_BYTES * 3
    assert "mark" not in events[clear_at:]
    assert 0 < sum(_frames(m) for m in messages[:clear_at] if m["event"] == "media") < 30


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


async def test_a_later_sentences_first_frame_is_logged_with_its_latency(autojump_clock):
    """After a holding line, the answer's own latency (the bench's tool turns)."""
    call = Call()
    timings = TurnTimings(speech_ended=0.0, transcript_final=0.3, first_sentence=0.32)
    with capture_logs() as logs, trio.fail_after(5):
        async with trio.open_nursery() as nursery:
            await call.start(nursery)
            await trio.sleep_until(0.5)
            await call.outbound.send(OutboundAudio(4, b"\0" * 160, timings))
            await call.outbound.send(OutboundMark(turn_id=4, name="turn4-s0", text="One moment."))
            await trio.sleep_until(1.5)
            for _ in range(2):
                await call.outbound.send(OutboundAudio(4, b"\0" * 160, timings))
            await trio.sleep(1)
            call.connection.twilio_hangs_up()
            call.outbound.close()
    (later,) = [e for e in logs if e["event"] == "turn.sentence"]
    assert later["turn_id"] == 4
    assert later["total_ms"] == pytest.approx(1500.0, abs=1)


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


def test_playback_clock_sends_once_playback_is_down_to_the_margin():
    clock = PlaybackClock(send_ahead=0.06)
    assert clock.next_send_time(now=1.0) == 1.0
    clock.sent(1.0, frames=3)  # holds 60 ms: at the margin, so the next goes at once
    assert clock.next_send_time(now=1.0) == pytest.approx(1.0)
    clock.sent(1.0, frames=3)
    assert clock.next_send_time(now=1.0) == pytest.approx(1.06)
    assert not clock.ran_dry(1.12)
    assert clock.ran_dry(1.13)
    clock.cleared()
    assert clock.next_send_time(now=1.0) == 1.0


def test_media_message_round_trips():
    assert json.loads(tp.media_message("MZ1", b"ab"))["media"]["payload"] == "YWI="
