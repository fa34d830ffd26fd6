import json
from xml.etree import ElementTree

import pytest

from receptionist.telephony import webhooks
from tests.helpers.paths import SAMPLES

TWILIO = SAMPLES / "twilio"


def load(name: str) -> dict:
    return json.loads((TWILIO / name).read_text())


def test_signature_of_form_params_matches_twilio():
    sample = load("signature_form_params.json")
    params = list(sample["params"].items())
    assert (
        webhooks.twilio_signature(sample["auth_token"], sample["url"], params)
        == sample["expected_signature"]
    )
    assert webhooks.is_valid_twilio_request(
        sample["auth_token"], sample["url"], params, sample["expected_signature"]
    )


def test_signature_port_variants_validate_as_twilio_does():
    sample = load("signature_form_params.json")
    token, params = sample["auth_token"], list(sample["params"].items())
    variants = sample["also_valid"]
    # Signed with :443 added; the request came without a port.
    signed_with_port = variants["https_with_explicit_port_443 (validator adds :443 and tries both)"]
    assert webhooks.is_valid_twilio_request(token, sample["url"], params, signed_with_port)
    # The request came with a port; Twilio signed it without.
    with_port = "https://mycompany.com:1234/myapp.php?foo=1&bar=2"
    assert webhooks.is_valid_twilio_request(token, with_port, params, sample["expected_signature"])
    http_1234 = "http://mycompany.com:1234/myapp.php?foo=1&bar=2"
    signature = variants[
        "http url with port 1234 (http://mycompany.com:1234/myapp.php?foo=1&bar=2)"
    ]
    assert webhooks.is_valid_twilio_request(token, http_1234, params, signature)
    http_plain = "http://mycompany.com/myapp.php?foo=1&bar=2"
    signature = variants[
        "http url with port 80 added (request url http://mycompany.com/myapp.php?foo=1&bar=2)"
    ]
    assert webhooks.is_valid_twilio_request(token, http_plain, params, signature)


def test_multi_valued_params_are_deduplicated_and_sorted():
    sample = load("signature_duplicate_params.json")
    params = [tuple(pair) for pair in sample["params_multi"]]
    assert (
        webhooks.twilio_signature(sample["auth_token"], sample["url"], params)
        == sample["expected_signature"]
    )


def test_json_body_signature_checks_the_body_hash():
    sample = load("signature_json_body.json")
    body = sample["body"].encode()
    token, url, signature = sample["auth_token"], sample["url"], sample["expected_signature"]
    assert webhooks.is_valid_twilio_request(token, url, [], signature, body=body)
    assert not webhooks.is_valid_twilio_request(token, url, [], signature, body=body + b" ")


@pytest.mark.parametrize("tamper", ["url", "param", "signature", "token"])
def test_tampered_requests_are_refused(tamper):
    sample = load("signature_form_params.json")
    token, url, signature = sample["auth_token"], sample["url"], sample["expected_signature"]
    params = list(sample["params"].items())
    if tamper == "url":
        url += "&x=1"
    elif tamper == "param":
        params[0] = (params[0][0], params[0][1] + "0")
    elif tamper == "signature":
        signature = "A" + signature[1:]
    else:
        token = "54321"
    assert not webhooks.is_valid_twilio_request(token, url, params, signature)


def test_public_url_from_proxy_headers_or_config():
    headers = {"X-Forwarded-Proto": "https", "Host": "abc.ngrok.app"}
    assert webhooks.public_base_url("", headers, "http") == "https://abc.ngrok.app"
    assert webhooks.public_base_url("https://x.example/", headers, "http") == "https://x.example"
    assert (
        webhooks.public_base_url("", {"Host": "127.0.0.1:8080"}, "http") == "http://127.0.0.1:8080"
    )
    assert webhooks.websocket_url("https://abc.ngrok.app") == "wss://abc.ngrok.app/media-stream"
    assert webhooks.websocket_url("http://127.0.0.1:80") == "ws://127.0.0.1:80/media-stream"


def test_connect_stream_twiml_shape_matches_twilio_docs():
    twiml = webhooks.connect_stream_twiml(
        "https://abc.ngrok.app", {"caller": "+1555<&>", "callSid": "CA1"}
    )
    root = ElementTree.fromstring(twiml)
    assert root.tag == "Response"
    (connect,) = root
    assert (connect.tag, connect.get("action")) == ("Connect", "https://abc.ngrok.app/call-ended")
    (stream,) = connect
    assert stream.get("url") == "wss://abc.ngrok.app/media-stream"
    assert {p.get("name"): p.get("value") for p in stream} == {
        "caller": "+1555<&>",
        "callSid": "CA1",
    }
    # Same element structure as Twilio's documented example.
    documented = ElementTree.fromstring(
        (TWILIO / "twiml_connect_stream_with_parameter.xml").read_text().replace("<ngrok url>", "x")
    )
    doc_stream = documented.find("Connect/Stream")
    assert doc_stream is not None
    assert [p.tag for p in doc_stream] == ["Parameter"]


def test_after_stream_twiml_dials_or_hangs_up():
    assert (
        ElementTree.fromstring(webhooks.after_stream_twiml("+15550001111")).find("Dial").text
        == "+15550001111"
    )
    assert ElementTree.fromstring(webhooks.after_stream_twiml(None)).find("Hangup") is not None


def test_non_ascii_tokens_and_signatures_are_refused_not_crashed():
    assert not webhooks.is_valid_twilio_request("12345", "https://x/y", [], "sïg")


def test_a_get_webhook_is_signed_on_its_url_alone():
    url = "https://mycompany.com/incoming-call?CallSid=CA1&From=%2B1555"
    signature = webhooks.twilio_signature("12345", url)
    assert webhooks.is_valid_twilio_request("12345", url, [], signature)
