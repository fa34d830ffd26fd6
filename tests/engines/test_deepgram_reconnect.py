"""Deepgram live STT when the connection fails: refusals, drops, reconnects and the resend
buffer, a Deepgram slow to close (the fake Deepgram on 127.0.0.1, autojump clock)."""

from __future__ import annotations

import pytest
import trio
from structlog.testing import capture_logs

from receptionist.devtools.fakes.deepgram import FakeDeepgram
from receptionist.devtools.fakes.deepgram_script import utterance
from receptionist.engines.deepgram import (
    Backlog,
)
from receptionist.errors import SpeechRecognitionError
from receptionist.messages import (
    FRAME_BYTES,
)
from tests.helpers.deepgram import KEY, finals, listen
from tests.helpers.listening import FRAME_S, SILENCE, frames_for

DEADLINE_S = 60  # on the autojump clock: a minute of call time, milliseconds of real time


async def test_without_keepalives_deepgram_hangs_up_and_we_reconnect(
    autojump_clock: trio.abc.Clock,
) -> None:
    fake = FakeDeepgram(api_key=KEY)
    with trio.fail_after(DEADLINE_S):
        await listen(fake, [SILENCE, 12.0, SILENCE], overrides={"keepalive_s": 30.0})
    first, second = fake.connections
    assert first.closed == (1011, "NET-0001")  # as Deepgram does after 10 s
    assert second.closed == (1000, "")


async def test_dropped_connection_reconnects_and_resends(autojump_clock: trio.abc.Clock) -> None:
    script = [utterance("after the drop", 1.5, 2.3)]
    fake = FakeDeepgram(api_key=KEY, script=script, drop_after_s=1.0, drop_connections=1)
    frames = frames_for(script, 4.0)
    with capture_logs() as logs, trio.fail_after(DEADLINE_S):
        received = await listen(fake, frames, chunk_ms=20)  # a message per frame, counted
    first, second = fake.connections
    assert first.closed == (1011, "NET-0000")
    assert [t.text for t in finals(received)] == ["after the drop"]
    assert any(log["event"] == "deepgram.reconnecting" for log in logs)
    # The frames buffered during the 0.25 s backoff arrive together, first thing.
    burst = [at for at, kind in second.received if at == second.received[0][0]]
    assert len(burst) >= 0.25 / FRAME_S - 1  # minus the frame in flight
    lost = len(frames) * FRAME_BYTES - len(first.audio) - len(second.audio)
    assert 0 <= lost <= 2 * FRAME_BYTES  # at most what was in flight as the server closed


async def test_a_bad_key_fails_at_once(autojump_clock: trio.abc.Clock) -> None:
    fake = FakeDeepgram(api_key="another key")
    with trio.fail_after(DEADLINE_S), pytest.RaisesGroup(
        pytest.RaisesExc(SpeechRecognitionError, match="401: INVALID_AUTH"), flatten_subgroups=True
    ):  # fmt: skip
        await listen(fake, [])
    assert fake.refused == [401]


async def test_refusals_are_retried(autojump_clock: trio.abc.Clock) -> None:
    fake = FakeDeepgram(api_key=KEY, reject_status=503, reject_connections=2)
    with trio.fail_after(DEADLINE_S):
        await listen(fake, [SILENCE] * 5)
    assert fake.refused == [503, 503]
    assert len(fake.connections) == 1


async def test_gives_up_after_the_reconnect_attempts(autojump_clock: trio.abc.Clock) -> None:
    fake = FakeDeepgram(api_key=KEY, reject_status=503, reject_connections=99)
    with trio.fail_after(DEADLINE_S), pytest.RaisesGroup(
        pytest.RaisesExc(SpeechRecognitionError, match="5 reconnects failed"),
        flatten_subgroups=True,
    ):  # fmt: skip
        await listen(fake, [], reconnect_attempts=5)
    assert fake.refused == [503] * 6


async def test_backlog_drops_the_oldest(autojump_clock: trio.abc.Clock) -> None:
    backlog = Backlog[int](3)
    with capture_logs() as logs:
        for item in range(5):
            backlog.put(item)
        backlog.put_back(99)  # full: dropped rather than pushing out newer audio
    assert backlog.dropped == 3
    assert [await backlog.get() for _ in range(3)] == [2, 3, 4]
    backlog.put_back(1)
    assert await backlog.get() == 1
    assert [log["total"] for log in logs] == [1, 3]  # the first, then one per buffer-full


async def test_a_long_gap_overflows_the_resend_buffer(autojump_clock: trio.abc.Clock) -> None:
    fake = FakeDeepgram(api_key=KEY, drop_after_s=1.0, drop_connections=1)
    frames = [SILENCE] * 100
    with capture_logs() as logs, trio.fail_after(DEADLINE_S):
        await listen(fake, frames, resend_buffer_s=0.1)  # 5 frames; the backoff is 12
    first, second = fake.connections
    stats = next(log for log in logs if log["event"] == "deepgram.stats")
    assert stats["frames_dropped"] >= 6
    received = len(first.audio) + len(second.audio) + stats["frames_dropped"] * FRAME_BYTES
    assert len(frames) * FRAME_BYTES - received in (0, FRAME_BYTES)  # and one in flight


async def test_hang_up_waits_for_deepgram_at_most_close_timeout(
    autojump_clock: trio.abc.Clock,
) -> None:
    script = [utterance("goodbye", 0.2, 0.8)]
    fake = FakeDeepgram(api_key=KEY, script=script, latency_s=30.0)  # Metadata queued behind
    with capture_logs() as logs, trio.fail_after(DEADLINE_S):
        await listen(fake, frames_for(script, 1.5))
        returned = trio.current_time()
    assert returned < 1.5 + 2.0 + 0.1  # the audio, then close_timeout_s at most
    assert any(log["event"] == "deepgram.close_timeout" for log in logs)
