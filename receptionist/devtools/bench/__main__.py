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

Prints a table; writes ``<out>/bench.json`` and the server logs.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import trio

from receptionist.config import load_config
from receptionist.devtools.bench.cloud_capacity import (
    CLOUD_LEVELS,
    FAKE_VOICE_MS_PER_CHAR,
    PerCallDeepgram,
    capacity_table,
    cloud_capacity_phase,
    cloud_fakes,
)
from receptionist.devtools.bench.figures import (
    LATE_LIMIT_MS,
    barge_in_ms,
    inbound_dropped,
    lateness_ms,
    max_realtime,
    percentiles,
    preemptive_outcomes,
    table,
    voice_to_voice_ms,
)
from receptionist.devtools.bench.floor import floor_phase, floor_table
from receptionist.devtools.bench.floor_callers import CallerScript, FloorModel, caller_scripts
from receptionist.devtools.bench.level import Level, run_level
from receptionist.devtools.bench.process import ROOT, ServerProcess, pin_self
from receptionist.devtools.fakes.cloud import KEYS, CloudFakes
from receptionist.devtools.fakes.elevenlabs import FakeElevenLabs
from receptionist.devtools.fakes.openai import FakeOpenAI
from receptionist.devtools.replay import load_caller_audio, split_utterances
from receptionist.devtools.twilio_caller import CallerReport

SPARSE_INTERIMS_S = 1.0
"""The interim cadence of the last cloud round (Deepgram's docs example: one a second)."""
CLOUD_UTTERANCES = 4
"""The first four of booking_call's utterances: enough replies per call, short calls."""
FLOOR_CALL_LIMIT_S = 300.0
"""The floor phase's calls are longer, and a call cut by the limit reports nothing."""
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
    floor_only: bool
    cloud_only: bool
    floor_settings: list[str]
    """Config overrides for the floor phase's server (``--floor-set``), to try settings."""
    levels: list[int]
    cloud_levels: list[int]


async def cloud_phase(s: Settings, utterances: list[bytes]) -> dict[str, Any]:
    fakes = cloud_fakes(s.stt_ms, s.llm_ms, s.tts_ms)
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
                "server_cpu_ms_per_call_s": round(level.server_cpu_s / level.call_s * 1000, 1),
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


async def floor_server(s: Settings, scripts: list[CallerScript]) -> dict[str, Any]:
    """The floor phase against the cloud phase's fakes, with ``FloorModel`` for the model and
    each script's Deepgram in turn, on one server."""
    fakes = CloudFakes(
        PerCallDeepgram(api_key=KEYS["DEEPGRAM_API_KEY"], follow_speech=True,
                        latency_s=s.stt_ms / 1000, interim_every_s=0.0),
        FakeOpenAI(answer=FloorModel(), first_token_delay_s=s.llm_ms / 1000),
        FakeElevenLabs(api_key=KEYS["ELEVENLABS_API_KEY"], time_to_first_byte_s=s.tts_ms / 1000,
                       ms_per_char=FAKE_VOICE_MS_PER_CHAR),
    )  # fmt: skip
    log = s.out / "server-floor.log"
    async with trio.open_nursery() as nursery:
        urls = await nursery.start(fakes.serve)
        overrides = [*database(s, "floor"), "engines.stt=deepgram", "engines.dialogue=openai",
                     "engines.tts=elevenlabs", "llm.api_key_env=OPENAI_API_KEY",
                     *(f"{name}={url}" for name, url in urls.items()),
                     *s.floor_settings]  # fmt: skip
        with ServerProcess(overrides, log, env=KEYS) as server:

            async def place(
                script: CallerScript, calls: int, tag: str
            ) -> tuple[list[CallerReport], int]:
                fakes.deepgram.script = script.deepgram
                level = await run_level(server, calls, script.audio, script.over_s, tag,
                                        FLOOR_CALL_LIMIT_S)  # fmt: skip
                await trio.sleep(1.0)  # the server's last log lines of these calls
                return level.reports, level.failed

            figures = await floor_phase(place, scripts, s.cloud_calls, log)
        nursery.cancel_scope.cancel()
    return figures


def database(s: Settings, name: str) -> list[str]:
    path = s.out / f"{name}.sqlite3"
    path.unlink(missing_ok=True)
    # No admission limit: the ramp measures what one process sustains, past max_calls.
    return [f"scheduler.database={json.dumps(str(path))}", f"server.max_calls={UNLIMITED_CALLS}"]


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


async def floor_run(s: Settings) -> dict[str, Any]:
    print("callers who breathe mid-sentence, say mm-hm, speak over the agent (floor) ...",
          flush=True)  # fmt: skip
    return await floor_server(s, caller_scripts())


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
    started = time.monotonic()
    run = bench_floor_only if s.floor_only else bench_cloud_only if s.cloud_only else bench
    result = {"server_pinning": pinning, **trio.run(run, s)}
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
    print(f"({result['run_s']} s; {s.out / 'bench.json'})")


if __name__ == "__main__":
    main()
