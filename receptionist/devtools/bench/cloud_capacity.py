"""The cloud engines' CPU and capacity: what one server process on one core holds.

Run alone: ``python -m receptionist.devtools.bench.cloud_capacity [--levels 8 16 ...]``
(``make bench`` runs it as its third phase). The server runs with Deepgram, the OpenAI model
and ElevenLabs all on the fakes (callers and fakes on the other core), at 8, 16, 32, 64, 100
and 128 concurrent calls, up to the first level past 20 ms of p99 outbound frame lateness or
with inbound frames dropped. Per level: p99 lateness, CPU per call-second from the server's
own utime+stime, how long the server and this process waited for a core (run-queue wait
from /proc schedstat, as a share of the level's wall time: a frame late while its process
waited for the CPU is the machine's lateness, not the server's), inbound frames dropped,
outbound frames the server itself sent after a gap and its pacing wakes more than a frame
late (``twilio.stats``: late frames with on-time wakes are audio that was not ready), and
the per-frame cost breakdown the calls logged
(``call.frame_costs``: VAD, inbound parse, outbound encode in µs per frame; frames per
Deepgram message; the share of VAD windows a quiet line spared Silero).

On one shared core the fakes and 128 emulated callers may saturate before the server: the
``bench core`` column says how busy this (caller and fake) process was; a level where it is
near 100% measures the bench, not the server.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
from collections import deque
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Any

import trio

from receptionist.config import load_config
from receptionist.devtools.bench.figures import (
    LATE_LIMIT_MS,
    lateness_ms,
    max_realtime,
    percentiles,
)
from receptionist.devtools.bench.level import run_level
from receptionist.devtools.bench.machine import describe as describe_machine
from receptionist.devtools.bench.machine import machine_speed
from receptionist.devtools.bench.process import ROOT, ServerProcess, pin_self, runqueue_wait_s
from receptionist.devtools.bench.server import STEPS_ENV
from receptionist.devtools.fakes.cloud import KEYS, CloudFakes
from receptionist.devtools.fakes.deepgram import FakeDeepgram
from receptionist.devtools.fakes.deepgram_script import load_script
from receptionist.devtools.fakes.elevenlabs import FakeElevenLabs
from receptionist.devtools.fakes.openai import FakeOpenAI, Scripted
from receptionist.devtools.replay import load_caller_audio, split_utterances
from receptionist.engines.vad_silero import WINDOW_MS
from receptionist.frame_costs import STAGES as COST_STAGES
from receptionist.messages import FRAME_MS

CLOUD_LEVELS = [8, 16, 32, 64, 100, 128]
REPLY = "Of course, I can help with that. Which day would suit you best?"
FAKE_VOICE_MS_PER_CHAR = 40
UTTERANCES = 4
FRAMES_PER_SECOND = 1000 // FRAME_MS
PATIENT_TTS_S = 10.0
LOG_NAME = "server-cloud-capacity.log"
STEPS_SHOWN = 12
SETTLE_S = 3.0
"""After the last level: the server logs each call's counters once it sees the hang-up."""


class PerCallDeepgram(FakeDeepgram):
    """One script per connection: each concurrent call's Deepgram hears its own caller."""

    async def _handle(self, request: Any) -> None:
        call = replace(self, connections=[], refused=[])
        call.rewind()
        await FakeDeepgram._handle(call, request)


def cloud_fakes(stt_ms: float, llm_ms: float, tts_ms: float) -> CloudFakes:
    """The three fakes at fixed latencies, answering every turn with ``REPLY``."""
    script = load_script(ROOT / "tests" / "fixtures" / "booking_call.json")
    return CloudFakes(
        PerCallDeepgram(api_key=KEYS["DEEPGRAM_API_KEY"], script=script, follow_speech=True,
                        latency_s=stt_ms / 1000, interim_every_s=0.0),
        FakeOpenAI(script=deque([Scripted(text=REPLY)] * 100_000),
                   first_token_delay_s=llm_ms / 1000),
        FakeElevenLabs(api_key=KEYS["ELEVENLABS_API_KEY"], time_to_first_byte_s=tts_ms / 1000,
                       ms_per_char=FAKE_VOICE_MS_PER_CHAR),
    )  # fmt: skip


def cloud_overrides(urls: dict[str, str]) -> list[str]:
    engines = ["engines.stt=deepgram", "engines.dialogue=openai", "engines.tts=elevenlabs"]
    # A fake ElevenLabs slowed by the callers on its core must not bring in the offline
    # voice (its espeak CPU would count as the server's): the ramp measures the server.
    patient = [f"elevenlabs.{name}={PATIENT_TTS_S}" for name in ("first_audio_timeout_s",
                                                                 "stall_timeout_s")]  # fmt: skip
    return [*engines, *patient, "llm.api_key_env=OPENAI_API_KEY",
            *(f"{k}={v}" for k, v in urls.items())]  # fmt: skip


def frame_costs(log: Path, tag: str) -> dict[str, float]:
    """µs per frame of each stage, over the level's calls (``call.frame_costs`` lines), and
    the frames per Deepgram message."""
    sums = dict.fromkeys(COST_STAGES, 0)
    frames = dict.fromkeys(COST_STAGES, 0)
    deepgram = [0, 0]
    skipped = 0
    for line in log.read_text(encoding="utf-8").splitlines():
        if '"call.frame_costs"' not in line:
            continue
        event = json.loads(line)
        if not event.get("call_sid", "")[2:].startswith(tag):
            continue
        for stage in COST_STAGES:
            sums[stage] += event[f"{stage}_ns"]
            frames[stage] += event[f"{stage}_frames"]
        deepgram[0] += event["deepgram_frames"]
        deepgram[1] += event["deepgram_messages"]
        skipped += event["vad_skipped"]
    costs = {s: round(sums[s] / frames[s] / 1000, 1) if frames[s] else 0.0 for s in COST_STAGES}
    costs["frames_per_deepgram_message"] = (
        round(deepgram[0] / deepgram[1], 2) if deepgram[1] else 0.0
    )
    # Each 20 ms frame is 0.625 of a 32 ms window.
    windows = frames["vad"] * FRAME_MS / WINDOW_MS
    costs["vad_windows_skipped"] = round(skipped / windows, 3) if windows else 0.0
    return costs


def _own_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def cloud_capacity_phase(
    out: Path, utterances: list[bytes], levels: list[int], server_overrides: list[str],
    *, stt_ms: float = 150.0, llm_ms: float = 300.0, tts_ms: float = 100.0,
    env: dict[str, str] | None = None,
) -> list[dict[str, Any]]:  # fmt: skip
    """The ramp; ``server_overrides``: config overrides for the server (a fresh SQLite
    file and no call limit, and any setting tried); ``env``: more of its environment."""

    config = load_config(ROOT / "config.toml", overrides=server_overrides)
    send_ahead = config.twilio.send_ahead_ms / 1000
    fakes = cloud_fakes(stt_ms, llm_ms, tts_ms)
    log = out / LOG_NAME
    rows: list[dict[str, Any]] = []
    async with trio.open_nursery() as nursery:
        urls = await nursery.start(fakes.serve)
        overrides = [*server_overrides, *cloud_overrides(urls)]
        with ServerProcess(overrides, log, env={**KEYS, **(env or {})}) as server:
            for calls in levels:
                own_before = _own_cpu_s()
                waits_before = server.runqueue_wait_s(), runqueue_wait_s(os.getpid())
                level = await run_level(server, calls, utterances, {}, f"k{calls}")
                server_wait = server.runqueue_wait_s() - waits_before[0]
                bench_wait = runqueue_wait_s(os.getpid()) - waits_before[1]
                late = [ms for r in level.reports for ms in lateness_ms(r, send_ahead)]
                rows.append({
                    "calls": calls, "failed": level.failed, "lateness_ms": percentiles(late),
                    "cpu_s": level.cpu_s,
                    "cpu_share_of_core": round(level.cpu_s / level.wall_s, 3),
                    "bench_share_of_core": round((_own_cpu_s() - own_before) / level.wall_s, 3),
                    "server_runqueue_wait_share": round(server_wait / level.wall_s, 3),
                    "bench_runqueue_wait_share": round(bench_wait / level.wall_s, 3),
                })  # fmt: skip
                print(f"  cloud, {calls} concurrent: p99 lateness {rows[-1]['lateness_ms']['p99']}"
                      f" ms", flush=True)  # fmt: skip
                p99 = rows[-1]["lateness_ms"]["p99"]
                if level.failed or p99 is None or p99 > LATE_LIMIT_MS:
                    break
            await trio.sleep(SETTLE_S)
        nursery.cancel_scope.cancel()
    for row in rows:
        stats = _twilio_stats(log, f"k{row['calls']}")
        frames_in, row["inbound_frames_dropped"] = stats["frames_in"], stats["frames_dropped"]
        outbound = ("frames_out", "messages_out", "frames_late", "wakes", "wakes_late")
        row["outbound"] = {name: stats[name] for name in outbound}
        # Call-seconds counted from the frames Twilio sent (50 a second), so a call that
        # ran past the level's time limit still counts what it cost.
        call_s = frames_in / FRAMES_PER_SECOND
        row["media_sends_per_call_s"] = round(stats["messages_out"] / call_s, 1) if call_s else None
        row["cpu_ms_per_call_s"] = round(row.pop("cpu_s") / call_s * 1000, 1) if call_s else None
        row["frame_costs_us"] = frame_costs(log, f"k{row['calls']}")
    return rows


def _twilio_stats(log: Path, tag: str) -> dict[str, int]:
    """The level's calls' TwilioIO counters summed (``twilio.stats``): inbound frames
    received and dropped, outbound frames sent, the media messages (socket sends) that
    carried them and frames sent after a gap, and the writer's pacing wakes, in all and
    more than a frame late."""
    names = ("frames_in", "frames_dropped", "frames_out", "messages_out", "frames_late", "wakes",
             "wakes_late")  # fmt: skip
    sums = dict.fromkeys(names, 0)
    for line in log.read_text(encoding="utf-8").splitlines():
        if '"twilio.stats"' in line:
            event = json.loads(line)
            if event["call_sid"][2:].startswith(tag + "0"):
                for name in names:
                    sums[name] += event.get(name, 0)
    return sums


def steps_per_frame(steps_file: Path, frames_in: int) -> dict[str, float]:
    """The server's scheduler steps per inbound frame, by task, over the whole run (start-up
    and the calls' set-up included: a few hundred steps in all)."""
    counts: dict[str, int] = json.loads(steps_file.read_text())
    if not frames_in:
        raise SystemExit("no inbound frame reached the server: no steps per frame to give")
    per_frame = {name: round(steps / frames_in, 3) for name, steps in counts.items()}
    return {"all tasks": round(sum(counts.values()) / frames_in, 2), **per_frame}


def steps_table(per_frame: dict[str, float]) -> str:
    lines = ["the server's scheduler steps per inbound frame (all levels), by task:"]
    for name, steps in list(per_frame.items())[: STEPS_SHOWN + 1]:
        lines.append(f"{steps:8.2f}  {name}")
    return "\n".join(lines)


def capacity_table(rows: list[dict[str, Any]]) -> str:
    lines = [
        "cloud engines on the fakes, one server process on one core:",
        f"{'calls':>5}{'failed':>7}{'late p50':>10}{'p99':>8}{'CPU ms/call-s':>15}{'core':>7}"
        f"{'bench core':>11}{'waits srv':>10}{'bench':>7}{'dropped in':>12}{'late out':>10}"
        f"{'late wakes':>12}{'sends/call-s':>14}   µs/frame: "
        + " ".join(COST_STAGES)
        + "; frames per Deepgram message; VAD windows skipped (quiet line)",
    ]
    for r in rows:
        late, costs, out = r["lateness_ms"], r["frame_costs_us"], r["outbound"]
        lines.append(
            f"{r['calls']:>5}{r['failed']:>7}{late['p50']!s:>10}{late['p99']!s:>8}"
            f"{r['cpu_ms_per_call_s']:>15}{r['cpu_share_of_core']:>7.0%}"
            f"{r['bench_share_of_core']:>11.0%}{r['server_runqueue_wait_share']:>10.0%}"
            f"{r['bench_runqueue_wait_share']:>7.0%}{r['inbound_frames_dropped']:>12}"
            f"{out['frames_late']:>5}/{out['frames_out']:<5}"
            f"{out['wakes_late']:>6}/{out['wakes']:<5}{r['media_sends_per_call_s']!s:>14}  "
            + " ".join(f"{costs[s]}" for s in COST_STAGES)
            + f"; {costs['frames_per_deepgram_message']}; {costs['vad_windows_skipped']:.0%}"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--levels", type=int, nargs="+", default=CLOUD_LEVELS)
    parser.add_argument("--out", type=Path, default=ROOT / "bench-output")
    parser.add_argument(
        "--count-steps",
        action="store_true",
        help="count the server's scheduler steps per inbound frame, by task (the counting "
        "costs CPU: this run's CPU and lateness figures do not compare with others')",
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="SECTION.KEY=VALUE",
        help="a config override for the server (repeatable)",
    )
    args = parser.parse_args()
    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    pin_self()
    speed = machine_speed()
    booking = split_utterances(load_caller_audio(ROOT / "tests" / "fixtures" / "booking_call.wav"))
    path = out / "capacity.sqlite3"
    path.unlink(missing_ok=True)
    database = [f"scheduler.database={json.dumps(str(path))}", "server.max_calls=10000"]
    steps_file = out / "server-steps.json"
    steps_file.unlink(missing_ok=True)
    env = {STEPS_ENV: str(steps_file)} if args.count_steps else {}
    phase = partial(cloud_capacity_phase, env=env)
    rows = trio.run(phase, out, booking[:UTTERANCES], args.levels, [*database, *args.set])
    result: dict[str, Any] = {"machine": speed, "levels": rows}
    if args.count_steps:
        tags = [f"k{row['calls']}" for row in rows]
        frames_in = sum(_twilio_stats(out / LOG_NAME, tag)["frames_in"] for tag in tags)
        result["steps_per_inbound_frame"] = steps_per_frame(steps_file, frames_in)
    (out / "cloud-capacity.json").write_text(json.dumps(result, indent=2) + "\n")
    print(capacity_table(rows))
    print(f"max concurrent cloud calls in real time: {max_realtime(rows)}")
    if args.count_steps:
        print(steps_table(result["steps_per_inbound_frame"]))
    print(describe_machine(speed))


if __name__ == "__main__":
    main()
