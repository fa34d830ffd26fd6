"""The bench's phases, each against one real server process (``make bench``, __main__.py):
the cloud engines on the fakes (voice-to-voice latency, barge-in), the offline engines'
capacity ramp (frame lateness, CPU, memory), and the floor phase (callers who pause,
backchannel and speak over the agent)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import trio

from receptionist.config import load_config
from receptionist.devtools.bench.cloud_capacity import (
    FAKE_VOICE_MS_PER_CHAR,
    PerCallDeepgram,
    cloud_fakes,
)
from receptionist.devtools.bench.figures import (
    LATE_LIMIT_MS,
    barge_in_ms,
    inbound_dropped,
    lateness_ms,
    percentiles,
    preemptive_outcomes,
    voice_to_voice_ms,
)
from receptionist.devtools.bench.floor import floor_phase
from receptionist.devtools.bench.floor_callers import CallerScript, FloorModel, caller_scripts
from receptionist.devtools.bench.level import Level, run_level
from receptionist.devtools.bench.process import ROOT, ServerProcess
from receptionist.devtools.fakes.cloud import KEYS, CloudFakes
from receptionist.devtools.fakes.elevenlabs import FakeElevenLabs
from receptionist.devtools.fakes.openai import FakeOpenAI
from receptionist.devtools.twilio_caller import CallerReport

SPARSE_INTERIMS_S = 1.0
"""The interim cadence of the last cloud round (Deepgram's docs example: one a second)."""
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


async def floor_run(s: Settings) -> dict[str, Any]:
    print("callers who breathe mid-sentence, say mm-hm, speak over the agent (floor) ...",
          flush=True)  # fmt: skip
    return await floor_server(s, caller_scripts())
