"""The media-stream WebSocket against peers that misbehave: a socket dropped mid-call, a
stream without Twilio's signature, a token replayed, stale or edited. Real server on
127.0.0.1, offline engines, real clock (see test_end_to_end.py)."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import trio
import trio_websocket
from structlog.contextvars import merge_contextvars
from structlog.testing import capture_logs
from wsproto import ConnectionType, WSConnection
from wsproto.events import AcceptConnection, Request, TextMessage

from receptionist.call import CallServices
from receptionist.config import Config, Secrets
from receptionist.devtools.caller_messages import media_message, stop_message
from receptionist.devtools.replay import replay_config
from receptionist.devtools.steps import TaskSteps
from receptionist.devtools.twilio_caller import SILENCE_FRAME, TwilioCaller
from receptionist.runtime import build_services
from receptionist.server import serve_app
from receptionist.telephony import webhooks
from receptionist.telephony.webhooks import twilio_signature
from tests.helpers.calls import NOW

LIMIT_S = 30
AUTH_TOKEN = "12345"
LATE_FRAMES = 100
"""Frames a caller sends after the server stopped reading: more than hypercorn's app queue
holds (10), which the handler reads itself."""
RELAYED_FRAMES = 100
"""Frames a caller sends while the relay task's wakes are counted."""
CLOSED_WITHIN_S = 10


@pytest.fixture
async def services(project_config: Config, tmp_path: Path) -> CallServices:
    config = replay_config(project_config, tmp_path, fast=True)
    return await trio.to_thread.run_sync(lambda: build_services(config, now=NOW))


@pytest.fixture
async def server(services: CallServices, nursery: trio.Nursery) -> AsyncIterator[str]:
    binds = await nursery.start(serve_app, services, "127.0.0.1", 0)
    yield binds[0]
    nursery.cancel_scope.cancel()


def start_message(call_sid: str, parameters: dict[str, str]) -> str:
    start = {
        "streamSid": "MZ" + call_sid[2:],
        "callSid": call_sid,
        "tracks": ["inbound"],
        "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
        "customParameters": parameters,
    }
    return json.dumps({"event": "start", "start": start})


def stream_url(server: str) -> str:
    return server.replace("http://", "ws://") + "/media-stream"


def flag_on(event: str, flag: trio.Event) -> Any:
    """A structlog processor that sets ``flag`` once ``event`` is logged (in trio)."""

    def processor(_logger: Any, _method: str, entry: dict[str, Any]) -> dict[str, Any]:
        if entry["event"] == event:
            flag.set()
        return entry

    return processor


async def test_a_dropped_socket_ends_the_call_through_its_disconnect_path(server):
    caller = TwilioCaller(server)
    _url, parameters = await caller.answer_webhook()
    ended = trio.Event()
    with capture_logs(processors=[merge_contextvars, flag_on("call.end", ended)]) as logs:
        with trio.fail_after(LIMIT_S):
            async with trio_websocket.open_websocket_url(stream_url(server)) as ws:
                await ws.send_message(start_message(caller.call_sid, parameters))
                while json.loads(await ws.get_message())["event"] != "media":
                    pass  # the greeting has begun
                # The peer vanishes: no stop, no close frame, the TCP connection just goes.
                await ws._stream.aclose()
            await ended.wait()
    events = [entry["event"] for entry in logs]
    assert "twilio.disconnected" in events
    assert "twilio.stats" in events


async def greeted(url: str, start: str, headers: list[tuple[bytes, bytes]]) -> None:
    """Open the stream, send ``start``, and wait for the greeting's first audio."""
    async with trio_websocket.open_websocket_url(url, extra_headers=headers) as ws:
        await ws.send_message(start)
        while json.loads(await ws.get_message())["event"] != "media":
            pass


async def refused_with(url: str, start: str, headers: list[tuple[bytes, bytes]]) -> int:
    """The status (HTTP, for a refused upgrade) or close code the server refused us with."""
    try:
        async with trio_websocket.open_websocket_url(url, extra_headers=headers) as ws:
            await ws.send_message(start)
            while True:
                await ws.get_message()
    except trio_websocket.ConnectionRejected as rejected:
        return rejected.status_code
    except trio_websocket.ConnectionClosed as closed:
        return closed.reason.code
    raise AssertionError("not refused")


async def test_a_replayed_stream_token_is_refused(server):
    caller = TwilioCaller(server)
    _url, parameters = await caller.answer_webhook()
    start = start_message(caller.call_sid, parameters)
    with trio.fail_after(LIMIT_S):
        await greeted(stream_url(server), start, [])
        assert await refused_with(stream_url(server), start, []) == 1008


async def test_an_edited_caller_number_is_refused(server):
    caller = TwilioCaller(server)
    _url, parameters = await caller.answer_webhook()
    start = start_message(caller.call_sid, {**parameters, "caller": "+15559999999"})
    with trio.fail_after(LIMIT_S):
        assert await refused_with(stream_url(server), start, []) == 1008


@pytest.mark.parametrize("signature", [None, "forged"])
async def test_a_stream_without_twilios_signature_is_refused_when_a_token_is_set(
    services, nursery, signature
):
    config = replace(services.config, secrets=Secrets(twilio_auth_token=AUTH_TOKEN))
    server = (await nursery.start(serve_app, replace(services, config=config), "127.0.0.1", 0))[0]
    caller = TwilioCaller(server, auth_token=AUTH_TOKEN)
    public_url, parameters = await caller.answer_webhook()
    start = start_message(caller.call_sid, parameters)
    headers = [] if signature is None else [(b"X-Twilio-Signature", signature.encode())]
    with capture_logs() as logs, trio.fail_after(LIMIT_S):
        assert await refused_with(stream_url(server), start, headers) == 403
        # The same stream, signed by Twilio over its public URL, is served.
        signed = twilio_signature(AUTH_TOKEN, public_url).encode()
        await greeted(stream_url(server), start, [(b"X-Twilio-Signature", signed)])
    assert any(e["event"] == "webhook.bad_signature" for e in logs)
    nursery.cancel_scope.cancel()


async def open_raw_stream(server: str) -> tuple[trio.SocketStream, WSConnection]:
    """A WebSocket client on wsproto alone: it answers nothing unless told to (unlike
    trio_websocket, which answers a close frame by itself)."""
    address = urlsplit(server)
    stream = await trio.open_tcp_stream(address.hostname or "", address.port or 80)
    ws = WSConnection(ConnectionType.CLIENT)
    request = Request(host=address.netloc, target=webhooks.STREAM_PATH)
    await stream.send_all(ws.send(request))
    while not any(isinstance(event, AcceptConnection) for event in ws.events()):
        ws.receive_data(await stream.receive_some())
    return stream, ws


async def until_media(stream: trio.SocketStream, ws: WSConnection) -> None:
    while True:
        ws.receive_data(await stream.receive_some())
        for event in ws.events():
            if isinstance(event, TextMessage) and json.loads(event.data)["event"] == "media":
                return


async def until_tcp_closed(stream: trio.SocketStream) -> None:
    """Read, answering nothing (not even a close frame), until the server closes the TCP."""
    while await stream.receive_some():
        pass


async def test_a_caller_who_goes_on_sending_and_never_answers_our_close_is_let_go(server):
    """hypercorn hands the app its ``websocket.disconnect`` through the same bounded queue
    as the caller's messages, with a blocking put, even after the app has returned: if the
    frames the caller sent after the call stopped reading filled it, the put never returned
    and the TCP connection stayed open for good (the bench's floor callers waited out their
    limit on it)."""
    caller = TwilioCaller(server)
    _url, parameters = await caller.answer_webhook()
    ended = trio.Event()
    with capture_logs(processors=[merge_contextvars, flag_on("call.end", ended)]):
        with trio.fail_after(LIMIT_S):
            stream, ws = await open_raw_stream(server)
            await stream.send_all(ws.send(TextMessage(start_message(caller.call_sid, parameters))))
            await until_media(stream, ws)  # the greeting has begun
            stop = stop_message("MZ" + caller.call_sid[2:], caller.call_sid, 2)
            # The stop, then frames the server no longer reads: more than its queues hold.
            silence = media_message("MZ", 3, 1, SILENCE_FRAME)
            frames = [ws.send(TextMessage(json.dumps(silence))) for _ in range(LATE_FRAMES)]
            await stream.send_all(ws.send(TextMessage(json.dumps(stop))) + b"".join(frames))
            await ended.wait()
        with trio.fail_after(CLOSED_WITHIN_S):
            await until_tcp_closed(stream)


async def ignore_messages(ws: Any) -> None:
    with contextlib.suppress(trio_websocket.ConnectionClosed):
        while True:
            await ws.get_message()


async def send_silence(ws: Any, stream_sid: str, frames: int) -> None:
    for sequence in range(frames):
        silence = media_message(stream_sid, sequence + 2, sequence + 1, SILENCE_FRAME)
        await ws.send_message(json.dumps(silence))


async def test_the_callers_frames_reach_the_call_without_a_relay_task_per_frame(server):
    """quart-trio relays each message from hypercorn's queue through a task and a second
    channel: a round of the event loop per 20 ms frame per call. The handler reads
    hypercorn's queue itself; that task wakes only for the end of the call."""
    caller = TwilioCaller(server)
    _url, parameters = await caller.answer_webhook()
    ended = trio.Event()
    relay = TaskSteps()
    stream_sid = "MZ" + caller.call_sid[2:]
    with capture_logs(processors=[merge_contextvars, flag_on("call.end", ended)]) as logs:
        with trio.fail_after(LIMIT_S):
            async with (
                trio_websocket.open_websocket_url(stream_url(server)) as ws,
                trio.open_nursery() as listening,
            ):
                listening.start_soon(ignore_messages, ws)  # the greeting, as a caller hears it
                await ws.send_message(start_message(caller.call_sid, parameters))
                trio.lowlevel.add_instrument(relay)
                try:
                    await send_silence(ws, stream_sid, RELAYED_FRAMES)
                    stop = stop_message(stream_sid, caller.call_sid, RELAYED_FRAMES + 2)
                    await ws.send_message(json.dumps(stop))
                    await ended.wait()
                finally:
                    trio.lowlevel.remove_instrument(relay)
                listening.cancel_scope.cancel()
    (stats,) = [entry for entry in logs if entry["event"] == "twilio.stats"]
    assert stats["frames_in"] == RELAYED_FRAMES
    assert relay.of("handle_messages") <= 5  # relayed, it woke once per frame
