"""The calendar failing: stopped, refusing the credentials, shared by two pushers, misnamed.

Real Radicale on 127.0.0.1, real clock (see test_sync.py). Changes go through the real
store's outbox (tests/helpers/calendar_outbox.py).
"""

from __future__ import annotations

from collections import Counter
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import pytest
import trio
from structlog.testing import capture_logs

from receptionist.calendar.check import check_calendar
from receptionist.calendar.events import event_uid
from receptionist.calendar.service import open_calendar
from receptionist.config.calendar import CalendarConfig
from tests.helpers.calendar_helpers import (
    CLOCK,
    ENV,
    PREFIX,
    appointment,
    busy_times,
    caldav,
    calendar_settings,
    drained,
    events,
    pushing,
    wait_until,
)
from tests.helpers.calendar_outbox import StoreOutbox
from tests.helpers.clinic import TUESDAY, TZ, at
from tests.helpers.radicale_server import PASSWORD, USER, RadicaleServer

WRONG = {"CALENDAR_SECRET": "not-the-password"}


@pytest.fixture
def own_radicale(tmp_path: Path) -> Any:
    """A Radicale of this test's own, to stop and start again."""
    (tmp_path / "own-radicale").mkdir()
    server = RadicaleServer(tmp_path / "own-radicale")
    server.start()
    yield server
    server.stop()


def attempts(outbox: StoreOutbox) -> int:
    return max((row["attempts"] for row in outbox.unfinished()), default=0)


async def test_a_booking_made_while_the_calendar_is_down_appears_once_when_it_is_back(
    own_radicale: RadicaleServer, outbox: StoreOutbox
) -> None:
    settings = calendar_settings(own_radicale.new_calendar())
    with capture_logs() as logs:
        async with pushing(outbox, settings):
            await trio.to_thread.run_sync(own_radicale.stop)
            outbox.add("upsert", appointment(51))  # the store's transaction: booked

            async def failed_twice() -> bool:
                return await trio.to_thread.run_sync(attempts, outbox) >= 2

            await wait_until(failed_twice)
            await trio.to_thread.run_sync(own_radicale.start)
            await drained(outbox)
    assert list(await events(settings)) == [event_uid(PREFIX, 51)]
    failures = [line for line in logs if line["event"] == "calendar.write_failed"]
    assert failures[0]["booking_id"] == 51
    assert failures[0]["error_kind"] == "CalendarUnavailable"
    assert [line["booking_id"] for line in logs if line["event"] == "calendar.written"] == [51]


async def test_wrong_credentials_are_a_clear_failure_at_check(settings: CalendarConfig) -> None:
    async with caldav(settings, secrets=WRONG) as client:
        steps = await check_calendar(client, settings, TZ, CLOCK())
    assert [(step.name, step.ok) for step in steps] == [("connect", True), ("authenticate", False)]
    assert "HTTP 401" in steps[-1].detail
    assert "$CALENDAR_SECRET" in steps[-1].detail
    assert "not-the-password" not in steps[-1].detail


async def test_wrong_credentials_at_start_up_are_logged_and_bookings_wait_for_them(
    settings: CalendarConfig, outbox: StoreOutbox
) -> None:
    with capture_logs() as logs:
        async with open_calendar(settings, outbox, TZ, days_ahead=7, now=CLOCK, secrets=WRONG):
            outbox.add("upsert", appointment(52))

            async def failed() -> bool:
                return await trio.to_thread.run_sync(attempts, outbox) >= 1

            await wait_until(failed)
    assert logs[0]["event"] == "calendar.auth_failed"
    assert logs[0]["log_level"] == "error"
    assert "$CALENDAR_SECRET" in logs[0]["check"]
    failure = next(line for line in logs if line["event"] == "calendar.write_failed")
    assert failure["booking_id"] == 52
    assert failure["error_kind"] == "CalendarAuthError"
    assert [row["key"] for row in outbox.unfinished()] == ["appointment:52"]  # kept, not lost
    assert not any("not-the-password" in str(line) for line in logs)
    assert await events(settings) == {}


async def test_check_tries_every_step_and_leaves_nothing_behind(settings: CalendarConfig) -> None:
    async with caldav(settings) as client:
        steps = await check_calendar(client, settings, TZ, CLOCK())
    assert [(step.name, step.ok) for step in steps] == [
        ("connect", True),
        ("authenticate", True),
        ("calendar", True),
        ("read", True),
        ("write", True),
        ("delete", True),
    ]
    assert "0 events on Wednesday 02 December" in steps[3].detail
    assert await events(settings) == {}


@pytest.mark.parametrize("path", ["/", f"/{USER}/"])
async def test_check_lists_the_calendars_found_from_a_url_that_is_not_one(
    radicale: RadicaleServer, settings: CalendarConfig, path: str
) -> None:
    """The server's root (found through the principal), or the user's calendar home."""
    url = calendar_settings(f"{radicale.base_url}{path}")
    async with caldav(url) as client:
        steps = await check_calendar(client, url, TZ, CLOCK())
    assert (steps[-1].name, steps[-1].ok) == ("calendar", False)
    assert "not a calendar" in steps[-1].detail
    assert settings.collection_url in steps[-1].detail


async def test_check_says_when_the_server_cannot_be_reached(tmp_path: Path) -> None:
    unreachable = RadicaleServer(tmp_path)  # a free port, never started
    settings = calendar_settings(f"{unreachable.base_url}/{USER}/calendar/")
    async with caldav(settings) as client:
        steps = await check_calendar(client, settings, TZ, CLOCK())
    assert [(step.name, step.ok) for step in steps] == [("connect", False)]
    assert "cannot reach the calendar" in steps[0].detail


async def test_two_pushers_sharing_one_outbox_write_each_booking_once(
    settings: CalendarConfig, tmp_path: Path
) -> None:
    first, second = (StoreOutbox(tmp_path / "shared.sqlite3") for _ in range(2))  # two processes
    bookings = [appointment(100 + n, f"{9 + n // 4:02}:{n % 4 * 15:02}", 15) for n in range(12)]
    for booking in bookings:
        first.add("upsert", booking)
    small_batches = settings.model_copy(update={"push_batch": 2})
    puts: list[list[str]] = [[], []]
    async with pushing(first, small_batches, puts=puts[0]), pushing(second, small_batches, puts=puts[1]):  # fmt: skip  # noqa: E501
        await drained(first)
    written = Counter(url.rsplit("/", 1)[1] for url in puts[0] + puts[1])
    assert written == Counter(f"{event_uid(PREFIX, b.id)}.ics" for b in bookings)
    assert all(puts), "both pushers took a share"
    assert len(await events(settings)) == len(bookings)


async def test_our_event_is_found_by_uid_under_another_name(
    settings: CalendarConfig, outbox: StoreOutbox
) -> None:
    """An event with our UID that another client stored under its own resource name."""
    uid = event_uid(PREFIX, 60)
    async with caldav(settings) as client:
        await client.put_event("someone-elses-name", _event_with_uid(uid))
    async with pushing(outbox, settings):
        outbox.add("upsert", appointment(60, "15:00"))
        await drained(outbox)
        moved = await events(settings)
        outbox.add("delete", appointment(60, "15:00"))
        await drained(outbox)
    assert list(moved) == [uid]
    assert moved[uid].decoded("dtstart") == at(TUESDAY, "15:00")
    assert await events(settings) == {}


def _event_with_uid(uid: str) -> bytes:
    return (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//other//EN\r\nBEGIN:VEVENT\r\n"
        f"UID:{uid}\r\nDTSTAMP:20261101T000000Z\r\nDTSTART:20261201T150000Z\r\n"
        "DURATION:PT30M\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    ).encode()


async def test_the_right_password_is_what_radicale_takes(radicale: RadicaleServer) -> None:
    """The fixture itself: a wrong password is refused, so the cases above mean something."""
    url = radicale.new_calendar()
    async with httpx.AsyncClient() as http:
        right = await http.request("PROPFIND", url, auth=(USER, PASSWORD), headers={"Depth": "0"})
        wrong = await http.request("PROPFIND", url, auth=(USER, "nope"), headers={"Depth": "0"})
    assert (right.status_code, wrong.status_code) == (207, 401)
    assert ENV["CALENDAR_SECRET"] == PASSWORD


async def test_an_item_that_cannot_be_written_is_retried_and_holds_up_no_other(
    settings: CalendarConfig, outbox: StoreOutbox
) -> None:
    outbox.add("reschedule", appointment(70))  # an action no pusher knows: a bug, kept
    outbox.add("upsert", appointment(71))
    with capture_logs() as logs:
        async with pushing(outbox, settings):

            async def retried() -> bool:
                return await trio.to_thread.run_sync(attempts, outbox) >= 2

            await wait_until(retried)
            assert list(await events(settings)) == [event_uid(PREFIX, 71)]
    assert [row["key"] for row in outbox.unfinished()] == ["appointment:70"]
    failure = next(line for line in logs if line["event"] == "calendar.write_failed")
    assert (failure["booking_id"], failure["log_level"]) == (70, "error")


async def test_a_booking_recheck_gives_up_on_a_silent_calendar_within_its_time_box(
    autojump_clock: trio.abc.Clock, nursery: trio.Nursery
) -> None:
    """A server that accepts the connection and never answers (in-process, mock clock)."""

    async def silent(stream: trio.SocketStream) -> None:
        async with stream:
            await trio.sleep_forever()

    serving = partial(trio.serve_tcp, silent, 0, host="127.0.0.1")
    (listener,) = await nursery.start(serving)
    port = listener.socket.getsockname()[1]
    settings = calendar_settings(f"http://127.0.0.1:{port}/clinic/calendar/")
    async with caldav(settings) as client:
        busy = busy_times(client, settings)
        busy.reachable = True  # it answered a moment ago
        began = trio.current_time()
        assert await busy.fresh(TUESDAY) == ()
        assert trio.current_time() - began == pytest.approx(settings.booking_recheck_timeout_s)
        assert not busy.reachable  # the next booking does not wait: until the next refresh
        assert await busy.fresh(TUESDAY) == ()
    assert trio.current_time() - began == pytest.approx(settings.booking_recheck_timeout_s)
