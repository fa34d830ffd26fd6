"""Deepgram, OpenAI and ElevenLabs fakes for cloud replays.

All three on 127.0.0.1, scripted for ``tests/fixtures/booking_call.wav`` (the model books a
check-up next Tuesday at ten), serving any number of calls until Ctrl-C. It prints the
replay command that points the cloud engines at them, with their dummy keys::

    .venv/bin/python -m receptionist.devtools.fakes   # ports 8701-8703; --port 0: free ones
    # then, in another terminal, the printed command:
    DEEPGRAM_API_KEY=... receptionist replay tests/fixtures/booking_call.wav \
        --engines cloud --set ...
"""

from __future__ import annotations

import argparse
import contextlib
from datetime import date, timedelta
from functools import partial

import trio

from receptionist.devtools.fakes.cloud import KEYS, CloudFakes

DEFAULT_PORT = 8701
TUESDAY = 1


def next_tuesday(today: date) -> date:
    """The first Tuesday after ``today``: "next Tuesday", as the booking caller means it."""
    return today + timedelta(days=(TUESDAY - today.weekday() - 1) % 7 + 1)


def replay_command(urls: dict[str, str]) -> str:
    keys = " ".join(f"{name}={value}" for name, value in KEYS.items())
    settings = " ".join(f"--set {name}={url}" for name, url in urls.items())
    replay = ".venv/bin/receptionist replay tests/fixtures/booking_call.wav --engines cloud"
    return f"{keys} {replay} {settings}"


async def main(port: int) -> None:
    fakes = CloudFakes.for_booking_call(next_tuesday(date.today()), every_call=True)
    ports = (port, port + 1, port + 2) if port else (0, 0, 0)
    async with trio.open_nursery() as nursery:
        urls = await nursery.start(partial(fakes.serve, ports=ports))
        for name, url in urls.items():
            print(f"{name} = {url}")
        print("\nReplay against them (add --fast for no pacing):\n")
        print(replay_command(urls), flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        prog="python -m receptionist.devtools.fakes",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--port",
        type=int,
        default=DEFAULT_PORT,
        help="Deepgram's port; OpenAI and ElevenLabs take the next two (0: any)",
    )
    with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C is how it stops
        trio.run(main, parser.parse_args().port)
