"""The media stream refuses permessage-deflate: a client that offers it (as browsers and
many WebSocket libraries do) gets a connection with no extension. Real server on
127.0.0.1 (offline engines), a wsproto client speaking the real handshake."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import trio
from wsproto import ConnectionType, WSConnection
from wsproto.events import AcceptConnection, Request
from wsproto.extensions import PerMessageDeflate

from receptionist.call import CallServices
from receptionist.config import Config
from receptionist.devtools.replay import replay_config
from receptionist.runtime import build_services
from receptionist.server import serve_app
from receptionist.telephony.webhooks import STREAM_PATH
from tests.helpers.calls import NOW

LIMIT_S = 30


@pytest.fixture
async def server(
    project_config: Config, tmp_path: Path, nursery: trio.Nursery
) -> AsyncIterator[tuple[str, int]]:
    config = replay_config(project_config, tmp_path, fast=True)
    services: CallServices = await trio.to_thread.run_sync(lambda: build_services(config, now=NOW))
    binds = await nursery.start(serve_app, services, "127.0.0.1", 0)
    host, port = binds[0].removeprefix("http://").rsplit(":", 1)
    yield host, int(port)
    nursery.cancel_scope.cancel()


async def test_an_offered_permessage_deflate_is_not_accepted(server):
    host, port = server
    client = WSConnection(ConnectionType.CLIENT)
    offered = PerMessageDeflate()
    with trio.fail_after(LIMIT_S):
        stream = await trio.open_tcp_stream(host, port)
        async with stream:
            await stream.send_all(
                client.send(Request(host=host, target=STREAM_PATH, extensions=[offered]))
            )
            accepted = None
            while accepted is None:
                client.receive_data(await stream.receive_some(4096))
                accepted = next(
                    (e for e in client.events() if isinstance(e, AcceptConnection)), None
                )
    assert accepted.extensions == []
    assert not offered.enabled()
