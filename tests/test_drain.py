"""The drain's bookkeeping and TwiML, without I/O."""

from __future__ import annotations

from xml.etree import ElementTree

import trio
import trio.testing

from receptionist.drain import MAX_REDIRECTS, Drain, redirect_twiml, run_drain

URL = "https://clinic.example/incoming-call"


def test_a_draining_server_redirects_to_its_public_url_after_a_pause() -> None:
    twiml = ElementTree.fromstring(redirect_twiml(URL, 0, "+15550001111"))
    assert [child.tag for child in twiml] == ["Pause", "Redirect"]
    assert twiml.find("Redirect").text == f"{URL}?redirects=1"  # type: ignore[union-attr]


def test_after_many_redirects_the_caller_goes_to_a_person() -> None:
    twiml = ElementTree.fromstring(redirect_twiml(URL, MAX_REDIRECTS, "+15550001111"))
    assert [child.tag for child in twiml] == ["Dial"]
    # Without a transfer number the caller is redirected again: never a dead line.
    again = ElementTree.fromstring(redirect_twiml(URL, MAX_REDIRECTS, None))
    assert again.find("Redirect") is not None


async def test_the_deadline_ends_the_calls_still_going(autojump_clock: trio.abc.Clock) -> None:
    drain = Drain()
    ended: list[float] = []

    async def call(seconds: float) -> None:
        with drain.admit() as ending, ending:
            await trio.sleep(seconds)
        ended.append(trio.current_time())

    async with trio.open_nursery() as nursery:
        nursery.start_soon(call, 5)
        nursery.start_soon(call, 500)
        await trio.testing.wait_all_tasks_blocked()
        assert drain.active_calls == 2
        await run_drain(drain, 60)
    assert drain.draining
    assert ended == [5, 60], "the short call finished; the long one ended at the deadline"
    assert drain.active_calls == 0
