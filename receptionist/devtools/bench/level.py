"""One level of a bench phase: ``calls`` concurrent scripted callers against the server
process, with its CPU and memory sampled meanwhile. The one way every phase places calls."""

from __future__ import annotations

from dataclasses import dataclass

import trio

from receptionist.devtools.bench.process import ServerProcess
from receptionist.devtools.twilio_caller import CallerReport, TwilioCaller

CALL_LIMIT_S = 90.0
SAMPLE_S = 0.25


@dataclass
class Level:
    reports: list[CallerReport]
    call_s: float
    wall_s: float
    cpu_s: float
    server_cpu_s: float
    """Without the recogniser's worker processes."""
    rss_before_mb: float
    rss_peak_mb: float
    failed: int


async def run_level(
    server: ServerProcess, calls: int, utterances: list[bytes], cut: dict[int, float], tag: str,
    limit_s: float = CALL_LIMIT_S,
) -> Level:  # fmt: skip
    """``calls`` concurrent calls, started over two seconds; CPU and RSS sampled meanwhile."""
    reports: list[CallerReport] = []
    durations: list[float] = []
    failed = 0
    rss_before, cpu_before, started = server.rss_mb(), server.cpu_s(), trio.current_time()
    server_cpu_before = server.cpu_s(workers=False)
    peak = rss_before

    async def place(index: int) -> None:
        nonlocal failed
        await trio.sleep(index * 2.0 / calls)
        sid = f"CA{tag}{index:0{32 - len(tag)}d}"
        began = trio.current_time()
        with trio.move_on_after(limit_s) as scope:
            report = await TwilioCaller(server.url, call_sid=sid).run(
                utterances, barge_in_after_s=cut
            )
        if scope.cancelled_caught or any(ms is None for ms in report.reply_latencies_ms):
            failed += 1
        if not scope.cancelled_caught:
            reports.append(report)
            durations.append(trio.current_time() - began)

    async with trio.open_nursery() as nursery:
        for index in range(calls):
            nursery.start_soon(place, index)
        while len(reports) + failed < calls:
            peak = max(peak, server.rss_mb())
            await trio.sleep(SAMPLE_S)
    wall = trio.current_time() - started
    return Level(reports, sum(durations), wall, server.cpu_s() - cpu_before,
                 server.cpu_s(workers=False) - server_cpu_before, rss_before, peak,
                 failed)  # fmt: skip
