"""A caller as Twilio presents one to us: for replays, end-to-end tests and the benchmark.

It does what Twilio does for a real call: requests ``/incoming-call`` (form-encoded, signed
when an auth token is given), opens the ``<Stream>`` URL from the TwiML, sends ``connected``,
``start`` with the TwiML's ``<Parameter>``s, a ``media`` frame every 20 ms, and ``stop``;
it plays the agent's audio in real time (a media message of any length 20 ms frame by
frame, as Twilio does), echoes each ``mark`` once the audio before it has played, and
honours ``clear`` by dropping unplayed audio and echoing pending marks at once.
The messages themselves: ``caller_messages``; the webhook and its redirects: ``caller_webhook``.
"""

from __future__ import annotations

import base64
import contextlib
import json
import math
from typing import Any
from urllib.parse import urlsplit

import trio
import trio_websocket

from receptionist.devtools.caller_messages import (
    CONNECTED,
    MediaFrames,
    mark_message,
    start_message,
    stop_message,
)
from receptionist.devtools.caller_webhook import CallerWebhook
from receptionist.devtools.playback import CallerReport, Playback
from receptionist.engines.audio import audioop, ulaw_to_pcm16
from receptionist.messages import FRAME_BYTES, FRAME_MS, ULAW_SILENCE
from receptionist.telephony.webhooks import twilio_signature

FRAME_S = FRAME_MS / 1000
SILENCE_FRAME = ULAW_SILENCE * FRAME_BYTES
SPEECH_RMS = 200
"""A frame this loud is the caller speaking (replay's ``MIN_SPEECH_RMS``), for timing."""
CLOSE_WAIT_S = 10.0
"""Once the call is over, how long to wait for the server to close its TCP connection
(trio_websocket, as a client should, waits for it with no bound)."""


class TwilioCaller(CallerWebhook):
    """Drive one call against a running server at ``base_url`` (http://host:port)."""

    def __init__(
        self,
        base_url: str,
        *,
        call_sid: str = "CA00000000000000000000000000000001",
        caller: str = "+15551234567",
        auth_token: str = "",
        paced: bool = True,
        reply_quiet_s: float = 0.8,
        reply_timeout_s: float = 20.0,
        linger_s: float = 3.0,
        close_wait_s: float = CLOSE_WAIT_S,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.call_sid = call_sid
        self.caller = caller
        self.auth_token = auth_token
        self.paced = paced
        self.reply_quiet_s = reply_quiet_s
        self.reply_timeout_s = reply_timeout_s
        self.linger_s = linger_s
        """After the last utterance, how long to wait, silent, for the receptionist to hang
        up (it closes the line only after a grace period of the caller's silence)."""
        self.close_wait_s = close_wait_s
        self.playback = Playback(instant=not paced)
        self.clears = 0
        self.clear_times: list[float] = []
        self.media_after_clear = 0
        self.speech_spans: list[tuple[float, float] | None] = []
        self.reply_arrivals: list[list[float]] = []
        self._saying = False
        self._cleared_while_saying = False
        self._closed_while_saying = 0
        self._closed_by_server = False
        self._echo: list[str] = []
        self._marks_changed = trio.Event()
        """Set when a mark or a clear arrives: ``_play_out`` has a new mark to time."""
        self._reply_since = 0.0
        self._reply_first_audio: float | None = None

    async def run(
        self,
        utterances: list[bytes],
        *,
        barge_in_after_s: dict[int, float] | None = None,
        stream: tuple[str, dict[str, str]] | None = None,
    ) -> CallerReport:
        """Call, wait for the greeting, say each utterance after the agent's reply, hang up.

        Args:
            barge_in_after_s: utterance index to seconds: that utterance is said this long
                after the agent's audio (the greeting or the reply before it) started to
                arrive, over the agent, instead of after it has finished.
            stream: the stream's URL and parameters when Twilio opens one without asking
                /incoming-call (a call in progress given new TwiML over the REST API).
        """
        cut = barge_in_after_s or {}
        stream_url, parameters = stream or await self.answer_webhook()
        # The TwiML names our public host; a local server is reached on its local address.
        local = urlsplit(self.base_url)
        path = urlsplit(stream_url).path
        url = f"ws://{local.netloc}{path}"
        latencies: list[float | None] = []
        # Twilio signs the upgrade over the stream's public URL, as it signs webhooks.
        signature = twilio_signature(self.auth_token, stream_url).encode()
        signed = [(b"X-Twilio-Signature", signature)]
        headers = signed if self.auth_token else []
        greeting_ms: float | None = None
        # A server too slow to finish the closing handshake (a loaded machine) has still
        # had the whole call: what the caller saw is reported all the same.
        with (
            contextlib.suppress(trio_websocket.DisconnectionTimeout),
            trio.CancelScope() as closing,
        ):
            async with (
                trio_websocket.open_websocket_url(url, extra_headers=headers) as ws,
                trio.open_nursery() as nursery,
            ):
                await self._send_start(ws, parameters)
                nursery.start_soon(self._read, ws)
                nursery.start_soon(self._play_out, ws)
                greeting_ms = await self._converse(ws, utterances, cut, latencies)
                closing.deadline = trio.current_time() + self.close_wait_s
                nursery.cancel_scope.cancel()
        self.playback.played(trio.current_time())
        return CallerReport(
            call_sid=self.call_sid,
            heard_ulaw=bytes(self.playback.heard),
            greeting_ms=greeting_ms,
            reply_latencies_ms=tuple(latencies),
            clears=self.clears,
            closed_by_server=self._closed_by_server,
            speech_spans=tuple(self.speech_spans),
            reply_arrivals=tuple(tuple(times) for times in self.reply_arrivals),
            clear_times=tuple(self.clear_times),
            heard_at=tuple(self.playback.heard_at),
            closed_while_saying=self._closed_while_saying,
            media_after_clear=self.media_after_clear,
            line_left_open=closing.cancelled_caught,
        )

    async def _converse(
        self, ws: Any, utterances: list[bytes], cut: dict[int, float], latencies: list[float | None]
    ) -> float | None:
        """The greeting, each utterance and its reply (into ``latencies``), the hang-up; the
        greeting's latency."""
        now = trio.current_time()
        greeting_ms = await self._wait_for_agent(ws, since=now, cut_after=cut.get(0))
        for index, utterance in enumerate(utterances):
            ended = await self._say(ws, utterance)
            waited = await self._wait_for_agent(ws, since=ended, cut_after=cut.get(index + 1))
            latencies.append(waited)
            if self._closed_by_server:
                break
        await self._linger(ws)
        await self._hang_up(ws)
        return greeting_ms

    async def _send_start(self, ws: Any, parameters: dict[str, str]) -> None:
        self._stream_sid = "MZ" + self.call_sid[2:]
        self._media = MediaFrames(self._stream_sid)
        await self._send(ws, CONNECTED)
        await self._send(ws, start_message(self._stream_sid, self.call_sid, parameters))
        self._sequence = 1
        self._chunk = 0
        self._next_slot = trio.current_time()

    async def _send(self, ws: Any, message: dict[str, Any]) -> None:
        await self._send_text(ws, json.dumps(message))

    async def _send_text(self, ws: Any, text: str) -> None:
        """Send one message; once the server has hung up there is nothing more to send."""
        if self._closed_by_server:
            return
        try:
            await ws.send_message(text)
        except trio_websocket.ConnectionClosed:
            self._closed_by_server = True
            self._closed_while_saying |= int(self._saying)

    async def _send_frame(self, ws: Any, ulaw: bytes) -> None:
        self._sequence += 1
        self._chunk += 1
        await self._send_text(ws, self._media.encode(self._sequence, self._chunk, ulaw))

    async def _say(self, ws: Any, ulaw: bytes) -> float:
        """Stream one utterance in 20 ms frames; returns when its last frame went out."""
        frames = [ulaw[i : i + FRAME_BYTES] for i in range(0, len(ulaw), FRAME_BYTES)]
        self._saying, self._cleared_while_saying = True, False
        first = last = None
        for frame in frames:
            if self.paced:
                await self._frame_slot()
            await self._send_frame(ws, frame.ljust(FRAME_BYTES, ULAW_SILENCE))
            if audioop.rms(ulaw_to_pcm16(frame), 2) >= SPEECH_RMS:
                last = trio.current_time()
                first = last if first is None else first
        self._saying = False
        self.speech_spans.append(None if first is None or last is None else (first, last))
        if not self.paced:
            self._next_slot = trio.current_time()  # the silence after it is paced from now
        return trio.current_time()

    async def _frame_slot(self) -> None:
        """Wait for the next 20 ms slot. One clock all call long, as Twilio's: restarted
        for each utterance and each wait, it would gain a frame every time, and the audio
        would run ahead of the wall clock (Deepgram's word times are mapped onto it)."""
        await trio.sleep_until(self._next_slot)
        self._next_slot += FRAME_S

    async def _wait_for_agent(
        self, ws: Any, since: float, cut_after: float | None = None
    ) -> float | None:
        """Stream silence until the agent has replied and gone quiet; the reply's latency.

        With ``cut_after``, stop waiting that many seconds into the agent's audio instead.
        Returns None when the agent said nothing within ``reply_timeout_s``.
        """
        self._reply_since, self._reply_first_audio = since, None
        self.reply_arrivals.append([])
        deadline = since + self.reply_timeout_s
        while not self._closed_by_server and trio.current_time() < deadline:
            now, first = trio.current_time(), self._reply_first_audio
            if cut_after is not None and first is not None and now >= first + cut_after:
                break
            if self._agent_done(now):
                break
            await self._frame_slot()
            await self._send_frame(ws, SILENCE_FRAME)
        first = self._reply_first_audio
        return None if first is None else round((first - since) * 1000, 1)

    def _agent_done(self, now: float) -> bool:
        last = self.playback.last_audio_at
        return (
            self._reply_first_audio is not None
            and last is not None
            and now - last >= self.reply_quiet_s
            and not self.playback.speaking(now)
        )

    async def _read(self, ws: Any) -> None:
        try:
            while True:
                message = json.loads(await ws.get_message())
                self._on_server_message(message, trio.current_time())
        except trio_websocket.ConnectionClosed:
            self._closed_by_server = True
            self._closed_while_saying |= int(self._saying)

    def _on_server_message(self, message: dict[str, Any], now: float) -> None:
        match message.get("event"):
            case "media":
                if self._reply_first_audio is None:
                    self._reply_first_audio = now
                frames = self.playback.media(base64.b64decode(message["media"]["payload"]), now)
                if self.reply_arrivals:
                    self.reply_arrivals[-1].extend([now] * frames)
                self.media_after_clear += frames * (self._saying and self._cleared_while_saying)
            case "mark":
                self.playback.mark(message["mark"]["name"], now)
                self._marks_changed.set()
            case "clear":
                self.clears += 1
                self.clear_times.append(now)
                self._cleared_while_saying = self._saying
                self._echo.extend(self.playback.clear(now))
                self._marks_changed.set()

    async def _play_out(self, ws: Any) -> None:
        """Echo each mark when the audio before it has played, as Twilio does: woken when
        the next one is due or a mark or clear arrives, not every frame (a hundred callers
        polling would load the bench's core)."""
        while True:
            self._marks_changed = trio.Event()
            for name in self._echo + self.playback.played(trio.current_time()):
                await self._send(ws, mark_message(self._stream_sid, name))
            self._echo.clear()
            due = self.playback.next_mark_at()
            with trio.move_on_at(math.inf if due is None else due):
                await self._marks_changed.wait()

    async def _linger(self, ws: Any) -> None:
        """Stay on the line, silent, until the receptionist hangs up or ``linger_s`` passes."""
        deadline = trio.current_time() + self.linger_s
        while not self._closed_by_server and trio.current_time() < deadline:
            await self._frame_slot()
            await self._send_frame(ws, SILENCE_FRAME)

    async def _hang_up(self, ws: Any) -> None:
        if not self._closed_by_server:
            stop = stop_message(self._stream_sid, self.call_sid, self._sequence + 1)
            await self._send(ws, stop)
