"""Deepgram's live transcription protocol (``/v1/listen`` over WebSocket), without I/O.

The client sends binary messages of audio and three JSON text messages (``KeepAlive``,
``Finalize``, ``CloseStream``); the server sends JSON text messages, parsed here into frozen
events. Shapes follow the official docs and SDK, as recorded in
``tests/protocol_samples/deepgram/``. Errors during a stream arrive as a close frame
(1011 ``NET-0001``: no audio for 10 s; 1008 ``DATA-0000``: undecodable audio), a refused
handshake as an HTTP status with ``{"err_code", "err_msg"}`` JSON.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import structlog

from receptionist.config import DeepgramConfig
from receptionist.errors import SpeechRecognitionError
from receptionist.messages import SAMPLE_RATE

log = structlog.get_logger()

KEEPALIVE = json.dumps({"type": "KeepAlive"})
"""Keeps an audio-less stream open; Deepgram answers nothing. Must be a text message."""
FINALIZE = json.dumps({"type": "Finalize"})
"""Finalise the audio sent so far now: the answer is a final result with from_finalize."""
CLOSE_STREAM = json.dumps({"type": "CloseStream"})
"""Finish the audio sent, send the last results and a Metadata message, then close."""
RETRYABLE_STATUSES = frozenset({408, 429})
"""Refusals worth retrying besides 5xx: a timeout and rate limiting. A 4xx else (a bad key,
bad parameters, no credit) is refused again however often it is asked."""


@dataclass(frozen=True, slots=True)
class Word:
    word: str
    start: float
    """Seconds from the start of this connection's audio, as are all Deepgram times."""
    end: float
    confidence: float
    punctuated_word: str | None = None


@dataclass(frozen=True, slots=True)
class ResultsMessage:
    """A transcript of the audio from ``start`` for ``duration`` seconds.

    ``is_final``: this stretch will not change any more. ``speech_final``: endpointing
    saw the speaker pause after it. ``from_finalize``: the answer to our Finalize.
    """

    transcript: str
    confidence: float
    words: tuple[Word, ...]
    is_final: bool
    speech_final: bool
    from_finalize: bool
    start: float
    duration: float


@dataclass(frozen=True, slots=True)
class UtteranceEndMessage:
    """No word for ``utterance_end_ms`` after the word ending at ``last_word_end``."""

    last_word_end: float


@dataclass(frozen=True, slots=True)
class SpeechStartedMessage:
    timestamp: float


@dataclass(frozen=True, slots=True)
class MetadataMessage:
    """Sent last, after CloseStream: the stream is finished."""

    request_id: str
    duration: float
    channels: int


@dataclass(frozen=True, slots=True)
class ErrorMessage:
    description: str
    message: str
    variant: str


ServerMessage = (
    ResultsMessage | UtteranceEndMessage | SpeechStartedMessage | MetadataMessage | ErrorMessage
)


def listen_url(config: DeepgramConfig) -> str:
    """The WebSocket URL of a stream of Twilio's audio as is: 8 kHz mono mu-law."""
    params: dict[str, str | int] = {
        "model": config.model,
        "encoding": "mulaw",
        "sample_rate": SAMPLE_RATE,
        "channels": 1,
        "interim_results": _flag(config.interim_results),
        "endpointing": config.endpointing_ms or "false",
        "vad_events": "true",
    }
    if config.utterance_end_ms:
        params["utterance_end_ms"] = config.utterance_end_ms
    params["smart_format"] = _flag(config.smart_format)
    return f"{config.base_url.rstrip('/')}/v1/listen?{urlencode(params)}"


def _flag(value: bool) -> str:
    return "true" if value else "false"


def parse_server_message(data: str | bytes) -> ServerMessage | None:
    """One message from Deepgram as an event; None (logged) for a type we do not use.

    Raises:
        SpeechRecognitionError: not a JSON object, or a known type with bad fields.
    """
    try:
        raw = json.loads(data)
    except ValueError as exc:
        raise SpeechRecognitionError(f"Deepgram sent a message that is not JSON: {exc}") from exc
    if not isinstance(raw, Mapping):
        raise SpeechRecognitionError("Deepgram sent a JSON message that is not an object")
    kind = raw.get("type") or _untyped_kind(raw)
    parse = _PARSERS.get(kind)
    if parse is None:
        log.info("deepgram.unknown_message", type=kind)
        return None
    try:
        return parse(raw)
    except (KeyError, IndexError, TypeError, ValueError) as exc:
        raise SpeechRecognitionError(f"Deepgram sent a malformed {kind}: {exc!r}") from exc


def _untyped_kind(raw: Mapping[str, Any]) -> str:
    """The docs' own Results examples leave out ``type``; their channel gives them away."""
    channel = raw.get("channel")
    return "Results" if isinstance(channel, Mapping) and "alternatives" in channel else ""


def _results(raw: Mapping[str, Any]) -> ResultsMessage:
    alternatives = raw["channel"]["alternatives"]
    best: Mapping[str, Any] = alternatives[0] if alternatives else {}
    return ResultsMessage(
        transcript=str(best.get("transcript", "")),
        confidence=float(best.get("confidence", 0.0)),
        words=tuple(_word(word) for word in best.get("words", ())),
        is_final=bool(raw.get("is_final", False)),
        speech_final=bool(raw.get("speech_final", False)),
        from_finalize=bool(raw.get("from_finalize") or False),  # absent or null before 2024
        start=float(raw.get("start", 0.0)),
        duration=float(raw.get("duration", 0.0)),
    )


def _word(raw: Mapping[str, Any]) -> Word:
    punctuated = raw.get("punctuated_word")
    return Word(
        word=str(raw["word"]),
        start=float(raw["start"]),
        end=float(raw["end"]),
        confidence=float(raw.get("confidence", 0.0)),
        punctuated_word=None if punctuated is None else str(punctuated),
    )


_PARSERS: dict[str, Callable[[Mapping[str, Any]], ServerMessage]] = {
    "Results": _results,
    "UtteranceEnd": lambda raw: UtteranceEndMessage(float(raw["last_word_end"])),
    "SpeechStarted": lambda raw: SpeechStartedMessage(float(raw["timestamp"])),
    "Metadata": lambda raw: MetadataMessage(
        str(raw.get("request_id", "")), float(raw.get("duration", 0.0)), int(raw.get("channels", 0))
    ),
    "Error": lambda raw: ErrorMessage(
        str(raw.get("description", "")), str(raw.get("message", "")), str(raw.get("variant", ""))
    ),
}


def describe_rejection(status: int, body: bytes | None) -> str:
    """A refused handshake in one line: Deepgram's ``err_code: err_msg``, or the body."""
    try:
        detail = json.loads(body or b"")
        text = f"{detail['err_code']}: {detail['err_msg']}"
    except (ValueError, TypeError, KeyError):
        text = (body or b"").decode("utf-8", "replace").strip()[:200] or "(no body)"
    return f"Deepgram refused the connection with {status}: {text}"


def is_retryable_status(status: int) -> bool:
    return status >= 500 or status in RETRYABLE_STATUSES


def describe_close(code: int | None, reason: str | None) -> str:
    """A close in one line, e.g. ``1011 NET-0001`` (no audio for too long)."""
    return f"Deepgram closed the connection: {code} {reason or ''}".rstrip()
