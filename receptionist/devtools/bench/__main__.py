"""``make bench``: latency, barge-in, CPU, memory and capacity of the real server.

Run: ``make bench`` (``python -m receptionist.devtools.bench [--quick] [--out DIR]``).
Scripted callers (``TwilioCaller``, paced in real time) call the real server over its
WebSocket. The server runs in its own process pinned to core 0 (``bench.server``);
callers and fakes run here, on core 1.

1. Cloud engines against the fakes at fixed latencies (Deepgram results ``--stt-ms`` late,
   with an interim result per word, the model's first token ``--llm-ms``, ElevenLabs' first
   byte ``--tts-ms``): voice-to-voice latency, from the caller's last voiced frame sent to
   the first agent frame received, over every reply; our overhead is that minus the
   providers' injected latencies. Preemptive generation starts the model when the VAD hears
   a pause, so the STT latency is mostly hidden; a last round has interims once a second
   of audio (as in Deepgram's docs example), where the guess misses more often and the
   reply is restarted on the final transcript. Each call barges in on the
   greeting and on its second reply, ``--barge-in-ms`` into them: reaction time, from the
   interruption's first voiced frame sent to ``clear`` received, and the cancelled turn's
   frames received after ``clear`` (must be 0).
2. Offline engines, the realistic CPU load, at 1, 2, 4, 8, ... concurrent calls: lateness
   of every agent frame at the caller against a 20 ms cadence from the turn's first frame
   (less the server's send-ahead), p99 per level, up to the first level past 20 ms; CPU
   per call-second and RSS growth per call, of the server and its recogniser workers.

Prints a table; writes ``<out>/bench.json`` and the server logs.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import time
from collections import deque
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import trio

ROOT = Path(__file__).resolve().parents[3]

from receptionist.config import load_config  # noqa: E402
from receptionist.devtools.fakes.cloud import KEYS, CloudFakes  # noqa: E402
from receptionist.devtools.fakes.deepgram import FakeDeepgram, load_script  # noqa: E402
from receptionist.devtools.fakes.elevenlabs import FakeElevenLabs  # noqa: E402
from receptionist.devtools.fakes.openai import FakeOpenAI, Scripted  # noqa: E402
from receptionist.devtools.replay import load_caller_audio, split_utterances  # noqa: E402
from receptionist.devtools.twilio_caller import CallerReport, TwilioCaller  # noqa: E402
from receptionist.messages import FRAME_MS  # noqa: E402

FRAME_S = FRAME_MS / 1000
BENCH_CORE = 1
LATE_LIMIT_MS = 20.0
"""A frame more than one frame late at p99: the level is not sustained in real time."""
SPARSE_INTERIMS_S = 1.0
"""The interim cadence of the last cloud round (Deepgram's docs example: one a second)."""
CLOUD_UTTERANCES = 4
"""The first four of booking_call's utterances: enough replies per call, short calls."""
REPLY = "Of course, I can help with that. Which day would suit you best?"
"""Every model reply: 64 characters, about 2.6 s of the fake voice, long enough to barge into."""
FAKE_VOICE_MS_PER_CHAR = 40
CALL_LIMIT_S = 90.0
SAMPLE_S = 0.25
UNLIMITED_CALLS = 10_000


@dataclass
class Settings:
    quick: bool
    out: Path
    stt_ms: float
    llm_ms: float
    tts_ms: float
    barge_in_ms: float
    cloud_calls: int
    cloud_rounds: int
    levels: list[int]


class PerCallDeepgram(FakeDeepgram):
    """One script per connection: each concurrent call's Deepgram hears its own caller."""

    async def _handle(self, request: Any) -> None:
        call = replace(self, connections=[], refused=[])
        call.rewind()
        await FakeDeepgram._handle(call, request)


@dataclass
class ServerProcess:
    """bench/server.py in a subprocess; its CPU and RSS read from /proc."""

    overrides: list[str]
    log: Path
    env: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen[str] | None = None
    url: str = ""

    def __enter__(self) -> ServerProcess:
        command = [sys.executable, "-m", "receptionist.devtools.bench.server", str(self.log)]
        self.process = subprocess.Popen(
            [*command, *self.overrides], stdout=subprocess.PIPE, text=True, cwd=ROOT,
            env={**os.environ, **self.env},
        )  # fmt: skip
        assert self.process.stdout is not None
        line = self.process.stdout.readline().split()
        if line[:1] != ["PORT"]:
            raise RuntimeError(f"server did not start; see {self.log}")
        self.url = f"http://127.0.0.1:{line[1]}"
        return self

    def __exit__(self, *_exc: object) -> None:
        assert self.process is not None
        self.process.terminate()
        self.process.wait(timeout=10)

    def _pids(self) -> list[int]:
        """The server and its children (the recogniser's worker processes)."""
        assert self.process is not None
        pid = self.process.pid
        try:
            children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        except OSError:
            children = []
        return [pid, *map(int, children)]

    def cpu_s(self) -> float:
        total = 0.0
        for pid in self._pids():
            try:
                stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue  # a worker that has just exited
            total += (int(stat[11]) + int(stat[12])) / os.sysconf("SC_CLK_TCK")
        return total

    def rss_mb(self) -> float:
        total = 0.0
        for pid in self._pids():
            try:
                status = Path(f"/proc/{pid}/status").read_text().splitlines()
            except OSError:
                continue
            total += sum(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))
        return total / 1024 if total else math.nan


@dataclass
class Level:
    reports: list[CallerReport]
    call_s: float
    wall_s: float
    cpu_s: float
    rss_before_mb: float
    rss_peak_mb: float
    failed: int


def percentiles(values: list[float]) -> dict[str, float | None]:
    """p50/p95/p99 by nearest rank (None with no samples)."""
    ordered = sorted(values)

    def rank(p: float) -> float | None:
        if not ordered:
            return None
        return round(ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)], 1)

    return {"p50": rank(50), "p95": rank(95), "p99": rank(99), "n": len(ordered)}


async def run_level(
    server: ServerProcess, calls: int, utterances: list[bytes], cut: dict[int, float], tag: str
) -> Level:
    """``calls`` concurrent calls, started over two seconds; CPU and RSS sampled meanwhile."""
    reports: list[CallerReport] = []
    durations: list[float] = []
    failed = 0
    rss_before, cpu_before, started = server.rss_mb(), server.cpu_s(), trio.current_time()
    peak = rss_before

    async def place(index: int) -> None:
        nonlocal failed
        await trio.sleep(index * 2.0 / calls)
        sid = f"CA{tag}{index:0{32 - len(tag)}d}"
        began = trio.current_time()
        with trio.move_on_after(CALL_LIMIT_S) as scope:
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
    return Level(reports, sum(durations), wall, server.cpu_s() - cpu_before, rss_before, peak,
                 failed)  # fmt: skip


def voice_to_voice_ms(report: CallerReport) -> list[float]:
    """Per utterance: its last voiced frame sent to the first agent frame after it."""
    result = []
    for index, span in enumerate(report.speech_spans):
        arrivals = (
            report.reply_arrivals[index + 1] if index + 1 < len(report.reply_arrivals) else ()
        )
        if span is not None and arrivals:
            result.append((arrivals[0] - span[1]) * 1000)
    return result


def barge_in_ms(report: CallerReport, cut: dict[int, float]) -> list[float | None]:
    """Per interrupting utterance: its first voiced frame sent to the next ``clear``."""
    result: list[float | None] = []
    for index in cut:
        span = report.speech_spans[index] if index < len(report.speech_spans) else None
        clears = [t for t in report.clear_times if span is not None and t >= span[0]]
        result.append((clears[0] - span[0]) * 1000 if span and clears else None)
    return result


def lateness_ms(report: CallerReport, send_ahead_s: float) -> list[float]:
    """Each agent frame's arrival minus its slot: the turn's first frame plus 20 ms per
    frame, less the send-ahead (the first frames of a turn are due at once)."""
    late = []
    for arrivals in report.reply_arrivals:
        if not arrivals:
            continue
        first = arrivals[0]
        for index, at in enumerate(arrivals):
            slot = max(first, first + index * FRAME_S - send_ahead_s)
            late.append((at - slot) * 1000)
    return late


async def cloud_phase(s: Settings, utterances: list[bytes]) -> dict[str, Any]:
    script = load_script(ROOT / "tests" / "fixtures" / "booking_call.json")
    fakes = CloudFakes(
        PerCallDeepgram(api_key=KEYS["DEEPGRAM_API_KEY"], script=script, follow_speech=True,
                        latency_s=s.stt_ms / 1000, interim_every_s=0.0),
        FakeOpenAI(script=deque([Scripted(text=REPLY)] * 10_000),
                   first_token_delay_s=s.llm_ms / 1000),
        FakeElevenLabs(api_key=KEYS["ELEVENLABS_API_KEY"], time_to_first_byte_s=s.tts_ms / 1000,
                       ms_per_char=FAKE_VOICE_MS_PER_CHAR),
    )  # fmt: skip
    cut = {0: s.barge_in_ms / 1000, 2: s.barge_in_ms / 1000}
    async with trio.open_nursery() as nursery:
        urls = await nursery.start(fakes.serve)
        overrides = [*database(s, "cloud"), "engines.stt=deepgram", "engines.dialogue=openai",
                     "engines.tts=elevenlabs", "llm.api_key_env=OPENAI_API_KEY",
                     *(f"{name}={url}" for name, url in urls.items())]  # fmt: skip
        levels = []
        with ServerProcess(overrides, s.out / "server-cloud.log", env=KEYS) as server:
            for round_ in range(s.cloud_rounds):
                levels.append(await run_level(server, s.cloud_calls, utterances, cut, f"c{round_}"))
            fakes.deepgram.interim_every_s = SPARSE_INTERIMS_S
            sparse = await run_level(server, s.cloud_calls, utterances, cut, "s")
        nursery.cancel_scope.cancel()
    figures = cloud_figures(s, levels, cut)
    sparse_v2v = [ms for r in sparse.reports for ms in voice_to_voice_ms(r)]
    figures["voice_to_voice_sparse_interims_ms"] = percentiles(sparse_v2v)
    figures["preemptive"] = preemptive_outcomes(s.out / "server-cloud.log")
    return figures


def preemptive_outcomes(log: Path) -> dict[str, dict[str, int]]:
    """How many guesses were kept and restarted, per interim cadence, from the server log."""
    counts: dict[str, dict[str, int]] = {"per_word": {}, "sparse": {}}
    for line in log.read_text(encoding="utf-8").splitlines():
        if '"dialogue.preemptive"' in line:
            event = json.loads(line)
            cadence = "sparse" if event["call_sid"].startswith("CAs") else "per_word"
            outcome = "kept" if event["kept"] else "restarted"
            counts[cadence][outcome] = counts[cadence].get(outcome, 0) + 1
    return counts


def cloud_figures(s: Settings, levels: list[Level], cut: dict[int, float]) -> dict[str, Any]:
    reports = [r for level in levels for r in level.reports]
    v2v = [ms for r in reports for ms in voice_to_voice_ms(r)]
    config = load_config(ROOT / "config.toml")
    providers = s.stt_ms + s.llm_ms + s.tts_ms
    reactions = [ms for r in reports for ms in barge_in_ms(r, cut)]
    call_s = sum(level.call_s for level in levels)
    return {
        "calls": len(reports) + sum(level.failed for level in levels),
        "failed_calls": sum(level.failed for level in levels),
        "provider_ms": {
            "preemptive_after": config.turn_taking.preemptive_after_ms,
            "finalize_after": config.deepgram.finalize_after_ms,
            "stt": s.stt_ms,
            "llm_first_token": s.llm_ms,
            "tts_first_byte": s.tts_ms,
            "total": providers,
        },
        "voice_to_voice_ms": percentiles(v2v),
        "overhead_ms": percentiles([ms - providers for ms in v2v]),
        "barge_in_ms": percentiles([ms for ms in reactions if ms is not None]),
        "barge_ins_without_clear": sum(ms is None for ms in reactions),
        "frames_after_clear": sum(r.media_after_clear for r in reports),
        "cpu_ms_per_call_s": round(sum(lv.cpu_s for lv in levels) / call_s * 1000, 2),
    }


async def capacity_phase(s: Settings, utterances: list[bytes]) -> list[dict[str, Any]]:
    send_ahead = load_config(ROOT / "config.toml").twilio.send_ahead_ms / 1000
    rows: list[dict[str, Any]] = []
    with ServerProcess(database(s, "offline"), s.out / "server-offline.log") as server:
        for calls in s.levels:
            level = await run_level(server, calls, utterances, {}, f"a{calls}")
            late = [ms for r in level.reports for ms in lateness_ms(r, send_ahead)]
            growth = level.rss_peak_mb - level.rss_before_mb
            row: dict[str, Any] = {
                "calls": calls, "failed": level.failed, "lateness_ms": percentiles(late),
                "cpu_ms_per_call_s": round(level.cpu_s / level.call_s * 1000, 1),
                "cpu_share_of_core": round(level.cpu_s / level.wall_s, 3),
                "rss_mb": round(level.rss_peak_mb, 1),
                "rss_growth_mb_per_call": round(growth / calls, 2),
            }  # fmt: skip
            if rows:  # RSS growth from the level before: no first call's lazy loading in it
                below = rows[-1]
                marginal = (row["rss_mb"] - below["rss_mb"]) / (calls - below["calls"])
                row["rss_marginal_mb_per_call"] = round(marginal, 2)
            rows.append(row)
            print(f"  offline, {calls} concurrent: p99 lateness {row['lateness_ms']['p99']} ms",
                  flush=True)  # fmt: skip
            p99 = row["lateness_ms"]["p99"]
            if level.failed or p99 is None or p99 > LATE_LIMIT_MS:
                break
    dropped = inbound_dropped(s.out / "server-offline.log")
    for row in rows:
        row["inbound_frames_dropped"] = dropped.get(f"a{row['calls']}", 0)
    return rows


def inbound_dropped(log: Path) -> dict[str, int]:
    """Inbound frames the server dropped (its reader never waits), per level, from its log."""
    dropped: dict[str, int] = {}
    for line in log.read_text(encoding="utf-8").splitlines():
        if '"twilio.stats"' in line:
            event = json.loads(line)
            tag = event["call_sid"][2:].split("0", 1)[0]
            dropped[tag] = dropped.get(tag, 0) + event["frames_dropped"]
    return dropped


def database(s: Settings, name: str) -> list[str]:
    path = s.out / f"{name}.sqlite3"
    path.unlink(missing_ok=True)
    # No admission limit: the ramp measures what one process sustains, past max_calls.
    return [f"scheduler.database={json.dumps(str(path))}", f"server.max_calls={UNLIMITED_CALLS}"]


def table(result: dict[str, Any]) -> str:
    cloud, ramp = result["cloud"], result["capacity"]
    p, pre = cloud["provider_ms"], cloud["preemptive"]

    def row(name: str, stats: dict[str, Any], unit: str = "ms") -> str:
        cells = "".join(
            f"{'-' if stats[k] is None else stats[k]:>9}" for k in ("p50", "p95", "p99")
        )
        return f"{name:<44}{cells}{stats['n']:>7}  {unit}"

    lines = [
        f"cloud fakes: {cloud['calls']} calls ({cloud['failed_calls']} failed); providers "
        f"{p['total']:.0f} ms = STT {p['stt']:.0f} + LLM first token {p['llm_first_token']:.0f}"
        f" + TTS first byte {p['tts_first_byte']:.0f}; VAD pause: model starts at "
        f"{p['preemptive_after']} ms, Finalize at {p['finalize_after']} ms",
        f"{'':<44}{'p50':>9}{'p95':>9}{'p99':>9}{'n':>7}",
        row("voice-to-voice (last voiced frame -> audio)", cloud["voice_to_voice_ms"]),
        row("  our overhead (minus providers)", cloud["overhead_ms"]),
        row("  with interims once a second", cloud["voice_to_voice_sparse_interims_ms"]),
        f"preemptive guesses kept/restarted: per-word interims "
        f"{pre['per_word'].get('kept', 0)}/{pre['per_word'].get('restarted', 0)}, "
        f"once a second {pre['sparse'].get('kept', 0)}/{pre['sparse'].get('restarted', 0)}",
        row("barge-in (first voiced frame -> clear)", cloud["barge_in_ms"]),
        f"cancelled-turn frames after clear: {cloud['frames_after_clear']} "
        f"(barge-ins with no clear: {cloud['barge_ins_without_clear']})",
        f"server CPU, cloud engines: {cloud['cpu_ms_per_call_s']} ms per call-second",
        "",
        f"offline engines, server pinned to {result['server_pinning']}:",
        f"{'calls':>5}{'failed':>7}{'late p50':>10}{'p95':>8}{'p99':>8}{'CPU ms/call-s':>15}"
        f"{'core':>7}{'RSS MB':>8}{'MB/call':>9}{'marginal':>10}{'dropped in':>12}",
    ]
    for r in ramp:
        late = r["lateness_ms"]
        lines.append(
            f"{r['calls']:>5}{r['failed']:>7}{late['p50']:>10}{late['p95']:>8}{late['p99']:>8}"
            f"{r['cpu_ms_per_call_s']:>15}{r['cpu_share_of_core']:>7.0%}{r['rss_mb']:>8}"
            f"{r['rss_growth_mb_per_call']:>9}{r.get('rss_marginal_mb_per_call', '-'):>10}"
            f"{r['inbound_frames_dropped']:>12}"
        )
    lines.append(f"max concurrent calls in real time (p99 lateness <= {LATE_LIMIT_MS:.0f} ms): "
                 f"{result['max_realtime_calls']}")  # fmt: skip
    return "\n".join(lines)


def max_realtime(rows: list[dict[str, Any]]) -> int:
    ok = [r["calls"] for r in rows
          if not r["failed"] and r["lateness_ms"]["p99"] is not None
          and r["lateness_ms"]["p99"] <= LATE_LIMIT_MS]  # fmt: skip
    return max(ok, default=0)


async def bench(s: Settings) -> dict[str, Any]:
    booking = split_utterances(load_caller_audio(ROOT / "tests" / "fixtures" / "booking_call.wav"))
    hours = split_utterances(load_caller_audio(ROOT / "tests" / "fixtures" / "hours_call.wav"))
    print("cloud engines against the fakes ...", flush=True)
    cloud = await cloud_phase(s, booking[:CLOUD_UTTERANCES])
    print("offline engines, capacity ramp ...", flush=True)
    capacity = await capacity_phase(s, hours)
    return {"cloud": cloud, "capacity": capacity, "max_realtime_calls": max_realtime(capacity)}


def pin_self() -> str:
    if hasattr(os, "sched_setaffinity") and len(os.sched_getaffinity(0)) > 1:
        os.sched_setaffinity(0, {BENCH_CORE})
        return "core 0 (callers and fakes on core 1)"
    return "nothing (one core: callers, fakes and server share it)"


def settings(argv: list[str] | None = None) -> Settings:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a one-minute smoke run")
    parser.add_argument("--out", type=Path, default=ROOT / "bench-output")
    parser.add_argument("--stt-ms", type=float, default=150.0)
    parser.add_argument("--llm-ms", type=float, default=300.0)
    parser.add_argument("--tts-ms", type=float, default=100.0)
    parser.add_argument("--barge-in-ms", type=float, default=600.0)
    args = parser.parse_args(argv)
    quick = args.quick
    return Settings(
        quick=quick, out=args.out.resolve(), stt_ms=args.stt_ms, llm_ms=args.llm_ms,
        tts_ms=args.tts_ms, barge_in_ms=args.barge_in_ms,
        cloud_calls=2 if quick else 10, cloud_rounds=1,
        levels=[2] if quick else [2, 4, 8, 16, 32],  # to fit in five minutes on 2 cores
    )  # fmt: skip


def main() -> None:
    s = settings()
    s.out.mkdir(parents=True, exist_ok=True)
    pinning = pin_self()
    started = time.monotonic()
    result = {"server_pinning": pinning, **trio.run(bench, s)}
    result["settings"] = {k: str(v) if isinstance(v, Path) else v for k, v in vars(s).items()}
    result["run_s"] = round(time.monotonic() - started, 1)
    (s.out / "bench.json").write_text(json.dumps(result, indent=2) + "\n")
    print(table(result))
    print(f"({result['run_s']} s; {s.out / 'bench.json'})")


if __name__ == "__main__":
    main()
