"""Staff in the loop: what reaches the clinic after a call.

- ``report``: the post-call report, composed from the call's record (I/O-free).
- ``summary``: the LLM brain's two-sentence summary of a call, time-boxed, with a fallback.
- ``signature``: the webhook's signature scheme (sign and verify; I/O-free).
- ``webhook``: POSTs reports and messages for the clinic from the outbox, signed.
- ``delivery``: the outbox worker loop the webhook (and the SMS) deliver through.
"""
