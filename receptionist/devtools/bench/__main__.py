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
   per call-second and RSS growth per call, of the server and its recogniser workers
   (and of the server alone).
3. Cloud engines on the fakes, capacity ramp to 128 calls (``bench.cloud_capacity``):
   p99 lateness, CPU per call-second and the per-frame cost breakdown at each level.

Prints a table, and how fast the machine is (``bench.machine``: compare runs on machines of
close figures only); writes ``<out>/bench.json`` and the server logs.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import trio

from receptionist.devtools.bench.cloud_capacity import (
    CLOUD_LEVELS,
    capacity_table,
    cloud_capacity_phase,
)
from receptionist.devtools.bench.figures import max_realtime, table
from receptionist.devtools.bench.floor import floor_table
from receptionist.devtools.bench.machine import describe as describe_machine
from receptionist.devtools.bench.machine import machine_speed
from receptionist.devtools.bench.phases import (
    Settings,
    capacity_phase,
    cloud_phase,
    database,
    floor_run,
)
from receptionist.devtools.bench.process import ROOT, pin_self
from receptionist.devtools.replay import load_caller_audio, split_utterances

CLOUD_UTTERANCES = 4
"""The first four of booking_call's utterances: enough replies per call, short calls."""


async def bench(s: Settings) -> dict[str, Any]:
    booking = split_utterances(load_caller_audio(ROOT / "tests" / "fixtures" / "booking_call.wav"))
    hours = split_utterances(load_caller_audio(ROOT / "tests" / "fixtures" / "hours_call.wav"))
    print("cloud engines against the fakes ...", flush=True)
    cloud = await cloud_phase(s, booking[:CLOUD_UTTERANCES])
    floor = await floor_run(s)
    print("offline engines, capacity ramp ...", flush=True)
    capacity = await capacity_phase(s, hours)
    print("cloud engines, capacity ramp ...", flush=True)
    cloud_ramp = await cloud_capacity_phase(
        s.out, booking[:CLOUD_UTTERANCES], s.cloud_levels, database(s, "cloud-capacity"),
        stt_ms=s.stt_ms, llm_ms=s.llm_ms, tts_ms=s.tts_ms,
    )  # fmt: skip
    return {"cloud": cloud, "floor": floor, "capacity": capacity,
            "max_realtime_calls": max_realtime(capacity), "cloud_capacity": cloud_ramp,
            "max_realtime_cloud_calls": max_realtime(cloud_ramp)}  # fmt: skip


async def bench_floor_only(s: Settings) -> dict[str, Any]:
    return {"floor": await floor_run(s)}


async def bench_cloud_only(s: Settings) -> dict[str, Any]:
    booking = split_utterances(load_caller_audio(ROOT / "tests" / "fixtures" / "booking_call.wav"))
    print("cloud engines against the fakes ...", flush=True)
    return {"cloud": await cloud_phase(s, booking[:CLOUD_UTTERANCES])}


def settings(argv: list[str] | None = None) -> Settings:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a one-minute smoke run")
    parser.add_argument("--out", type=Path, default=ROOT / "bench-output")
    parser.add_argument("--stt-ms", type=float, default=150.0)
    parser.add_argument("--llm-ms", type=float, default=300.0)
    parser.add_argument("--tts-ms", type=float, default=100.0)
    parser.add_argument("--barge-in-ms", type=float, default=600.0)
    parser.add_argument("--floor-only", action="store_true", help="only the floor phase")
    parser.add_argument("--cloud-only", action="store_true", help="only the cloud phase")
    parser.add_argument(
        "--floor-set",
        action="append",
        default=[],
        metavar="SECTION.KEY=VALUE",
        help="a config override for the floor phase's server (repeatable)",
    )
    args = parser.parse_args(argv)
    quick = args.quick
    return Settings(
        quick=quick, out=args.out.resolve(), stt_ms=args.stt_ms, llm_ms=args.llm_ms,
        tts_ms=args.tts_ms, barge_in_ms=args.barge_in_ms,
        cloud_calls=2 if quick else 10, cloud_rounds=1, floor_only=args.floor_only,
        cloud_only=args.cloud_only,
        floor_settings=args.floor_set,
        levels=[2] if quick else [2, 4, 8, 16, 32],  # to fit in five minutes on 2 cores
        cloud_levels=[4] if quick else CLOUD_LEVELS,
    )  # fmt: skip


def main() -> None:
    s = settings()
    s.out.mkdir(parents=True, exist_ok=True)
    pinning = pin_self()
    speed = machine_speed()
    print(describe_machine(speed), flush=True)
    started = time.monotonic()
    run = bench_floor_only if s.floor_only else bench_cloud_only if s.cloud_only else bench
    result = {"server_pinning": pinning, "machine": speed, **trio.run(run, s)}
    result["settings"] = {k: str(v) if isinstance(v, Path) else v for k, v in vars(s).items()}
    result["run_s"] = round(time.monotonic() - started, 1)
    (s.out / "bench.json").write_text(json.dumps(result, indent=2) + "\n")
    if "capacity" in result:
        print(table(result))
    elif "cloud" in result:
        cloud = result["cloud"]
        print(f"cloud: voice-to-voice {cloud['voice_to_voice_ms']}; with interims once a second "
              f"{cloud['voice_to_voice_sparse_interims_ms']}; preemptive {cloud['preemptive']}; "
              f"barge-in {cloud['barge_in_ms']}")  # fmt: skip
    if "floor" in result:
        print(floor_table(result["floor"]))
    if "cloud_capacity" in result:
        print(capacity_table(result["cloud_capacity"]))
        print(f"max concurrent cloud calls in real time: {result['max_realtime_cloud_calls']}")
    print(describe_machine(speed))
    print(f"({result['run_s']} s; {s.out / 'bench.json'})")


if __name__ == "__main__":
    main()
