"""Twilio Media Streams messages: parsing and building, no I/O.

Twilio sends ``connected``, ``start``, ``media``, ``mark``, ``dtmf`` and ``stop`` as JSON text
frames; we send ``media``, ``mark`` and ``clear``. ``parse_message`` turns one frame into a
frozen event or raises TwilioProtocolError saying what is wrong, so the reader can log the
frame and skip it.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from receptionist.errors import TwilioProtocolError

SUPPORTED_ENCODING = "audio/x-mulaw"
SUPPORTED_RATE = 8000


@dataclass(frozen=True, slots=True)
class Connected:
    protocol: str
    version: str


@dataclass(frozen=True, slots=True)
class StreamStart:
    stream_sid: str
    call_sid: str
    account_sid: str
    tracks: tuple[str, ...]
    encoding: str
    sample_rate: int
    channels: int
    parameters: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))


@dataclass(frozen=True, slots=True)
class Media:
    track: str
    chunk: int
    timestamp_ms: int
    ulaw: bytes


@dataclass(frozen=True, slots=True)
class Mark:
    name: str


@dataclass(frozen=True, slots=True)
class Dtmf:
    digit: str


@dataclass(frozen=True, slots=True)
class Stop:
    call_sid: str


TwilioEvent = Connected | StreamStart | Media | Mark | Dtmf | Stop

DTMF_DIGITS = frozenset("0123456789*#ABCD")


def parse_message(text: str | bytes) -> TwilioEvent:
    """Parse one Media Streams frame.

    Raises:
        TwilioProtocolError: not JSON, an unknown event, or a required field missing or bad.
    """
    try:
        message = json.loads(text)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise TwilioProtocolError(f"not JSON: {exc}") from exc
    except RecursionError as exc:  # "[[[[..." within the size limit: hostile, not Twilio
        raise TwilioProtocolError("JSON nested too deeply") from exc
    if not isinstance(message, dict):
        raise TwilioProtocolError("a message must be a JSON object")
    event = message.get("event")
    parser = _PARSERS.get(event) if isinstance(event, str) else None
    if parser is None:
        raise TwilioProtocolError(f"unknown event {event!r}")
    try:
        return parser(message)
    except (KeyError, TypeError, ValueError) as exc:
        raise TwilioProtocolError(f"bad {event!r} message: {exc!r}") from exc


def _parse_connected(message: dict[str, Any]) -> Connected:
    return Connected(
        protocol=str(message.get("protocol", "")), version=str(message.get("version", ""))
    )


def _parse_start(message: dict[str, Any]) -> StreamStart:
    start = message["start"]
    media_format = start["mediaFormat"]
    raw_parameters = start.get("customParameters") or {}
    if not isinstance(raw_parameters, dict):
        raise TypeError("customParameters must be an object")
    return StreamStart(
        stream_sid=_required_text(start.get("streamSid") or message.get("streamSid")),
        call_sid=_required_text(start["callSid"]),
        account_sid=str(start.get("accountSid", "")),
        tracks=tuple(str(track) for track in start.get("tracks", ("inbound",))),
        encoding=str(media_format["encoding"]),
        sample_rate=int(media_format["sampleRate"]),
        channels=int(media_format.get("channels", 1)),
        parameters=MappingProxyType({str(k): str(v) for k, v in raw_parameters.items()}),
    )


def _parse_media(message: dict[str, Any]) -> Media:
    media = message["media"]
    try:
        ulaw = base64.b64decode(media["payload"], validate=True)
    except binascii.Error as exc:
        raise ValueError(f"payload is not base64 ({exc})") from exc
    return Media(
        track=str(media.get("track", "inbound")),
        chunk=int(media.get("chunk", 0)),
        timestamp_ms=int(media.get("timestamp", 0)),
        ulaw=ulaw,
    )


def _parse_mark(message: dict[str, Any]) -> Mark:
    return Mark(name=_required_text(message["mark"]["name"]))


def _parse_dtmf(message: dict[str, Any]) -> Dtmf:
    digit = str(message["dtmf"]["digit"])
    if digit not in DTMF_DIGITS:
        raise ValueError(f"not a DTMF digit: {digit!r}")
    return Dtmf(digit=digit)


def _parse_stop(message: dict[str, Any]) -> Stop:
    stop = message.get("stop") or {}
    return Stop(call_sid=str(stop.get("callSid", "")))


def _required_text(value: object) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError(f"expected a non-empty string, got {value!r}")
    return value


_PARSERS: dict[str, Callable[[dict[str, Any]], TwilioEvent]] = {
    "connected": _parse_connected,
    "start": _parse_start,
    "media": _parse_media,
    "mark": _parse_mark,
    "dtmf": _parse_dtmf,
    "stop": _parse_stop,
}


def check_media_format(start: StreamStart) -> None:
    """Raises TwilioProtocolError unless the stream is the 8 kHz mono mu-law we handle."""
    if (start.encoding, start.sample_rate, start.channels) != (
        SUPPORTED_ENCODING,
        SUPPORTED_RATE,
        1,
    ):
        raise TwilioProtocolError(
            f"unsupported media format {start.encoding} {start.sample_rate} Hz "
            f"x{start.channels}; expected {SUPPORTED_ENCODING} {SUPPORTED_RATE} Hz mono"
        )


class MediaMessages:
    """One stream's outbound ``media`` messages: the JSON around the payload is built once,
    so a frame costs one base64 encode and one string join (50 a second per call)."""

    def __init__(self, stream_sid: str) -> None:
        marker = "\x00"
        template = {"event": "media", "streamSid": stream_sid, "media": {"payload": marker}}
        self._head, self._tail = json.dumps(template).split(json.dumps(marker))

    def encode(self, ulaw: bytes) -> str:
        return f'{self._head}"{base64.b64encode(ulaw).decode("ascii")}"{self._tail}'


def media_message(stream_sid: str, ulaw: bytes) -> str:
    return MediaMessages(stream_sid).encode(ulaw)


def mark_message(stream_sid: str, name: str) -> str:
    return json.dumps({"event": "mark", "streamSid": stream_sid, "mark": {"name": name}})


def clear_message(stream_sid: str) -> str:
    return json.dumps({"event": "clear", "streamSid": stream_sid})
