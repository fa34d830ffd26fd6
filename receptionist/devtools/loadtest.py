"""``make loadtest``: several server processes, one PostgreSQL, many callers; then count what
was lost or doubled.

Run: ``make loadtest`` (``python -m receptionist.devtools.loadtest [--callers N] [--out DIR]``).
A benchmark, not a test: it prints a table and writes ``<out>/loadtest.json``.

- a throwaway PostgreSQL cluster on 127.0.0.1 (postgres_cluster.py), migrated once;
- ``--workers`` server processes sharing one listening socket and one stream secret, as
  ``receptionist serve --workers`` starts them (workers.py), with the cloud engines on the
  protocol fakes (fakes/cloud.py), run here;
- ``--callers`` TwilioCallers (default 20), started evenly over ``--ramp-s``, each saying
  one sentence. The fake model books a slot for each (loadtest_model.py): every other caller
  one of the ``CONTESTED`` slots that many callers race for (naming one of the
  ``--practitioners``, default 2, in turn: contested slots per practitioner), the others a
  free slot of their own with whoever is free; it then says whether the booking was made
  and hangs up;
- half-way through the ramp one server process gets SIGTERM (it drains: its calls finish,
  new webhooks are redirected) and another SIGKILL (its calls drop, as a crashed
  machine's would).

Then, from the database and what the model was told: bookings made, double bookings
(overlapping active rows of one practitioner, or of the clinic: must be 0, counted per
practitioner), bookings lost (a caller was told "booked" and the row
is missing: must be 0); from the callers: reply latency (last voiced frame sent to the
first agent frame) and agent frame lateness, before and after the faults; CPU per
call-second of the server processes.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import trio

from receptionist.config import Config, load_config
from receptionist.devtools.bench.cloud_capacity import PerCallDeepgram
from receptionist.devtools.bench.process import ROOT
from receptionist.devtools.fakes.cloud import KEYS, CloudFakes
from receptionist.devtools.fakes.deepgram_script import load_script
from receptionist.devtools.fakes.elevenlabs import FakeElevenLabs
from receptionist.devtools.loadtest_figures import (
    Outcome,
    Worker,
    completed,
    database_figures,
    phase_figures,
    table,
)
from receptionist.devtools.loadtest_model import BookingModel, bookable_slots, loadtest_config
from receptionist.devtools.postgres_cluster import running_cluster, server_binaries
from receptionist.devtools.replay import load_caller_audio, split_utterances
from receptionist.devtools.twilio_caller import TwilioCaller
from receptionist.scheduling.store import AppointmentStore
from receptionist.workers import listening_socket, start_worker, worker_environment

GREETING = "Hello, Riverside clinic. How can I help?"
FAKE_VOICE_MS_PER_CHAR = 40
CALL_LIMIT_S = 60.0
DRAIN_TIMEOUT_S = 20.0
START_LIMIT_S = 90.0
SAMPLE_S = 0.5
MAX_RESTARTS = 3
"""Streams refused by a draining server, each started again through /call-ended."""


@dataclass
class Settings:
    callers: int
    workers: int
    ramp_s: float
    out: Path
    practitioners: int


def config_overrides(database: str, urls: dict[str, str], callers: int) -> list[str]:
    return [
        f"scheduler.database={json.dumps(database)}",
        "engines.stt=deepgram", "engines.dialogue=openai", "engines.tts=elevenlabs",
        "llm.api_key_env=OPENAI_API_KEY", "turn_taking.preemptive_generation=false",
        f"clinic.greeting={json.dumps(GREETING)}", f"server.max_calls={callers}",
        f"server.drain_timeout_s={DRAIN_TIMEOUT_S}",
        *(f"{name}={url}" for name, url in urls.items()),
    ]  # fmt: skip


async def wait_ready(url: str, workers: list[Worker]) -> None:
    """Until every worker has said it is listening, and /readyz answers."""
    with trio.fail_after(START_LIMIT_S):
        async with httpx.AsyncClient() as client:
            while True:
                if any(w.process.poll() is not None for w in workers):
                    raise RuntimeError(f"a server process exited; see {workers[0].log.parent}")
                listening = all("Running on" in w.log.read_text(errors="replace") for w in workers)
                if listening and (await client.get(f"{url}/readyz")).status_code == 200:
                    return
                await trio.sleep(0.2)


async def place_calls(
    s: Settings, url: str, utterance: bytes, workers: list[Worker]
) -> tuple[list[Outcome], float]:
    outcomes: list[Outcome] = []
    faults_at = trio.current_time() + s.ramp_s / 2

    async def place(index: int) -> None:
        await trio.sleep(index * s.ramp_s / s.callers)
        began = trio.current_time()
        sid = f"CA{index:032d}"
        outcome = Outcome(None, began, 0.0, began >= faults_at)
        try:
            with trio.fail_after(CALL_LIMIT_S):
                for _ in range(MAX_RESTARTS + 1):
                    caller = TwilioCaller(url, call_sid=sid, caller=f"+1555{index:07d}")
                    outcome.report = await caller.run([utterance])
                    if outcome.report.heard_ulaw or not await restarted(url, sid):
                        break
                    outcome.restarts += 1
        except Exception as exc:  # a dropped call (SIGKILL) fails in many ways
            outcome.report, outcome.error = None, type(exc).__name__
        outcome.seconds = trio.current_time() - began
        outcomes.append(outcome)

    async def faults() -> None:
        await trio.sleep_until(faults_at)
        workers[0].process.send_signal(signal.SIGTERM)
        workers[1].process.send_signal(signal.SIGKILL)
        print(f"  SIGTERM to {workers[0].process.pid}, SIGKILL to {workers[1].process.pid}")

    async def sample() -> None:
        while True:
            for worker in workers:
                worker.sample_cpu()
            await trio.sleep(SAMPLE_S)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(sample)
        nursery.start_soon(faults)
        async with trio.open_nursery() as calls:
            for index in range(s.callers):
                calls.start_soon(place, index)
        nursery.cancel_scope.cancel()
    return outcomes, faults_at


async def restarted(url: str, call_sid: str) -> bool:
    """As Twilio does when a stream ends: ask /call-ended; True if it says to start again
    (the stream reached a draining server)."""
    async with httpx.AsyncClient() as client:
        response = await client.post(f"{url}/call-ended", data={"CallSid": call_sid})
    return "<Redirect" in response.text


async def loadtest(s: Settings, cluster_url: str, password: str) -> dict[str, Any]:
    script = load_script(ROOT / "tests/fixtures/booking_call.json")
    model = BookingModel(first_token_delay_s=0.3)
    fakes = CloudFakes(
        PerCallDeepgram(api_key=KEYS["DEEPGRAM_API_KEY"], script=script, follow_speech=True,
                        latency_s=0.15),
        model,
        FakeElevenLabs(api_key=KEYS["ELEVENLABS_API_KEY"], time_to_first_byte_s=0.1,
                       ms_per_char=FAKE_VOICE_MS_PER_CHAR),
    )  # fmt: skip
    os.environ["RECEPTIONIST_DATABASE_PASSWORD"] = password  # for this process's store too
    env = {**os.environ, **KEYS}
    config_path = loadtest_config(s.out, s.practitioners)
    async with trio.open_nursery() as nursery:
        urls = await nursery.start(fakes.serve)
        overrides = config_overrides(cluster_url, urls, s.callers)
        config = load_config(config_path, overrides=overrides, environ=env)
        AppointmentStore(config).upgrade()
        model.contested, model.slots = bookable_slots(config, s.callers)
        model.practitioners = tuple(p.name for p in config.practitioners)
        result = await run_servers(s, config_path, overrides, env, config)
        result["model_told_taken"] = model.told_taken
        result.update(database_figures(cluster_url, password, model.told_booked))
        nursery.cancel_scope.cancel()
    return result


async def run_servers(
    s: Settings, config_path: Path, overrides: list[str], env: dict[str, str], config: Config
) -> dict[str, Any]:
    serve_args = ["--config", str(config_path), "serve",
                  *(f"--set={o}" for o in overrides)]  # fmt: skip
    metrics_dir = s.out / "metrics"
    metrics_dir.mkdir(exist_ok=True)
    for stale in metrics_dir.glob("*.db"):
        stale.unlink()
    with listening_socket("127.0.0.1", 0) as sock:
        url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        child_env = worker_environment(env, str(metrics_dir))
        workers = []
        for index in range(s.workers):
            log = s.out / f"server-{index}.log"
            with log.open("wb") as sink:
                process = start_worker(sock, serve_args, child_env, output=sink)
            workers.append(Worker(process, log))
        try:
            await wait_ready(url, workers)
            print(f"  {s.workers} server processes on {url}; {s.callers} callers ...", flush=True)
            outcomes, _faults_at = await place_calls(s, url, utterance_of(), workers)
        finally:
            for worker in workers:
                if worker.process.poll() is None:
                    worker.process.send_signal(signal.SIGTERM)
            for worker in workers:
                await trio.to_thread.run_sync(worker.process.wait)
    call_s = sum(o.seconds for o in outcomes if o.report is not None)
    send_ahead = config.twilio.send_ahead_ms / 1000
    before = [o for o in outcomes if not o.after_faults]
    after = [o for o in outcomes if o.after_faults]
    return {
        "callers": s.callers,
        "server_processes": s.workers,
        "calls_completed": sum(completed(o) for o in outcomes),
        "calls_dropped": sum(not completed(o) for o in outcomes),
        "calls_restarted": sum(o.restarts for o in outcomes),
        "caller_errors": dict(Counter(o.error for o in outcomes if o.error)),
        "drained_redirects": sum(
            w.log.read_text(errors="replace").count("webhook.redirected_draining") for w in workers
        ),
        "before_faults": phase_figures(before, send_ahead),
        "after_faults": phase_figures(after, send_ahead),
        "cpu_ms_per_call_s": round(sum(w.cpu_s() for w in workers) / max(call_s, 1e-9) * 1000, 1),
    }


def utterance_of() -> bytes:
    return split_utterances(load_caller_audio(ROOT / "tests/fixtures/booking_call.wav"))[0]


def settings(argv: list[str] | None = None) -> Settings:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    # 50 (the figure) is more real-time callers than this process keeps going on a
    # 2-core machine beside the servers; use --callers 50 on a bigger one.
    parser.add_argument("--callers", type=int, default=20)
    parser.add_argument("--workers", type=int, default=3, help="server processes (3 or more)")
    parser.add_argument("--ramp-s", type=float, default=40.0, help="callers start over this")
    parser.add_argument("--out", type=Path, default=ROOT / "loadtest-output")
    parser.add_argument("--practitioners", type=int, default=2, choices=range(5),
                        help="[[practitioners]] in the clinic's config (0: the clinic books"
                        " one appointment per slot)")  # fmt: skip
    args = parser.parse_args(argv)
    if args.workers < 3:
        parser.error("--workers: 3 or more (one drains, one is killed, one carries on)")
    return Settings(args.callers, args.workers, args.ramp_s, args.out.resolve(), args.practitioners)


def main() -> None:
    s = settings()
    s.out.mkdir(parents=True, exist_ok=True)
    binaries = server_binaries()
    if binaries is None:
        raise SystemExit("loadtest: no PostgreSQL server binaries (apt-get install postgresql)")
    started = time.monotonic()
    with running_cluster(binaries) as cluster, cluster.fresh_database() as url:
        result = trio.run(loadtest, s, url, cluster.password)
    result["run_s"] = round(time.monotonic() - started, 1)
    (s.out / "loadtest.json").write_text(json.dumps(result, indent=2) + "\n")
    print(table(result))
    print(f"({result['run_s']} s; {s.out / 'loadtest.json'})")


if __name__ == "__main__":
    main()
