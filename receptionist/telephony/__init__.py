"""Twilio on the wire, without I/O: Media Streams messages, webhook signatures, stream
tokens, TwiML."""
