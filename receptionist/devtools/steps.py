"""Counting the event loop's rounds each task takes: each wake of a task is one step.

A step costs the same CPU whatever the task does in it (5-11 µs on this project's VMs, see
``bench.machine``), and how many a frame takes depends on the code, not on the machine: the
one figure of the server's hot path that runs on one VM compare with runs on another.
"""

from __future__ import annotations

from collections import Counter

import trio


class TaskSteps(trio.abc.Instrument):
    """Counts the scheduler steps of every task, by its name (the function it runs)."""

    def __init__(self) -> None:
        self.by_task: Counter[str] = Counter()

    def before_task_step(self, task: trio.lowlevel.Task) -> None:
        self.by_task[task.name] += 1

    def of(self, name_part: str) -> int:
        """The steps of the tasks whose name contains ``name_part``."""
        return sum(steps for name, steps in self.by_task.items() if name_part in name)
