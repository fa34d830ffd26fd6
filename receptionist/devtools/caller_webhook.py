"""The caller's HTTP leg, as Twilio's: ``/incoming-call`` requested (form-encoded, signed
when an auth token is given), ``<Redirect>``s followed after their ``<Pause>``, and the
``<Connect><Stream>`` URL and ``<Parameter>``s read from the TwiML. ``CallerWebhook`` is the
part of ``TwilioCaller`` (twilio_caller.py) that does it."""

from __future__ import annotations

from urllib.parse import urlsplit
from xml.etree import ElementTree

import httpx
import trio

from receptionist.telephony.webhooks import twilio_signature

MAX_REDIRECTS = 10
"""``<Redirect>``s followed before giving up, as a bound on a loop between servers."""


class CallerWebhook:
    """Asks the server at ``base_url`` for a call's TwiML, as Twilio does."""

    base_url: str
    call_sid: str
    caller: str
    auth_token: str

    async def answer_webhook(self) -> tuple[str, dict[str, str]]:
        """POST /incoming-call as Twilio does; the stream URL and parameters from the TwiML."""
        url = f"{self.base_url}/incoming-call"
        self.redirects = 0
        for _ in range(MAX_REDIRECTS + 1):
            twiml = ElementTree.fromstring(await self._post_webhook(url))
            stream = twiml.find("Connect/Stream")
            redirect = twiml.find("Redirect")
            if stream is not None or redirect is None:
                break
            # A draining server sends Twilio elsewhere: wait its <Pause>, then follow.
            pause = twiml.find("Pause")
            await trio.sleep(float(pause.get("length", "1")) if pause is not None else 0)
            target = urlsplit((redirect.text or "").strip())
            url = f"{self.base_url}{target.path}" + (f"?{target.query}" if target.query else "")
            self.redirects += 1
        if stream is None:
            raise ValueError(f"no <Connect><Stream> in {ElementTree.tostring(twiml)!r}")
        parameters = {p.get("name", ""): p.get("value", "") for p in stream.findall("Parameter")}
        return stream.get("url", ""), parameters

    async def _post_webhook(self, url: str) -> str:
        form = {"CallSid": self.call_sid, "From": self.caller, "To": "+15550000000"}
        headers = {}
        if self.auth_token:
            headers["X-Twilio-Signature"] = twilio_signature(self.auth_token, url, form.items())
        async with httpx.AsyncClient() as client:
            response = await client.post(url, data=form, headers=headers)
        response.raise_for_status()
        return response.text
