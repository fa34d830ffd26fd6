"""Twilio webhooks without I/O: signature checks, stream tokens, TwiML.

Security by default:
- every media stream must carry a token that only our own ``/incoming-call`` answer hands
  out (``stream_tokens.py``: bound to the stream's parameters, short-lived, one stream
  each): a stream cannot skip the webhook;
- with ``TWILIO_AUTH_TOKEN`` set, every webhook must carry a valid ``X-Twilio-Signature``,
  so only Twilio gets tokens, and so must the media stream's WebSocket upgrade (Twilio
  signs its URL). Without it anyone can ask the webhook for a token: the server warns at
  start-up, and ``server.max_calls`` still bounds what that can cost.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable, Mapping
from urllib.parse import parse_qs, urlsplit, urlunsplit
from xml.etree import ElementTree

STREAM_PATH = "/media-stream"
CALL_ENDED_PATH = "/call-ended"


# --- X-Twilio-Signature ------------------------------------------------------------------


def twilio_signature(auth_token: str, url: str, params: Iterable[tuple[str, str]] = ()) -> str:
    """base64(HMAC-SHA1(auth_token, url + each sorted key followed by its sorted values))."""
    grouped: dict[str, set[str]] = {}
    for key, value in params:
        grouped.setdefault(key, set()).add(value)
    payload = url + "".join(
        key + value for key in sorted(grouped) for value in sorted(grouped[key])
    )
    digest = hmac.new(auth_token.encode(), payload.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def is_valid_twilio_request(
    auth_token: str,
    url: str,
    params: Iterable[tuple[str, str]],
    signature: str,
    body: bytes = b"",
) -> bool:
    """Check a webhook as Twilio's own validators do.

    Twilio may have signed the URL with or without the default port, so both are tried.
    A JSON-body webhook carries ``bodySHA256`` in its query: then the body's hash must match
    and no parameters are signed.
    """
    query = parse_qs(urlsplit(url).query)
    if "bodySHA256" in query:
        body_hash = hashlib.sha256(body).hexdigest()
        if not hmac.compare_digest(body_hash, query["bodySHA256"][0]):
            return False
        params = ()
    params = list(params)
    return any(
        hmac.compare_digest(
            twilio_signature(auth_token, candidate, params).encode(), signature.encode()
        )
        for candidate in (_without_port(url), _with_default_port(url))
    )


def _without_port(url: str) -> str:
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"{parts.username}:{parts.password}@{host}" if parts.username else host
    return urlunsplit(parts._replace(netloc=netloc))


def _with_default_port(url: str) -> str:
    parts = urlsplit(url)
    if parts.port is not None:
        return url
    port = 443 if parts.scheme == "https" else 80
    return urlunsplit(parts._replace(netloc=f"{parts.netloc}:{port}"))


# --- Public URL and TwiML ----------------------------------------------------------------


def public_base_url(configured: str, headers: Mapping[str, str], fallback_scheme: str) -> str:
    """The https base URL Twilio reached us on: configured, else what the proxy told us."""
    if configured:
        return configured.rstrip("/")
    scheme = headers.get("X-Forwarded-Proto", fallback_scheme).split(",")[0].strip()
    host = headers.get("X-Forwarded-Host") or headers.get("Host", "localhost")
    return f"{scheme}://{host.split(',')[0].strip()}"


def websocket_url(base_url: str, path: str = STREAM_PATH) -> str:
    parts = urlsplit(base_url)
    scheme = "wss" if parts.scheme == "https" else "ws"
    return urlunsplit((scheme, parts.netloc, parts.path.rstrip("/") + path, "", ""))


def connect_stream_twiml(base_url: str, parameters: Mapping[str, str]) -> str:
    """<Connect action=.../call-ended><Stream url=wss://.../media-stream> with <Parameter>s."""
    response = ElementTree.Element("Response")
    connect = ElementTree.SubElement(response, "Connect", action=base_url + CALL_ENDED_PATH)
    stream = ElementTree.SubElement(connect, "Stream", url=websocket_url(base_url))
    for name, value in parameters.items():
        ElementTree.SubElement(stream, "Parameter", name=name, value=value)
    return document(response)


def after_stream_twiml(transfer_to: str | None, apology: str | None = None) -> str:
    """What Twilio does once our stream has ended: hand over to a person, or hang up.

    ``apology`` is spoken by Twilio itself, so a caller hears it even when our own pipeline
    failed.
    """
    response = ElementTree.Element("Response")
    if apology:
        ElementTree.SubElement(response, "Say").text = apology
    if transfer_to:
        ElementTree.SubElement(response, "Dial").text = transfer_to
    else:
        ElementTree.SubElement(response, "Hangup")
    return document(response)


def document(element: ElementTree.Element) -> str:
    return '<?xml version="1.0" encoding="UTF-8"?>' + ElementTree.tostring(
        element, encoding="unicode"
    )
