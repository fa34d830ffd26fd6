"""Fail a test when any task step holds the trio loop longer than a budget.

A step that runs long (a blocking call, a slow parse) delays every other task of every
call: audio out, barge-in, marks. trio's instrumentation API brackets each task step;
``LoopHogs`` times them in the thread's CPU time, so a machine busy with other work does
not fail the test, only work done on the loop does.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Iterator
from contextlib import contextmanager

import trio
import trio.lowlevel

LOOP_STEP_BUDGET_S = 0.05
"""Well under the audio pacing (20 ms frames, ``send_ahead_ms``) a step must not stall
by much; generous enough for a call's ordinary steps on a slow machine."""


class LoopHogs(trio.abc.Instrument):
    """Records every task step that took longer than ``budget_s`` of CPU time."""

    def __init__(self, budget_s: float, ignore: tuple[str, ...] = ()) -> None:
        self.budget_s, self.ignore = budget_s, ignore
        self.hogs: list[tuple[str, float]] = []
        self._started: dict[trio.lowlevel.Task, float] = {}

    def before_task_step(self, task: trio.lowlevel.Task) -> None:
        self._started[task] = time.thread_time()

    def after_task_step(self, task: trio.lowlevel.Task) -> None:
        started = self._started.pop(task, None)
        if started is None:
            return
        took = time.thread_time() - started
        if took > self.budget_s and not task.name.startswith(self.ignore):
            self.hogs.append((task.name, round(took * 1000, 1)))


@contextmanager
def no_step_longer_than(
    budget_s: float = LOOP_STEP_BUDGET_S, *, ignore: tuple[str, ...] = ()
) -> Iterator[LoopHogs]:
    """Within a trio run: on exit, fail if a task step took longer than ``budget_s``.

    ``ignore``: prefixes of task names not checked (a test's own emulated callers)."""
    hogs = LoopHogs(budget_s, ignore)
    # The garbage of the tests run before is not the call's: a full collection of it in a
    # long test session takes a few hundred milliseconds of whichever step it lands in.
    gc.collect()
    gc.freeze()
    trio.lowlevel.add_instrument(hogs)
    try:
        yield hogs
    finally:
        trio.lowlevel.remove_instrument(hogs)
        gc.unfreeze()
    assert not hogs.hogs, f"task steps held the loop (task, ms): {hogs.hogs}"
