"""ElevenLabs streaming text-to-speech over HTTP, and the choice of the process's TTS engine.

One request per sentence: ``POST /v1/text-to-speech/{voice_id}/stream`` asking for
``ulaw_8000``, which is exactly what Twilio plays, so the response body is passed on chunk
by chunk as it arrives, untouched. The request shape follows the official OpenAPI spec and
SDK (``tests/protocol_samples/elevenlabs/http_stream_request.txt``).

One ``httpx2.AsyncClient`` serves the whole process: a sentence on a kept-alive connection
costs one request round trip, not a TCP and TLS handshake as well. A barge-in that cuts a
body mid-stream closes its HTTP/1.1 connection (an unfinished body cannot be reused), so
the engine opens a spare one right after the cut, while the caller is still talking, with
a small request of its own (``GET /v1/models``): the next sentence finds it in the pool.

The client is httpx2 (the OpenAI SDK's transport, httpx's maintained successor), not httpx:
httpcore 1.0's pool walks every connection once per idle connection on each request and
each response closed: at 64 calls httpcore was in a tenth of the server's profile, in bursts
at each turn, and half of that was those walks. httpcore2's pool does one pass.
"""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator, AsyncIterator, Mapping
from contextlib import suppress
from urllib.parse import quote

import httpx2
import structlog
import trio

from receptionist.config import Config
from receptionist.engines.fallback import FallbackSpeechEngine
from receptionist.engines.tts import SpeechEngine
from receptionist.errors import SpeechSynthesisError

OUTPUT_FORMAT = "ulaw_8000"
OPTIMIZE_STREAMING_LATENCY = 3
"""As in the sample request. The OpenAPI spec marks it deprecated, and flash models are
fast without it; 3 is the most it may be before level 4 turns off text normalisation, which
would misread the dates and times a receptionist says."""
CONNECT_TIMEOUT_S = 5.0
"""httpx's default, kept for the TCP and TLS handshake only. Reads are not timed here: the
caller owns that policy (FallbackSpeechEngine's first-audio and stall timeouts)."""
KEEPALIVE_S = 60.0
"""How long an idle connection is kept for the next sentence. httpx's default of 5 s would
drop it between most turns of a call and pay a new TLS handshake on the next reply."""
CLOSE_TIMEOUT_S = 1.0
"""Closing a response only closes or returns a socket; bounded all the same."""
ERROR_BODY_LIMIT = 4096
SPARES_PENDING = 1
"""Spare connections asked for and not yet opened. One stands in for the connection a cut
closed; cuts in quick succession need no more (a reply is one sentence at a time)."""
SPARE_PATH = "/v1/models"
"""A small, free, read-only request (the models list) whose answer leaves its connection
open in the pool."""
SPARE_TIMEOUT_S = CONNECT_TIMEOUT_S + 2.0
"""Bytes of an error response kept for the message: enough for ElevenLabs' JSON detail."""

log = structlog.get_logger()


class ElevenLabsEngine:
    """ElevenLabs' HTTP streaming TTS, speaking 8 kHz mu-law. Implements SpeechEngine.

    Owns an ``httpx2.AsyncClient``: close it with ``aclose()`` or ``async with``.

    Args:
        api_key: sent in the ``xi-api-key`` header; never logged nor put in an error.
        voice_id, model_id: the ElevenLabs voice and model.
        base_url: the API's origin, ``https://api.elevenlabs.io`` in production.
        transport: an httpx2 transport to use instead of the network (tests).
    """

    def __init__(
        self,
        *,
        api_key: str,
        voice_id: str,
        model_id: str,
        base_url: str = "https://api.elevenlabs.io",
        transport: httpx2.AsyncBaseTransport | None = None,
    ) -> None:
        self._api_key, self._model_id = api_key, model_id
        self._path = f"/v1/text-to-speech/{quote(voice_id, safe='')}/stream"
        self._client = httpx2.AsyncClient(
            base_url=base_url,
            timeout=httpx2.Timeout(None, connect=CONNECT_TIMEOUT_S),
            limits=httpx2.Limits(keepalive_expiry=KEEPALIVE_S),
            transport=transport,
        )
        self._spares_send, self._spares_recv = trio.open_memory_channel[None](SPARES_PENDING)
        self._warming: trio.CancelScope | None = None
        self.spares_opened = 0

    async def __aenter__(self) -> ElevenLabsEngine:
        return self

    async def __aexit__(self, *_exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the kept-alive connections. The engine cannot be used afterwards."""
        if self._warming is not None:
            self._warming.cancel()
        await self._client.aclose()

    async def keep_connections_warm(
        self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
    ) -> None:
        """Open a spare connection after each cut (see the module), until ``aclose``.
        Without it running, cuts cost the next sentence a new connection, as before."""
        with trio.CancelScope() as self._warming, self._spares_recv:
            task_status.started()
            async for _cut in self._spares_recv:
                await self._open_spare()

    async def _open_spare(self) -> None:
        with trio.move_on_after(SPARE_TIMEOUT_S):
            try:
                response = await self._client.get(SPARE_PATH, headers={"xi-api-key": self._api_key})
            except httpx2.HTTPError as exc:  # the next sentence will connect, or fail, itself
                log.debug("elevenlabs.spare_failed", error=self._redact(str(exc)))
                return
            self.spares_opened += 1
            log.debug("elevenlabs.spare_opened", status=response.status_code)

    async def stream_ulaw(self, text: str) -> AsyncGenerator[bytes, None]:
        """Speak ``text``: yield mu-law chunks as they arrive; see ``SpeechEngine``.

        Closing the generator early closes the response at once, shielded: the unread
        connection is dropped rather than drained.

        Raises:
            SpeechSynthesisError: the request failed, ElevenLabs answered with an error
                status, or the stream broke.
        """
        if not text.strip():
            return  # ElevenLabs rejects empty text with a 422; there is nothing to say
        response = await self._send(text)
        chunks = response.aiter_bytes()
        ended = False
        try:
            if not response.is_success:
                raise await self._status_error(response, chunks)
            while (chunk := await self._next_chunk(chunks)) is not None:
                yield chunk
            ended = True
        finally:
            if response.is_success and not ended:
                self._ask_for_spare()
            # Closes the connection at once: an unfinished body cannot be reused, and
            # draining it would keep ElevenLabs generating. httpx2's body iterators, nested
            # async generators, are left suspended when we stop mid-body; trio's asyncgen
            # finalizer closes them (with a ResourceWarning, ignored by default). They
            # hold no resource once the connection is closed here.
            with trio.move_on_after(CLOSE_TIMEOUT_S, shield=True):
                await response.aclose()

    def _ask_for_spare(self) -> None:
        """The body was cut (a barge-in, a stall, a broken stream): its connection closes."""
        with suppress(trio.WouldBlock):  # a spare is already on its way
            self._spares_send.send_nowait(None)

    async def _send(self, text: str) -> httpx2.Response:
        request = self._client.build_request(
            "POST",
            self._path,
            params={
                "output_format": OUTPUT_FORMAT,
                "optimize_streaming_latency": OPTIMIZE_STREAMING_LATENCY,
            },
            headers={"xi-api-key": self._api_key},
            json={"text": text, "model_id": self._model_id},
        )
        try:
            return await self._client.send(request, stream=True)
        except httpx2.HTTPError as exc:
            raise self._error("request failed", exc) from exc

    async def _next_chunk(self, chunks: AsyncIterator[bytes]) -> bytes | None:
        try:
            return await anext(chunks, None)
        except httpx2.HTTPError as exc:
            raise self._error("audio stream broke", exc) from exc

    async def _status_error(
        self, response: httpx2.Response, chunks: AsyncIterator[bytes]
    ) -> SpeechSynthesisError:
        body = bytearray()
        try:
            async for part in chunks:
                body += part
                if len(body) >= ERROR_BODY_LIMIT:
                    break
        except httpx2.HTTPError:
            pass  # the status alone still says what went wrong
        detail = _describe_error_body(bytes(body[:ERROR_BODY_LIMIT]))
        # HTTP/2, and some HTTP/1.1 servers, send no reason phrase: use the standard one.
        reason = response.reason_phrase or httpx2.codes.get_reason_phrase(response.status_code)
        status = f"{response.status_code} {reason}".strip()
        return SpeechSynthesisError(self._redact(f"ElevenLabs answered {status}: {detail}"))

    def _error(self, what: str, exc: httpx2.HTTPError) -> SpeechSynthesisError:
        detail = str(exc) or type(exc).__name__
        return SpeechSynthesisError(self._redact(f"ElevenLabs {what}: {detail}"))

    def _redact(self, message: str) -> str:
        """Drop the key from text a server or library wrote, should it ever echo it."""
        return message.replace(self._api_key, "[redacted]") if self._api_key else message


def _describe_error_body(body: bytes) -> str:
    """ElevenLabs' JSON ``detail`` as one line; other bodies as (shortened) text.

    ``{"detail": {"status": "invalid_api_key", "message": "Invalid API key"}}`` for most
    errors, ``{"detail": [{"loc": [...], "msg": "..."}]}`` for validation (422) ones.
    """
    try:
        detail = json.loads(body)["detail"]
    except (ValueError, TypeError, KeyError):
        return body.decode("utf-8", "replace").strip()[:200] or "(no body)"
    if isinstance(detail, Mapping):
        return f"{detail.get('status', 'error')}: {detail.get('message', '')}".strip()
    if isinstance(detail, list):
        return "; ".join(_describe_validation_error(item) for item in detail)
    return str(detail)[:200]


def _describe_validation_error(item: object) -> str:
    if not isinstance(item, Mapping):
        return str(item)
    where = ".".join(str(part) for part in item.get("loc", ()))
    return f"{where}: {item.get('msg', '')}"


def build_speech_engine(config: Config, offline: SpeechEngine) -> SpeechEngine:
    """The process's speech engine for ``config.engines.tts``. Call once, at start-up.

    The config has checked ``[elevenlabs]`` and holds the key (``config.secrets``).

    Args:
        offline: the offline engine, returned as is or used as the fallback.
    """
    if config.engines.tts == "offline":
        return offline
    settings = config.elevenlabs
    primary = ElevenLabsEngine(
        api_key=config.secrets.elevenlabs_api_key,
        voice_id=settings.voice_id,
        model_id=settings.model_id,
        base_url=settings.base_url,
    )
    return FallbackSpeechEngine(
        primary,
        offline,
        first_audio_timeout_s=settings.first_audio_timeout_s,
        stall_timeout_s=settings.stall_timeout_s,
        log=log,
    )


async def close_speech_engine(engine: SpeechEngine) -> None:
    """Close what ``build_speech_engine`` opened (its HTTP connections); no-op offline."""
    if isinstance(engine, FallbackSpeechEngine):
        engine = engine.primary
    if isinstance(engine, ElevenLabsEngine):
        await engine.aclose()


async def keep_speech_engine_warm(
    engine: SpeechEngine, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
) -> None:
    """Run what keeps ``build_speech_engine``'s connections warm (``open_services``)."""
    if isinstance(engine, FallbackSpeechEngine):
        engine = engine.primary
    if isinstance(engine, ElevenLabsEngine):
        await engine.keep_connections_warm(task_status=task_status)
    else:
        task_status.started()
