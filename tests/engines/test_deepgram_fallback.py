"""Deepgram's circuit breaker: the real Listener with ``FallbackRecognizer`` against the fake
Deepgram refusing every connection, dying mid-call and stalling (autojump clock). Behind it
the real offline ``UtteranceRecognizer``, whose decoder answers from a script."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import trio
from structlog.testing import capture_logs

from receptionist.config import DeepgramConfig, VadConfig
from receptionist.devtools.fakes.deepgram import FakeDeepgram
from receptionist.devtools.fakes.deepgram_script import utterance
from receptionist.engines.deepgram import DeepgramSettings, listen_url
from receptionist.engines.deepgram_stream import DeepgramRecognizer
from receptionist.engines.recognizer_fallback import FallbackRecognizer
from receptionist.engines.sphinx import Recognition
from receptionist.engines.utterance_recognizer import UtteranceRecognizer
from receptionist.engines.utterances import UtteranceAssembler
from receptionist.engines.vad import SpeechSegmenter, new_segmenter
from receptionist.messages import Expectation, InboundAudio, ListenFor, Transcript
from stages.listener import ListenerEngines
from tests.helpers.deepgram import listener
from tests.helpers.listening import FRAME_S, LoudVad, frames_for

DEADLINE_S = 60
KEY = "dg-test-0123456789abcdef"
VAD = VadConfig()
TWO = [utterance("I would like to book a check up", 0.5, 2.4), utterance("next Tuesday", 3.6, 4.6)]


@dataclass
class ScriptedDecoder:
    """The offline decoder's stand-in: answers in order, noting each utterance's length."""

    answers: list[str]
    heard_s: list[float] = field(default_factory=list)

    async def recognize(self, pcm16: bytes, expectation: Expectation) -> Recognition:
        self.heard_s.append(len(pcm16) / 16000)
        return Recognition(self.answers.pop(0) if self.answers else "", 0.9)


async def listen(
    fake: FakeDeepgram, audio: Sequence[bytes], decoder: ScriptedDecoder, **settings: Any
) -> tuple[list[Transcript], FallbackRecognizer]:
    """The Listener on ``audio`` (a frame per 20 ms) with Deepgram falling back to the
    offline recogniser; the final transcripts with words it sent, and the recogniser."""
    finals: list[Transcript] = []
    async with trio.open_nursery() as nursery:
        url = await nursery.start(fake.serve)
        dg = DeepgramSettings(url=listen_url(DeepgramConfig(base_url=url)), api_key=KEY,
                              chunk_frames=3, **settings)  # fmt: skip
        segmenter = new_segmenter(VAD)
        recognizer = FallbackRecognizer(
            DeepgramRecognizer(dg),
            partial(offline, decoder, segmenter),
            replay_frames=round((VAD.max_utterance_s + 5) / FRAME_S),
        )
        audio_send, audio_recv = trio.open_memory_channel[InboundAudio](50)
        hints_send, hints_recv = trio.open_memory_channel[ListenFor](4)
        events_send, events_recv = trio.open_memory_channel[Any](64)
        engines = ListenerEngines(LoudVad(), segmenter, recognizer)
        await nursery.start(listener(audio_recv, hints_recv, events_send, engines))
        with audio_send, hints_send:
            for frame in audio:
                await audio_send.send(InboundAudio(frame, trio.current_time()))
                await trio.sleep(FRAME_S)
        async for event in events_recv:
            if isinstance(event, Transcript) and event.is_final and event.text:
                finals.append(event)  # not a Finalize's empty answer
        nursery.cancel_scope.cancel()
    return finals, recognizer


async def offline(decoder: ScriptedDecoder, segmenter: SpeechSegmenter) -> UtteranceRecognizer:
    assembler = UtteranceAssembler(
        segmenter, preroll_ms=VAD.preroll_ms, max_utterance_s=VAD.max_utterance_s
    )
    return UtteranceRecognizer(decoder, assembler)


def fallbacks(logs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e for e in logs if e["event"] == "stt.fallback"]


async def test_deepgram_refusing_every_connection_is_heard_offline_from_the_start(
    autojump_clock: trio.abc.Clock,
) -> None:
    fake = FakeDeepgram(api_key=KEY, script=TWO, reject_status=503, reject_connections=99)
    decoder = ScriptedDecoder(["i would like to book a check up", "next tuesday"])
    with capture_logs() as logs, trio.fail_after(DEADLINE_S):
        finals, recognizer = await listen(fake, frames_for(TWO, 6.0), decoder,
                                          reconnect_attempts=2)  # fmt: skip
    assert fake.refused == [503] * 3
    assert recognizer.fell_back
    assert [t.text for t in finals] == ["i would like to book a check up", "next tuesday"]
    (fallback,) = fallbacks(logs)
    assert "2 reconnects failed" in fallback["error"]


async def test_deepgram_dying_mid_call_loses_no_turn(autojump_clock: trio.abc.Clock) -> None:
    """Deepgram answers the first utterance, then drops and refuses every reconnect while
    the caller says the second: the offline recogniser decodes it from the kept audio."""
    fake = FakeDeepgram(api_key=KEY, script=TWO, down_after_s=3.0)
    decoder = ScriptedDecoder(["next tuesday"])
    with capture_logs() as logs, trio.fail_after(DEADLINE_S):
        finals, recognizer = await listen(fake, frames_for(TWO, 12.0), decoder)
    assert [t.text for t in finals] == ["I would like to book a check up", "next tuesday"]
    (connection,) = fake.connections
    assert connection.closed == (1011, "NET-0000")
    assert fake.refused == [503] * 5  # every reconnect (deepgram.reconnect_attempts)
    assert len(decoder.heard_s) == 1, "only the utterance Deepgram did not answer"
    assert 1.0 < decoder.heard_s[0] < 2.0  # all of "next Tuesday" (1 s) and its margins
    assert len(fallbacks(logs)) == 1
    assert recognizer.fell_back


async def test_a_stalled_deepgram_hands_over_after_two_stalls(
    autojump_clock: trio.abc.Clock,
) -> None:
    """Deepgram goes silent after the first utterance: the second's Finalize gets no answer,
    nor does it on a new connection; the offline recogniser decodes the second utterance."""
    fake = FakeDeepgram(api_key=KEY, script=TWO, stall_after_s=3.0)
    decoder = ScriptedDecoder(["next tuesday"])
    with capture_logs() as logs, trio.fail_after(DEADLINE_S):
        finals, _ = await listen(fake, frames_for(TWO, 12.0), decoder)
    assert [t.text for t in finals] == ["I would like to book a check up", "next tuesday"]
    _, second = fake.connections
    assert second.received[0][1] == "Finalize", "the unanswered Finalize asks the new stream"
    (fallback,) = fallbacks(logs)
    assert "stalled" in fallback["error"]
    assert len(decoder.heard_s) == 1
    stalled_at = next(e for e in logs if e["event"] == "deepgram.reconnecting")
    assert "stalled" in stalled_at["error"]


async def test_a_healthy_deepgram_never_falls_back(autojump_clock: trio.abc.Clock) -> None:
    fake = FakeDeepgram(api_key=KEY, script=TWO)
    decoder = ScriptedDecoder([])
    with capture_logs() as logs, trio.fail_after(DEADLINE_S):
        finals, recognizer = await listen(fake, frames_for(TWO, 6.0), decoder)
    assert [t.text for t in finals] == [u.text for u in TWO]
    assert not recognizer.fell_back
    assert not fallbacks(logs)
    assert decoder.heard_s == []
    (connection,) = fake.connections
    assert connection.received[-1][1] == "CloseStream"
