"""Nothing holds the event loop: the helper that checks it, and dateparser warmed at start-up
(issue 10). The end-to-end calls run under ``no_step_longer_than`` (test_end_to_end)."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest
import trio

from tests.helpers.loop_budget import no_step_longer_than
from tests.helpers.paths import PROJECT_ROOT


def spin(seconds: float) -> None:
    """Hold the loop with CPU work (not a sleep: the budget counts CPU time)."""
    until = time.thread_time() + seconds
    while time.thread_time() < until:
        pass


async def test_a_step_that_holds_the_loop_fails_the_test() -> None:
    async def hold_the_loop() -> None:
        with no_step_longer_than(0.02):
            await trio.lowlevel.checkpoint()  # the step that added the instrument is not timed
            spin(0.05)
            await trio.lowlevel.checkpoint()

    with pytest.raises(AssertionError, match="held the loop"):
        await hold_the_loop()


async def test_short_steps_pass() -> None:
    with no_step_longer_than(0.02):
        for _ in range(10):
            spin(0.001)
            await trio.lowlevel.checkpoint()


WARMED_BY_THE_RUNTIME = """
import tempfile, time
from pathlib import Path
from receptionist.config import load_config
from receptionist.devtools.replay import replay_config
from receptionist.offline.spoken_time import spoken_date
from receptionist.runtime import build_services

project = load_config(Path("config.toml"), environ={})
config = replay_config(project, Path(tempfile.mkdtemp()), fast=True)
services = build_services(config)
started = time.thread_time()
spoken_date("next tuesday please", services.now())
print(time.thread_time() - started)
"""


def test_dateparser_is_warm_once_the_services_are_built() -> None:
    # A fresh process: dateparser's first parse (its language data) is what is measured.
    taken = subprocess.run(
        [sys.executable, "-c", WARMED_BY_THE_RUNTIME],
        cwd=PROJECT_ROOT, capture_output=True, text=True, check=True, timeout=120,
    ).stdout.split()[-1]  # fmt: skip
    assert float(taken) < 0.05, f"the first date parsed on the loop took {taken} s"
