"""The Media Streams messages Twilio sends for a call, as ``TwilioCaller`` sends them:
``connected``, ``start`` (with the TwiML's ``<Parameter>``s), ``media``, ``mark`` echoes and
``stop``, shaped as Twilio's documentation and the recorded samples show them."""

from __future__ import annotations

import base64
import json
from typing import Any

from receptionist.messages import FRAME_MS

ACCOUNT_SID = "AC00000000000000000000000000000000"
CONNECTED = {"event": "connected", "protocol": "Call", "version": "1.0.0"}


def start_message(stream_sid: str, call_sid: str, parameters: dict[str, str]) -> dict[str, Any]:
    start = {
        "accountSid": ACCOUNT_SID,
        "streamSid": stream_sid,
        "callSid": call_sid,
        "tracks": ["inbound"],
        "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
        "customParameters": parameters,
    }
    return {"event": "start", "sequenceNumber": "1", "start": start, "streamSid": stream_sid}


def media_message(stream_sid: str, sequence: int, chunk: int, ulaw: bytes) -> dict[str, Any]:
    media = {
        "track": "inbound",
        "chunk": str(chunk),
        "timestamp": str(chunk * FRAME_MS),
        "payload": base64.b64encode(ulaw).decode(),
    }
    return {
        "event": "media",
        "sequenceNumber": str(sequence),
        "media": media,
        "streamSid": stream_sid,
    }


class MediaFrames:
    """One stream's ``media`` messages as JSON text, the same as ``json.dumps`` of
    ``media_message`` makes, from a template: a hundred emulated callers send 5000 a second
    from the bench's one core."""

    def __init__(self, stream_sid: str) -> None:
        self._tail = '"}, "streamSid": ' + json.dumps(stream_sid) + "}"

    def encode(self, sequence: int, chunk: int, ulaw: bytes) -> str:
        return (
            f'{{"event": "media", "sequenceNumber": "{sequence}", "media": {{"track": '
            f'"inbound", "chunk": "{chunk}", "timestamp": "{chunk * FRAME_MS}", "payload": '
            f'"{base64.b64encode(ulaw).decode()}{self._tail}'
        )


def mark_message(stream_sid: str, name: str) -> dict[str, Any]:
    return {"event": "mark", "streamSid": stream_sid, "mark": {"name": name}}


def stop_message(stream_sid: str, call_sid: str, sequence: int) -> dict[str, Any]:
    return {
        "event": "stop",
        "sequenceNumber": str(sequence),
        "stop": {"accountSid": ACCOUNT_SID, "callSid": call_sid},
        "streamSid": stream_sid,
    }
