"""Graceful drain: on SIGTERM a process takes no new calls and lets its calls finish.

- a new ``/incoming-call`` gets TwiML that sends Twilio back to the same public URL after a
  pause (``<Redirect>``) while another live, non-draining server exists (heartbeat.py): a
  proxy, or the kernel spreading one listening socket over several processes, hands it to
  that one. With no such server, or after a few tries, the clinic's number (``<Dial>``), or
  with none a polite line (``CALL_BACK``). Never a dead line, never a loop onto itself;
- a new media stream (its webhook was answered by another process a moment ago) is closed
  with 1001 (going away), and its call's outcome says "retry": Twilio's /call-ended, on
  whichever process, redirects the call to /incoming-call again (call.py);
- calls in progress go on up to ``server.drain_timeout_s``; then each hears ``GOODBYE`` and
  is hung up. Bookings are written in one transaction each, in a worker thread that
  cancellation does not interrupt: whatever was written stays written.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import aclosing, contextmanager
from urllib.parse import urlencode
from xml.etree import ElementTree

import structlog
import trio

from receptionist.engines.tts import SpeechEngine
from receptionist.messages import FRAME_BYTES, SAMPLE_RATE
from receptionist.telephony import media_streams as tp
from receptionist.telephony.connection import MediaConnection

log = structlog.get_logger()

GOING_AWAY = 1001
GOODBYE = "I'm sorry, I have to hang up now. Please call back. Goodbye."
GOODBYE_TIMEOUT_S = 15.0
"""Synthesising and playing GOODBYE; a call that cannot hear it by then is just closed."""
REDIRECT_PAUSE_S = 1
"""Seconds Twilio waits before following the redirect: no tight loop onto a draining process."""
MAX_REDIRECTS = 5
"""Redirects before a draining process hands the caller to the transfer number instead."""
REDIRECTS_PARAMETER = "redirects"
CALL_BACK = (
    "I'm sorry, we can't take your call right now. Please call back in a few minutes. Goodbye."
)
"""What a draining server with nowhere to send a new call says before hanging up."""
LINGER_S = 2.0
"""After the last call: Twilio's /call-ended requests for it may still reach this process."""


class Drain:
    """This process's calls, and whether it still takes new ones."""

    def __init__(self, server_id: str = "") -> None:
        self.server_id = server_id
        """This process in the servers' heartbeat table (heartbeat.py)."""
        self.draining = False
        self.began = trio.Event()
        self._calls: set[trio.CancelScope] = set()
        self._idle = trio.Event()
        self._idle.set()

    @property
    def active_calls(self) -> int:
        return len(self._calls)

    @contextmanager
    def admit(self) -> Iterator[trio.CancelScope]:
        """Count a call while it runs; the scope, once entered by the call, is how the
        drain's deadline ends it."""
        scope = trio.CancelScope()
        if not self._calls:
            self._idle = trio.Event()
        self._calls.add(scope)
        try:
            yield scope
        finally:
            self._calls.discard(scope)
            if not self._calls:
                self._idle.set()

    def begin(self) -> None:
        self.draining = True
        self.began.set()

    def end_calls(self) -> None:
        for scope in self._calls:
            scope.cancel()

    async def wait_idle(self) -> None:
        await self._idle.wait()


async def drain_on_sigterm(
    drain: Drain, timeout_s: float, stopped: trio.Event,
    *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:  # fmt: skip
    """Wait for SIGTERM, then drain; sets ``stopped`` when the server may shut down."""
    with trio.open_signal_receiver(signal.SIGTERM) as signals:
        task_status.started()
        async for _ in signals:
            break
    await run_drain(drain, timeout_s)
    stopped.set()


async def run_drain(drain: Drain, timeout_s: float) -> None:
    """Stop taking calls, wait up to ``timeout_s`` for those in progress, end the rest."""
    drain.begin()
    log.info("server.draining", calls=drain.active_calls, timeout_s=timeout_s)
    with trio.move_on_after(timeout_s):
        await drain.wait_idle()
    if drain.active_calls:
        log.warning("server.drain_deadline", calls=drain.active_calls)
        drain.end_calls()
        with trio.move_on_after(GOODBYE_TIMEOUT_S + 1):
            await drain.wait_idle()
    await trio.sleep(LINGER_S)
    log.info("server.drained", calls=drain.active_calls)


async def say_goodbye(connection: MediaConnection, stream_sid: str, speech: SpeechEngine) -> None:
    """Clear what was playing, play GOODBYE, and wait while Twilio plays it. Time-boxed."""
    with trio.move_on_after(GOODBYE_TIMEOUT_S, shield=True):
        await connection.send(tp.clear_message(stream_sid))
        played_bytes = 0
        pending = b""
        async with aclosing(speech.stream_ulaw(GOODBYE)) as chunks:
            async for chunk in chunks:
                pending += chunk
                while len(pending) >= FRAME_BYTES:
                    frame, pending = pending[:FRAME_BYTES], pending[FRAME_BYTES:]
                    await connection.send(tp.media_message(stream_sid, frame))
                    played_bytes += FRAME_BYTES
        await trio.sleep(played_bytes / SAMPLE_RATE)


def redirect_twiml(url: str, redirects: int, transfer_to: str | None, *, peer: bool) -> str:
    """What a draining process answers to ``/incoming-call`` (``url`` without query): a
    redirect while a ``peer`` may take the call, else the clinic's number or CALL_BACK."""
    response = ElementTree.Element("Response")
    if not peer or redirects >= MAX_REDIRECTS:
        if transfer_to:
            ElementTree.SubElement(response, "Dial").text = transfer_to
        else:
            ElementTree.SubElement(response, "Say").text = CALL_BACK
            ElementTree.SubElement(response, "Hangup")
    else:
        ElementTree.SubElement(response, "Pause", length=str(REDIRECT_PAUSE_S))
        query = urlencode({REDIRECTS_PARAMETER: redirects + 1})
        ElementTree.SubElement(response, "Redirect", method="POST").text = f"{url}?{query}"
    return '<?xml version="1.0" encoding="UTF-8"?>' + ElementTree.tostring(
        response, encoding="unicode"
    )
