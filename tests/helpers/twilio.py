"""A Media Streams start as Twilio sends it."""

from __future__ import annotations

import base64

import trio

from receptionist.config import TwilioConfig
from receptionist.messages import (
    FRAME_BYTES,
    FRAME_MS,
    EndCall,
    InboundAudio,
    OutboundAudio,
    TurnTimings,
)
from receptionist.telephony import media_streams as tp
from receptionist.turns.cancellation import TurnCancellation
from stages.twilio_io import run_twilio_io
from tests.helpers.fake_connection import FakeConnection

MESSAGE_FRAMES = TwilioConfig().media_message_ms // FRAME_MS
"""The writer's frames per media message, as configured by default."""

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

    def __init__(
        self, audio_buffer: int = 10, events_buffer: int = 100, message_frames: int = MESSAGE_FRAMES
    ) -> None:
        self.message_frames = message_frames
        self.connection = FakeConnection()
        self.turns = TurnCancellation()
        self.audio_send, self.audio = trio.open_memory_channel[InboundAudio](audio_buffer)
        self.events_send, self.events = trio.open_memory_channel[object](events_buffer)
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
                message_frames=self.message_frames,
                on_end=self.record_end,
                task_status=task_status,
            )
        )


def frame(turn_id: int, byte: int = 0x10) -> OutboundAudio:
    return OutboundAudio(turn_id=turn_id, ulaw=bytes([byte]) * FRAME_BYTES, timings=TurnTimings())
