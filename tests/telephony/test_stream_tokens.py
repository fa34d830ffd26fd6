"""Media-stream tokens: bound to the stream's parameters, short-lived, one stream each."""

from __future__ import annotations

import pytest

from receptionist.telephony.stream_tokens import STREAM_TOKEN_TTL_S, StreamTokens

ISSUED_AT = 1_800_000_000.0
PARAMETERS = {"callSid": "CA1", "caller": "+15551234567"}


class Clock:
    def __init__(self) -> None:
        self.now = ISSUED_AT

    def __call__(self) -> float:
        return self.now


def issued(tokens: StreamTokens, parameters: dict[str, str] = PARAMETERS) -> dict[str, str]:
    return {**parameters, "token": tokens.issue(parameters)}


def test_a_token_opens_one_stream_for_its_call():
    tokens = StreamTokens(b"s3cret", clock=Clock())
    stream = issued(tokens)
    assert tokens.redeem("CA1", stream)
    # The misbehaving peer replays the same start: refused.
    assert not tokens.redeem("CA1", stream)


@pytest.mark.parametrize(
    "edit",
    [
        {"caller": "+15559999999"},  # a holder rewrites the caller's number
        {"callSid": "CA2"},
        {"extra": "1"},
    ],
)
def test_a_token_is_bound_to_every_parameter_of_the_stream(edit):
    tokens = StreamTokens(b"s3cret", clock=Clock())
    stream = {**issued(tokens), **edit}
    assert not tokens.redeem(stream["callSid"], stream)


def test_a_token_is_bound_to_the_call_the_stream_starts():
    tokens = StreamTokens(b"s3cret", clock=Clock())
    assert not tokens.redeem("CA2", issued(tokens))


def test_a_token_expires_shortly_after_issue():
    clock = Clock()
    tokens = StreamTokens(b"s3cret", clock=clock)
    stream = issued(tokens)
    clock.now = ISSUED_AT + STREAM_TOKEN_TTL_S + 1
    assert not tokens.redeem("CA1", stream)


def test_another_process_on_the_same_secret_accepts_it_once_too():
    clock = Clock()
    here, there = StreamTokens(b"one secret", clock=clock), StreamTokens(b"one secret", clock=clock)
    stream = issued(here)
    assert there.redeem("CA1", stream)
    assert not there.redeem("CA1", stream)
    assert not StreamTokens(b"other", clock=clock).redeem("CA1", stream)


@pytest.mark.parametrize("token", ["", "forged", "1800000000.zz", "tökén.tökén", ".", "x.y"])
def test_malformed_tokens_are_refused_not_crashed(token):
    tokens = StreamTokens(b"s3cret", clock=Clock())
    assert not tokens.redeem("CA1", {**PARAMETERS, "token": token})


def test_redeemed_tokens_are_forgotten_once_expired():
    clock = Clock()
    tokens = StreamTokens(b"s3cret", clock=clock)
    assert tokens.redeem("CA1", issued(tokens))
    clock.now += STREAM_TOKEN_TTL_S + 1
    tokens.redeem("CA1", issued(tokens))
    assert len(tokens._redeemed) == 1
