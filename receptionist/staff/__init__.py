"""Staff in the loop: Twilio's REST API, the warm transfer, and what reaches the clinic and the
caller after a call.

- ``twilio_rest``: Twilio's REST API (calls, conference participants, SMS); ``transfer``: the
  warm transfer.
- ``report``: the post-call report, composed from the call's record (I/O-free).
- ``summary``: the LLM brain's two-sentence summary of a call, time-boxed, with a fallback.
- ``signature``: the webhook's signature scheme (sign and verify; I/O-free).
- ``webhook``: POSTs reports and messages for the clinic from the outbox, signed.
- ``sms``: the caller's confirmation texts after a booking, move or cancellation.
- ``delivery``: the outbox worker loop the webhook and the texts go through.
"""
