"""What ``make loadtest`` counts and prints: calls completed, bookings made, doubled and
lost (from the database and what the model told callers), latency and frame lateness per
phase (before and after the faults), CPU of the server processes."""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg

from receptionist.devtools.bench.figures import lateness_ms, percentiles, voice_to_voice_ms
from receptionist.devtools.twilio_caller import CallerReport


@dataclass
class Worker:
    process: subprocess.Popen[bytes]
    log: Path
    cpu_seen: dict[int, float] = field(default_factory=dict)
    cpu_first: dict[int, float] = field(default_factory=dict)

    def sample_cpu(self) -> None:
        """CPU seconds of the process and its children (kept after they exit)."""
        pid = self.process.pid
        try:
            children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        except OSError:
            children = []
        for each in (pid, *map(int, children)):
            try:
                stat = Path(f"/proc/{each}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            cpu = (int(stat[11]) + int(stat[12])) / os.sysconf("SC_CLK_TCK")
            self.cpu_first.setdefault(each, cpu)
            self.cpu_seen[each] = cpu

    def cpu_s(self) -> float:
        return sum(self.cpu_seen[pid] - self.cpu_first[pid] for pid in self.cpu_seen)


@dataclass
class Outcome:
    report: CallerReport | None
    started: float
    seconds: float
    after_faults: bool
    error: str = ""
    restarts: int = 0


def completed(outcome: Outcome) -> bool:
    """The caller heard the reply to what it said, and the receptionist hung up."""
    report = outcome.report
    if report is None or not report.closed_by_server or not report.reply_latencies_ms:
        return False
    return all(ms is not None for ms in report.reply_latencies_ms)


def database_figures(url: str, password: str, told: dict[int, str]) -> dict[str, Any]:
    with psycopg.connect(url, password=password) as conn:
        rows = conn.execute(
            "SELECT id, coalesce(resource, '') FROM appointments WHERE cancelled_at IS NULL"
        ).fetchall()  # fmt: skip
        doubled: dict[str, int] = dict(conn.execute(
            """SELECT coalesce(a.resource, ''), count(*) FROM appointments a JOIN appointments b
               ON a.id < b.id AND a.clinic = b.clinic
              AND coalesce(a.resource, '') = coalesce(b.resource, '')
              AND tstzrange(a.start_at, a.end_at) && tstzrange(b.start_at, b.end_at)
             WHERE a.cancelled_at IS NULL AND b.cancelled_at IS NULL
             GROUP BY 1"""
        ).fetchall())  # fmt: skip
    ids = {row[0] for row in rows}
    resources = sorted({row[1] for row in rows})
    return {
        "bookings_made": len(ids),
        "bookings_per_practitioner": {_who(r): sum(row[1] == r for row in rows) for r in resources},
        "told_booked": len(told),
        "double_bookings": sum(doubled.values()),
        "double_bookings_per_practitioner": {_who(r): doubled.get(r, 0) for r in resources},
        "bookings_lost": len(set(told) - ids),
    }


def _who(resource: str) -> str:
    return resource or "(the clinic)"


def phase_figures(outcomes: list[Outcome], send_ahead_s: float) -> dict[str, Any]:
    reports = [o.report for o in outcomes if o.report is not None]
    return {
        "calls": len(outcomes),
        "peak_concurrent": peak_concurrency(outcomes),
        "reply_latency_ms": percentiles([ms for r in reports for ms in voice_to_voice_ms(r)]),
        "frame_lateness_ms": percentiles(
            [ms for r in reports for ms in lateness_ms(r, send_ahead_s)]
        ),
    }


def peak_concurrency(outcomes: list[Outcome]) -> int:
    edges = sorted([(o.started, 1) for o in outcomes] + [(o.started + o.seconds, -1)
                                                          for o in outcomes])  # fmt: skip
    live = peak = 0
    for _, step in edges:
        live += step
        peak = max(peak, live)
    return peak


def _per(result: dict[str, Any], figure: str) -> str:
    per = result.get(f"{figure}_per_practitioner") or {}
    return ", ".join(f"{who} {count}" for who, count in per.items()) or "none"


def table(result: dict[str, Any]) -> str:
    lines = [
        f"callers {result['callers']} on {result['server_processes']} server processes"
        " (one SIGTERM, one SIGKILL half-way)",
        f"calls completed          {result['calls_completed']}",
        f"calls not completed      {result['calls_dropped']}  (caller errors:"
        f" {result['caller_errors'] or 'none'})",
        f"webhooks redirected      {result['drained_redirects']}  (by the draining process)",
        f"streams started again    {result['calls_restarted']}  (refused while draining)",
        f"bookings made            {result['bookings_made']}  ({_per(result, 'bookings')})",
        f"told 'booked'            {result['told_booked']}  (told 'taken': "
        f"{result['model_told_taken']})",
        f"double bookings          {result['double_bookings']}"
        f"  ({_per(result, 'double_bookings')})",
        f"bookings lost            {result['bookings_lost']}",
        f"CPU per call-second      {result['cpu_ms_per_call_s']} ms",
    ]
    for phase in ("before_faults", "after_faults"):
        figures = result[phase]
        reply, late = figures["reply_latency_ms"], figures["frame_lateness_ms"]
        lines.append(
            f"{phase:<14} {figures['calls']:>3} calls, peak {figures['peak_concurrent']:>3}"
            f" concurrent: reply p50/p95/p99 {reply['p50']}/{reply['p95']}/{reply['p99']} ms,"
            f" frame lateness p50/p95/p99 {late['p50']}/{late['p95']}/{late['p99']} ms"
        )
    return "\n".join(lines)
