"""Deepgram live STT without I/O: the recorded samples parse, our messages are the samples,
the settings, and transcript assembly (synchronous). The recogniser against the fake server
is in test_deepgram.py."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
from structlog.testing import capture_logs

from receptionist.config import Config, DeepgramConfig, parse_config
from receptionist.engines import deepgram_protocol as dp
from receptionist.engines.deepgram import (
    StreamOrigin,
    TranscriptAssembler,
    build_deepgram_settings,
)
from receptionist.errors import ConfigError, SpeechRecognitionError
from receptionist.messages import (
    SpeechStarted,
    SpeechStopped,
    Transcript,
)
from tests.helpers.deepgram import KEY, deepgram_config, raw_config
from tests.helpers.paths import SAMPLES

DEADLINE_S = 60  # on the autojump clock: a minute of call time, milliseconds of real time
SAMPLE_DIR = SAMPLES / "deepgram"
TRANSCRIPTS = {
    "results_final_mulaw8k_empty.json": "",
    "results_final_mulaw8k_ensure_domestic_tranquility.json": "Ensure domestic tranquility.",
    "results_final_mulaw8k_for_the_united_states_of_ameri.json": (
        "For the United States of America."
    ),
    "results_final_mulaw8k_testing_123_testing_123.json": "Testing. 123. Testing. 123.",
    "server_results_endpointing_doc_example.json": "another big",
    "server_results_final_speech_final.json": "Tell me more about this.",
    "server_results_interim_1.json": "another big",
    "server_results_interim_2.json": "another big problem",
}
SERVER_SAMPLES = sorted(
    p.name for p in SAMPLE_DIR.glob("*.json") if not p.name.startswith("client")
)


def sample(name: str) -> str:
    return (SAMPLE_DIR / name).read_text(encoding="utf-8")


def results(name: str) -> dp.ResultsMessage:
    message = dp.parse_server_message(sample(name))
    assert isinstance(message, dp.ResultsMessage)
    return message


# --- Protocol -----------------------------------------------------------------------------


@pytest.mark.parametrize("name", SERVER_SAMPLES)
def test_every_server_sample_parses(name: str) -> None:
    message = dp.parse_server_message(sample(name))
    kind = json.loads(sample(name)).get("type", "Results")
    assert type(message).__name__ == f"{kind}Message"
    if isinstance(message, dp.ResultsMessage):
        assert message.transcript == TRANSCRIPTS[name]


def test_results_fields() -> None:
    final = results("server_results_final_speech_final.json")
    assert (final.is_final, final.speech_final, final.from_finalize) == (True, True, False)
    assert (final.start, final.duration) == (5.99, 1.98)
    assert [w.punctuated_word for w in final.words] == ["Tell", "me", "more", "about", "this"]
    assert final.words[-1].end == pytest.approx(7.2699995)
    interim = results("server_results_interim_2.json")
    assert not interim.is_final
    assert not interim.speech_final
    assert len(interim.words) == 3


def test_other_server_messages() -> None:
    assert dp.parse_server_message(sample("server_utterance_end.json")) == (
        dp.UtteranceEndMessage(2.395)
    )
    assert dp.parse_server_message(sample("server_speech_started.json")) == (
        dp.SpeechStartedMessage(9.54)
    )
    metadata = dp.parse_server_message(sample("server_metadata_after_closestream.json"))
    assert metadata == dp.MetadataMessage("8c8ebea9-dbec-45fa-a035-e4632cb05b5f", 0.0, 0)
    error = {"type": "Error", "description": "bad", "message": "stop", "variant": "x"}
    assert dp.parse_server_message(json.dumps(error)) == dp.ErrorMessage("bad", "stop", "x")


@pytest.mark.parametrize(
    ("ours", "name"),
    [
        (dp.KEEPALIVE, "client_keepalive.json"),
        (dp.FINALIZE, "client_finalize.json"),
        (dp.CLOSE_STREAM, "client_closestream.json"),
    ],
)
def test_client_messages_are_the_samples(ours: str, name: str) -> None:
    assert json.loads(ours) == json.loads(sample(name))


def test_unknown_types_are_logged_and_skipped() -> None:
    with capture_logs() as logs:
        assert dp.parse_server_message('{"type": "Warning", "x": 1}') is None
    assert logs == [{"event": "deepgram.unknown_message", "type": "Warning", "log_level": "info"}]


@pytest.mark.parametrize("data", ["not json", "[1, 2]", '{"type": "Results", "channel": 3}'])
def test_malformed_messages_raise(data: str) -> None:
    with pytest.raises(SpeechRecognitionError):
        dp.parse_server_message(data)


def test_listen_url() -> None:
    url = urlsplit(dp.listen_url(DeepgramConfig()))
    assert (url.scheme, url.netloc, url.path) == ("wss", "api.deepgram.com", "/v1/listen")
    assert dict(parse_qsl(url.query)) == {
        "model": "nova-3", "encoding": "mulaw", "sample_rate": "8000", "channels": "1",
        "interim_results": "true", "endpointing": "300", "vad_events": "true",
        "utterance_end_ms": "1000", "smart_format": "true",
    }  # fmt: skip


def test_rejection_descriptions() -> None:
    body = b'{"err_code": "INVALID_AUTH", "err_msg": "Invalid credentials.", "request_id": "r"}'
    assert dp.describe_rejection(401, body).endswith("401: INVALID_AUTH: Invalid credentials.")
    assert dp.describe_rejection(502, b"<html>bad gateway</html>").endswith(
        "<html>bad gateway</html>"
    )
    assert [dp.is_retryable_status(s) for s in (401, 400, 429, 503)] == [False, False, True, True]


# --- Settings -----------------------------------------------------------------------------


def test_config_toml_has_the_deepgram_defaults(project_config: Config) -> None:
    assert project_config.deepgram == DeepgramConfig()
    config = deepgram_config()
    assert config.engines.stt == "deepgram"
    assert config.deepgram == DeepgramConfig()


def test_settings_need_the_key_and_hide_it(project_config: Config) -> None:
    assert build_deepgram_settings(project_config) is None
    with pytest.raises(ConfigError, match="needs the DEEPGRAM_API_KEY environment variable"):
        parse_config({**raw_config(), "engines": {"stt": "deepgram"}})
    settings = build_deepgram_settings(deepgram_config())
    assert settings is not None
    assert settings.api_key == KEY
    assert KEY not in repr(settings)
    assert settings.resend_buffer_frames == 250
    assert [settings.backoff(n) for n in range(1, 6)] == [0.25, 0.5, 1.0, 2.0, 2.0]
    with pytest.raises(ConfigError, match=r"deepgram\.keepalive_s"):
        deepgram_config(keepalive_s=12.0)


# --- Transcript assembly ------------------------------------------------------------------


def result(
    text: str, *, final: bool = True, speech_final: bool = False, from_finalize: bool = False,
    end: float = 1.0,
) -> dp.ResultsMessage:  # fmt: skip
    words = tuple(dp.Word(w, end - 0.1, end, 0.9) for w in text.split()[-1:])
    return dp.ResultsMessage(text, 0.9, words, final, speech_final, from_finalize, 0.0, end)


def feed(assembler: TranscriptAssembler, *events: Any) -> list[Transcript]:
    out = (assembler.handle(event, at=10.0 + n) for n, event in enumerate(events))
    return [t for t in out if t is not None]


def test_split_finals_become_one_final_per_utterance() -> None:
    out = feed(
        TranscriptAssembler(),
        result("I would like", final=False),
        result("I would like to book"),
        result("a check", final=False),
        result("a check up", speech_final=True),
        dp.UtteranceEndMessage(2.0),  # after speech_final: nothing left to send
        result("next Tuesday", speech_final=True),
    )
    assert [(t.text, t.is_final) for t in out] == [
        ("I would like", False),
        ("I would like to book", False),
        ("I would like to book a check", False),
        ("I would like to book a check up", True),
        ("next Tuesday", True),
    ]


def test_real_samples_assemble() -> None:
    out = feed(
        TranscriptAssembler(),
        results("server_results_interim_1.json"),
        results("server_results_interim_2.json"),
        results("server_results_final_speech_final.json"),
        results("results_final_mulaw8k_empty.json"),
    )
    assert [t.text for t in out] == [
        "another big",
        "another big problem",
        "Tell me more about this.",
    ]
    assert out[-1].confidence == pytest.approx(0.99964225)


def test_utterance_end_or_finalize_closes_an_utterance() -> None:
    assembler = TranscriptAssembler()
    (ended,) = [
        t for t in feed(assembler, result("ten a m"), dp.UtteranceEndMessage(1.0)) if t.is_final
    ]
    assert ended.text == "ten a m"
    out = feed(assembler, result("John", final=False), result("John Smith", from_finalize=True))
    assert [(t.text, t.is_final) for t in out] == [("John", False), ("John Smith", True)]
    assert feed(assembler, dp.UtteranceEndMessage(3.0)) == []  # nothing left to close


def test_a_finalize_answered_with_nothing_new_is_an_empty_final() -> None:
    """Our Finalize asks "anything more?": an empty answer says the caller's last speech
    brought no words, so their turn need not wait for a final that will not come."""
    assembler = TranscriptAssembler()
    (said,) = feed(assembler, result("Bye.", from_finalize=True))
    assert (said.text, said.is_final) == ("Bye.", True)
    (nothing,) = feed(assembler, result("", from_finalize=True))
    assert (nothing.text, nothing.is_final) == ("", True)
    # Deepgram's own endpointing on silence is no answer to a question of ours.
    assert feed(assembler, result("", final=True, speech_final=True)) == []


def test_an_empty_answer_to_a_finalize_while_the_caller_speaks_again_says_nothing() -> None:
    # Deepgram's own endpointing finalised "Hello there." before answering our Finalize, and
    # the caller went on: the answer covers only the audio before the Finalize, and must not
    # release a reply held for them or end a turn they are in the middle of.
    assembler = TranscriptAssembler()
    heard = feed(
        assembler,
        SpeechStarted(9.0),
        SpeechStopped(10.0),  # the Finalize goes out here
        result("Hello there.", speech_final=True),
        SpeechStarted(10.8),  # "... I'd like to book"
        result("", from_finalize=True),
    )
    assert [(t.text, t.is_final) for t in heard] == [("Hello there.", True)]
    (nothing,) = feed(assembler, SpeechStopped(12.0), result("", from_finalize=True))
    assert (nothing.text, nothing.is_final) == ("", True)  # asked again after this stop


def test_speech_ended_at_prefers_the_local_vad() -> None:
    assembler = TranscriptAssembler()
    (heard,) = feed(assembler, StreamOrigin(100.0), result("yes", speech_final=True, end=1.5))
    assert heard.speech_ended_at == 101.5  # Deepgram's word end on our clock
    out = feed(
        assembler, SpeechStarted(102.0), SpeechStopped(102.7), result("no", speech_final=True)
    )
    assert out[0].speech_ended_at == 102.7
    assert feed(assembler, result("", final=False)) == []
