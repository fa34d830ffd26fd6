"""Counting the event loop's rounds a task takes: each wake of a task is one."""

from __future__ import annotations

import trio


class StepCounter(trio.abc.Instrument):
    """Counts the scheduler steps (wakes) of the tasks whose name contains ``name``."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.steps = 0

    def before_task_step(self, task: trio.lowlevel.Task) -> None:
        self.steps += self.name in task.name
