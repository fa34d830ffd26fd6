import base64
import json

import pytest

from receptionist.errors import TwilioProtocolError
from receptionist.telephony import media_streams as tp
from tests.helpers.paths import SAMPLES

TWILIO = SAMPLES / "twilio"


def sample(name: str) -> str:
    return (TWILIO / name).read_text()


def test_connected_sample_parses():
    assert tp.parse_message(sample("ws_in_connected.json")) == tp.Connected("Call", "1.0.0")


def test_start_sample_parses_with_format_and_custom_parameters():
    start = tp.parse_message(sample("ws_in_start.json"))
    assert isinstance(start, tp.StreamStart)
    assert start.stream_sid == "MZXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX"
    assert start.call_sid == "CAXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX"
    assert start.tracks == ("inbound",)
    assert (start.encoding, start.sample_rate, start.channels) == ("audio/x-mulaw", 8000, 1)
    assert dict(start.parameters) == {"FirstName": "Jane", "LastName": "Doe", "RemoteParty": "Bob"}
    tp.check_media_format(start)


def test_mark_dtmf_stop_samples_parse():
    assert tp.parse_message(sample("ws_in_mark.json")) == tp.Mark("my label")
    assert tp.parse_message(sample("ws_in_dtmf.json")) == tp.Dtmf("1")
    assert tp.parse_message(sample("ws_in_stop.json")) == tp.Stop(
        "CAXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX"
    )


@pytest.mark.parametrize(
    "name", ["ws_in_media_inbound_track.json", "ws_in_media_outbound_track.json"]
)
def test_media_samples_parse_once_given_a_real_payload(name):
    # Twilio's docs abbreviate the payload ("no+JhoaJjpz...", not base64): the envelope is
    # real, so parse it with a real payload put in, and the abbreviation as a clear error.
    message = json.loads(sample(name))
    with pytest.raises(TwilioProtocolError, match="not base64"):
        tp.parse_message(json.dumps(message))
    message["media"]["payload"] = base64.b64encode(b"\xff" * 160).decode()
    media = tp.parse_message(json.dumps(message))
    assert isinstance(media, tp.Media)
    assert media.ulaw == b"\xff" * 160
    assert media.track == json.loads(sample(name))["media"]["track"]
    assert (media.chunk, media.timestamp_ms) == (int(message["media"]["chunk"]), 5)


@pytest.mark.parametrize(
    ("frame", "complaint"),
    [
        ("not json", "not JSON"),
        ("[1, 2]", "JSON object"),
        ('{"event": "telepathy"}', "unknown event"),
        ('{"event": "media"}', "bad 'media'"),
        ('{"event": "dtmf", "dtmf": {"digit": "x"}}', "not a DTMF digit"),
        ('{"event": "start", "start": {"callSid": "CA1"}}', "bad 'start'"),
        ('{"event": "mark", "mark": {"name": ""}}', "bad 'mark'"),
    ],
)
def test_malformed_frames_raise_clear_errors(frame, complaint):
    with pytest.raises(TwilioProtocolError, match=complaint):
        tp.parse_message(frame)


def test_unsupported_media_format_is_refused():
    message = json.loads(sample("ws_in_start.json"))
    message["start"]["mediaFormat"]["sampleRate"] = 16000
    start = tp.parse_message(json.dumps(message))
    assert isinstance(start, tp.StreamStart)
    with pytest.raises(TwilioProtocolError, match="unsupported media format"):
        tp.check_media_format(start)


def test_outbound_messages_match_the_documented_shapes():
    sid = "MZXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX"
    clear = json.loads(tp.clear_message(sid))
    assert clear == json.loads(sample("ws_out_clear.json"))
    assert json.loads(tp.mark_message(sid, "my label")) == json.loads(sample("ws_out_mark.json"))
    media = json.loads(tp.media_message(sid, b"\x00\x01"))
    documented = json.loads(sample("ws_out_media.json"))
    assert media.keys() == documented.keys()
    assert media["media"].keys() == documented["media"].keys()
    assert base64.b64decode(media["media"]["payload"]) == b"\x00\x01"


def test_deeply_nested_json_is_a_protocol_error():
    with pytest.raises(TwilioProtocolError, match="nested"):
        tp.parse_message("[" * 30_000)
