"""The server under benchmark, in its own process pinned to one core (for ``make bench``).

Run: ``python -m receptionist.devtools.bench.server LOG_FILE [section.key=value ...]``.
Serves config.toml with the given overrides on 127.0.0.1 (a free port), logs JSON lines
to LOG_FILE, and prints ``PORT <n>`` on stdout once it accepts calls. Runs until killed.
With ``STEPS_ENV`` naming a file, it counts every task's scheduler steps
(``devtools.steps``) and writes them there as JSON when it exits (on SIGTERM, once drained).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import trio

from receptionist.devtools.steps import TaskSteps

ROOT = Path(__file__).resolve().parents[3]
SERVER_CORE = 0
"""The core the server runs on; process.py puts the callers and fakes on the other."""
STEPS_ENV = "RECEPTIONIST_BENCH_STEPS"


async def serve(overrides: list[str]) -> None:
    from receptionist.config import load_config
    from receptionist.runtime import open_services
    from receptionist.server import freeze_startup_heap, serve_app

    config = load_config(ROOT / "config.toml", overrides=overrides)
    async with open_services(config) as services, trio.open_nursery() as nursery:
        binds = await nursery.start(serve_app, services, "127.0.0.1", 0)
        freeze_startup_heap()
        print("PORT", binds[0].rsplit(":", 1)[1], file=sys.__stdout__, flush=True)


def main() -> None:
    from receptionist.logs import configure_logging

    log_file, overrides = sys.argv[1], sys.argv[2:]
    # The machine's cores, not this process's: it inherits the bench's pinning to the other
    # core, and re-pinning only when that allowed several put server and bench on one core.
    if hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) > 1:
        os.sched_setaffinity(0, {SERVER_CORE})  # threads started later inherit it
    sys.stdout = open(log_file, "w", encoding="utf-8", buffering=1)  # noqa: SIM115
    configure_logging("info", json=True)
    steps_file = os.environ.get(STEPS_ENV)
    steps = TaskSteps()
    try:
        trio.run(serve, overrides, instruments=[steps] if steps_file else [])
    finally:
        if steps_file:
            Path(steps_file).write_text(json.dumps(dict(steps.by_task.most_common())))


if __name__ == "__main__":
    main()
