"""The recogniser's worker processes at shutdown: a worker that exits badly after the calls
are over (killed, or too slow under load and killed by the pool) is logged, and does not
make the server's exit a failure."""

from __future__ import annotations

import os
import signal

from structlog.testing import capture_logs

from receptionist.engines.decoding import open_decoder_workers


async def test_a_worker_killed_after_its_work_does_not_fail_the_close() -> None:
    with capture_logs() as logs:
        async with open_decoder_workers() as workers:
            pid = await workers.run_sync(os.getpid)
            assert pid != os.getpid()
            os.kill(pid, signal.SIGKILL)  # idle: as one killed at the end of its grace
    (unclean,) = [e for e in logs if e["event"] == "decoder.workers_exit_unclean"]
    assert "nonzero exit" in unclean["error"]
