"""The OpenAI-compatible chat client: streams a completion with tools as typed events.

The adapter edge for the ``openai`` SDK: every SDK error is mapped here to ``LlmError``
(``transient`` for connection failures, 429 and 5xx). The SDK's own retries and timeouts
are off: the caller (``LlmAgent``) owns the deadlines, and this module retries once, and
only before it has yielded anything, so no word is ever spoken twice. The API key lives
only in the SDK client; it is never logged, and ``LlmEngine`` leaves it out of its repr.

The SDK runs on anyio, so it works under trio as is. Its client must be closed
(``open_client`` does it): an unclosed one leaks its sockets.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import AsyncGenerator, AsyncIterator, Mapping, Sequence
from contextlib import aclosing, asynccontextmanager, suppress
from dataclasses import dataclass, field
from typing import Any

import httpx2
import openai
import structlog
import trio

from receptionist.config import Config, LlmConfig
from receptionist.errors import LlmError
from receptionist.llm.stream import LlmEvent, StreamAssembler

log = structlog.get_logger()

RETRIES = 1
RETRY_BACKOFF_S = 0.2
"""A moment for a 429 or a restarting server to clear; the caller's deadline still holds."""
NO_KEY = "no-key"
"""The SDK insists on a key; with ``api_key_env = ""`` its Authorization header is omitted."""
UNAUTHORISED = (401, 403)
CLOSE_TIMEOUT_S = 1.0
"""Closing a response sends nothing that matters; a socket that hangs must not hold us."""


@dataclass(frozen=True, slots=True)
class LlmEngine:
    """What a call needs to reach the model, built once at start-up by ``build_llm``."""

    settings: LlmConfig
    api_key: str | None = field(repr=False)
    """None: the server needs no key."""

    @asynccontextmanager
    async def open_client(
        self, transport: httpx2.AsyncBaseTransport | None = None
    ) -> AsyncIterator[LlmClient]:
        """A client with its own connection pool: open one per process and share it.

        ``transport``: instead of the network (tests: the fake model in process)."""
        sdk = openai.AsyncOpenAI(
            api_key=self.api_key or NO_KEY,
            base_url=self.settings.base_url,
            max_retries=0,
            timeout=None,  # the agent's deadlines bound every request
            http_client=None if transport is None else httpx2.AsyncClient(transport=transport),
        )
        async with sdk:
            yield LlmClient(sdk, self.settings, keyless=self.api_key is None)


def build_llm(config: Config) -> LlmEngine:
    """The LLM engine of ``config.llm``, with the API key the config read from the
    environment variable named by ``llm.api_key_env`` (none when that is "")."""
    key = config.secrets.llm_api_key if config.llm.api_key_env else ""
    _import_what_the_first_request_would()
    return LlmEngine(config.llm, api_key=key or None)


def _import_what_the_first_request_would() -> None:
    """Blocking, at start-up (``open_services`` builds in a thread). Cold, the SDK's first
    stream held the loop 75 ms in one step (196 ms of CPU in all, 28 ms warm): it imports
    its chat resources lazily, and anyio imports its trio backend (by this name) the first
    time the SDK runs a blocking call in a worker thread (``get_platform``)."""
    importlib.import_module("openai.resources.chat.chat")  # the package imports it lazily
    importlib.import_module("anyio._backends._trio")


class LlmClient:
    """Streams chat completions. Shared by every call of the process."""

    def __init__(self, sdk: openai.AsyncOpenAI, settings: LlmConfig, *, keyless: bool) -> None:
        self._sdk = sdk
        self._settings = settings
        # The SDK sends a key unless each request omits the header explicitly.
        self._headers = {"Authorization": openai.Omit()} if keyless else {}

    async def stream(
        self,
        messages: Sequence[Mapping[str, Any]],
        tools: Sequence[Mapping[str, Any]],
        *,
        allow_tools: bool = True,
    ) -> AsyncGenerator[LlmEvent, None]:
        """Stream one completion's events, ending with ``Finished``.

        Use under ``contextlib.aclosing``. A transient failure before the first event is
        retried once; the caller bounds the whole with its own deadlines.

        Args:
            allow_tools: False makes the model answer in words (``tool_choice="none"``).

        Raises:
            LlmError: the request failed, or the stream broke or ended early.
        """
        for attempt in range(RETRIES + 1):
            yielded = False
            try:
                async with aclosing(self._attempt(messages, tools, allow_tools)) as events:
                    async for event in events:
                        yielded = True
                        yield event
                return
            except LlmError as exc:
                if yielded or not exc.transient or attempt == RETRIES:
                    raise
                log.warning("llm.retry", error=str(exc))
            await trio.sleep(RETRY_BACKOFF_S)

    async def _attempt(
        self,
        messages: Sequence[Mapping[str, Any]],
        tools: Sequence[Mapping[str, Any]],
        allow_tools: bool,
    ) -> AsyncGenerator[LlmEvent, None]:
        assembler = StreamAssembler()
        try:
            # The SDK sends the request and maps its status; the body is read here. The
            # SDK's own stream leaves its nested generators suspended whenever it stops
            # before the body's end (at [DONE], too): each then warns when collected.
            request = self._request(messages, tools, allow_tools)
            create = self._sdk.chat.completions.with_streaming_response.create
            async with (
                create(**request) as response,
                aclosing(_sse_data(response.http_response)) as data,
            ):
                async for payload in data:
                    for event in assembler.handle(_chunk(payload)):
                        yield event
        except openai.OpenAIError as exc:
            raise _mapped(exc) from exc
        except httpx2.TransportError as exc:
            raise LlmError(f"the LLM stream broke: {exc!r}", transient=True) from exc
        yield assembler.end()

    def _request(
        self,
        messages: Sequence[Mapping[str, Any]],
        tools: Sequence[Mapping[str, Any]],
        allow_tools: bool,
    ) -> dict[str, Any]:
        """``create``'s arguments. The body goes in ``extra_body``, which the SDK sends as
        given: its typed arguments are walked key by key against their TypedDicts first (5.4
        ms of CPU, on the event loop, for a request with the clinic's tools and a dozen
        messages), for JSON that plain dicts already are. ``messages`` must still be given
        (the SDK requires it), and is replaced by the body's."""
        settings = self._settings
        body: dict[str, Any] = {
            "messages": messages,
            "temperature": settings.temperature,
            "max_tokens": settings.max_tokens,
            # The usage chunk costs nothing in latency (it follows finish_reason).
            "stream_options": {"include_usage": True},
        }
        if tools:
            body["tools"] = tools
            body["tool_choice"] = "auto" if allow_tools else "none"
        return {
            "model": settings.model,
            "messages": [],
            "stream": True,
            "extra_body": body,
            "extra_headers": self._headers,
        }


async def _sse_data(response: httpx2.Response) -> AsyncGenerator[str, None]:
    """Each server-sent event's data, up to ``[DONE]`` or the body's end.

    Closing it early closes the response, then runs httpx's body iterators (nested async
    generators) to their end on the closed stream, shielded and time-boxed: closed, not
    left suspended for the garbage collector (a ResourceWarning each).
    """
    lines = response.aiter_lines()
    try:
        async for line in lines:
            if line.startswith("data:"):
                payload = line[len("data:") :].strip()
                if payload == "[DONE]":
                    return
                yield payload
    finally:
        with trio.move_on_after(CLOSE_TIMEOUT_S, shield=True):
            await response.aclose()
            with suppress(httpx2.HTTPError):
                async for _rest in lines:
                    pass  # nothing: the stream is closed; this ends each iterator


def _chunk(payload: str) -> dict[str, Any]:
    """One event's JSON; an error the server reports mid-stream as LlmError."""
    try:
        chunk = json.loads(payload)
    except json.JSONDecodeError as exc:
        raise LlmError(f"the stream carried something that is not JSON: {exc}") from exc
    if not isinstance(chunk, dict):
        raise LlmError("the stream carried JSON that is not an object")
    if error := chunk.get("error"):
        message = error.get("message") if isinstance(error, dict) else None
        raise LlmError(f"the LLM stream reported an error: {message or 'no message'}")
    return chunk


def _mapped(exc: openai.OpenAIError) -> LlmError:
    """The SDK's error as ours; the server's message is dropped where it may echo the key."""
    match exc:
        case openai.APIConnectionError():  # includes APITimeoutError
            cause = f" ({exc.__cause__!r})" if exc.__cause__ else ""
            return LlmError(f"cannot reach the LLM: {type(exc).__name__}{cause}", transient=True)
        case openai.APIStatusError(status_code=status) if status in UNAUTHORISED:
            return LlmError(f"the LLM refused the API key (HTTP {status})")
        case openai.APIStatusError(status_code=status):
            transient = status == 429 or status >= 500
            return LlmError(f"the LLM answered HTTP {status}: {exc.message}", transient=transient)
    return LlmError(f"the LLM failed: {type(exc).__name__}: {exc}")
