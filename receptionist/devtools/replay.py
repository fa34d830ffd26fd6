"""``make replay``: play recorded callers into the real pipeline, exactly as Twilio would.

A fixture is a WAV (any sample rate, mono or stereo), raw 8 kHz mu-law (``.ulaw``), or any
format ffmpeg reads (``.mp3``, ``.m4a``, ``.ogg``, ``.flac``; decoded by pydub, which needs
ffmpeg on the PATH for those) of a caller's side of a call. It is cut at its silences into
utterances; each is streamed after the agent has finished its reply, as a patient caller
would. The server runs in this process
on 127.0.0.1 with a fresh appointments database, so a replay never touches real bookings.
Output, per fixture, in ``<out>/<name>/``: ``agent.wav`` (what the caller heard),
``server.log`` (the JSON log lines), and ``report.txt`` (the table printed).
"""

from __future__ import annotations

import json
import re
import shutil
import warnings
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

import trio

with warnings.catch_warnings():
    # pydub imports audioop, deprecated in 3.11-3.12 (audioop-lts provides it on 3.13+), and
    # warns when ffmpeg is missing, which only compressed fixtures need (checked on use).
    warnings.simplefilter("ignore", DeprecationWarning)
    warnings.simplefilter("ignore", RuntimeWarning)
    from pydub import AudioSegment

from receptionist.calendar.pusher import TOPIC as CALENDAR_TOPIC
from receptionist.config import Config
from receptionist.devtools.fakes.twilio_rest import FakeTwilioRest
from receptionist.devtools.replay_transfer import (
    follow_transfer,
    transfer_fake,
    transfer_lines,
    with_fake_twilio,
)
from receptionist.devtools.twilio_caller import CallerReport, TwilioCaller
from receptionist.engines.audio import audioop, pcm16_to_ulaw, ulaw_to_pcm16
from receptionist.engines.resampler import Resampler
from receptionist.messages import FRAME_BYTES, SAMPLE_RATE
from receptionist.scheduling.listing import format_booking
from receptionist.scheduling.store import AppointmentStore
from receptionist.turns.latency import STAGES

RAW_SUFFIXES = (".ulaw", ".mulaw", ".raw")
NEEDS_FFMPEG = (".mp3", ".m4a", ".ogg", ".flac", ".webm")
FIXTURE_SUFFIXES = (".wav", *RAW_SUFFIXES, *NEEDS_FFMPEG)
MIN_GAP_MS = 500
"""Silence this long between two stretches of speech makes them separate utterances."""
PAD_MS = 100
FLOOR_MULTIPLE = 4.0
MIN_SPEECH_RMS = 200
CALENDAR_WAIT_S = 30.0
"""After the call, how long to wait for its calendar writes (well under a second each)."""
CALLER_WIDTH = 28
AGENT_WIDTH = 40


def load_caller_audio(path: Path) -> bytes:
    """A fixture as 8 kHz mu-law, whatever its format.

    Raises:
        ValueError: a compressed format and no ffmpeg to decode it.
    """
    suffix = path.suffix.lower()
    if suffix in RAW_SUFFIXES:
        return path.read_bytes()
    if suffix != ".wav" and shutil.which("ffmpeg") is None:
        raise ValueError(f"{path}: replaying {suffix} needs ffmpeg (apt-get install ffmpeg)")
    # pydub reads WAV of any width and channel count itself, other formats through ffmpeg;
    # the rate is changed by our band-limited resampler (pydub's is linear, with aliasing).
    audio = AudioSegment.from_file(path).set_channels(1).set_sample_width(2)
    pcm, rate = audio.raw_data, audio.frame_rate
    if rate != SAMPLE_RATE:
        resampler = Resampler(rate, SAMPLE_RATE)
        pcm = resampler.process(pcm) + resampler.flush()
    return pcm16_to_ulaw(pcm)


def split_utterances(ulaw: bytes) -> list[bytes]:
    """Cut a caller recording at its silences; each piece keeps a little padding."""
    frames = [ulaw[i : i + FRAME_BYTES] for i in range(0, len(ulaw), FRAME_BYTES)]
    levels = [audioop.rms(ulaw_to_pcm16(frame), 2) for frame in frames]
    if not levels:
        return []
    floor = sorted(levels)[len(levels) // 5]
    threshold = max(MIN_SPEECH_RMS, floor * FLOOR_MULTIPLE)
    voiced = [index for index, level in enumerate(levels) if level >= threshold]
    return [b"".join(frames[start:end]) for start, end in _spans(voiced, len(frames))]


def _spans(voiced: list[int], total: int) -> list[tuple[int, int]]:
    gap, pad = MIN_GAP_MS // 20, PAD_MS // 20
    spans: list[tuple[int, int]] = []
    for index in voiced:
        if spans and index - spans[-1][1] <= gap:
            spans[-1] = (spans[-1][0], index + 1)
        else:
            spans.append((index, index + 1))
    return [(max(0, s - pad), min(total, e + pad)) for s, e in spans]


def fixture_files(target: Path) -> list[Path]:
    if target.is_dir():
        return sorted(p for p in target.iterdir() if p.suffix.lower() in FIXTURE_SUFFIXES)
    return [target]


@dataclass(frozen=True)
class TurnRow:
    turn_id: int
    caller: str
    agent: str
    latencies: dict[str, float | None]


def turn_rows(events: list[dict[str, Any]]) -> list[TurnRow]:
    """Join the log's per-turn records: what was heard, what was said, how long it took."""
    said = {e["turn_id"]: e for e in events if e.get("event") == "dialogue.said"}
    rows = []
    for event in events:
        if event.get("event") != "turn":
            continue
        turn_id = event["turn_id"]
        spoken = said.get(turn_id, {})
        latencies = {key: event.get(f"{key}_ms") for key in (*STAGES, "total")}
        rows.append(
            TurnRow(turn_id, spoken.get("caller_text", ""), spoken.get("text", ""), latencies)
        )
    return rows


def format_table(rows: list[TurnRow], report: CallerReport) -> str:
    stages = (*STAGES, "total", "heard")
    header = f"{'turn':>4}  {'caller said':<{CALLER_WIDTH}}  {'agent said':<{AGENT_WIDTH}}  "
    lines = [header + "  ".join(f"{stage:>8}" for stage in stages)]
    heard = [report.greeting_ms, *report.reply_latencies_ms]
    for index, row in enumerate(rows):
        cells = [_ms(row.latencies[k]) for k in (*STAGES, "total")]
        cells.append(_ms(heard[index] if index < len(heard) else None))
        lines.append(
            f"{row.turn_id:>4}  {_clip(row.caller, CALLER_WIDTH):<{CALLER_WIDTH}}  "
            f"{_clip(row.agent, AGENT_WIDTH):<{AGENT_WIDTH}}  "
            + "  ".join(f"{c:>8}" for c in cells)
        )
    lines.append(
        "ms per stage: stt = end of speech to final transcript; dialogue = to first reply text; "
        "sentence = to first sentence; tts = to first audio; send = to first frame sent; "
        "total = end of speech to first frame sent; heard = caller's last audio frame to the "
        "first agent frame at the caller (includes end-of-speech detection; for the greeting, "
        "from the stream's start)."
    )
    return "\n".join(lines)


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}"


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def write_wav(path: Path, ulaw: bytes) -> None:
    pcm = AudioSegment(ulaw_to_pcm16(ulaw), sample_width=2, frame_rate=SAMPLE_RATE, channels=1)
    pcm.export(path, format="wav")


def replay_config(config: Config, out_dir: Path, *, fast: bool) -> Config:
    """A fresh database per replay; in fast mode the server sends audio unpaced.

    With a calendar, the replay's events get UIDs of their own (``<prefix>-replay-<out
    dir>-<booking id>``): the fresh database numbers bookings from 1 again, and under the
    clinic's prefix they would overwrite the real bookings' events. A replay again of the
    same fixture replaces its own events, and the real bookings count as busy for it.
    """
    scheduler = replace(config.scheduler, database=str(out_dir / "appointments.sqlite3"))
    twilio = replace(config.twilio, send_ahead_ms=3_600_000) if fast else config.twilio
    calendar = config.calendar
    if calendar.kind != "none":
        run = re.sub(r"[^A-Za-z0-9._-]", "-", out_dir.name)
        prefix = f"{calendar.event_uid_prefix}-replay-{run}"
        calendar = calendar.model_copy(update={"event_uid_prefix": prefix})
    return replace(config, scheduler=scheduler, twilio=twilio, calendar=calendar)


async def replay_fixture(
    fixture: Path, config: Config, out_root: Path, *, fast: bool, now: datetime | None
) -> str:
    """Replay one fixture; returns the report text."""
    from receptionist.logs import capture_to_file

    out_dir = out_root / fixture.stem
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "appointments.sqlite3").unlink(missing_ok=True)
    config = replay_config(config, out_dir, fast=fast)
    utterances = split_utterances(load_caller_audio(fixture))
    twilio = transfer_fake()
    with capture_to_file(out_dir / "server.log") as events:
        async with trio.open_nursery() as fakes:
            await fakes.start(twilio.serve)
            config = with_fake_twilio(config, twilio)
            report = await _replay_call(config, now, utterances, twilio, fast=fast, events=events)
            fakes.cancel_scope.cancel()
    write_wav(out_dir / "agent.wav", report.heard_ulaw)
    text = _report_text(fixture, utterances, events, report, config)
    (out_dir / "report.txt").write_text(text + "\n")
    return text


async def _replay_call(
    config: Config, now: datetime | None, utterances: list[bytes], twilio: FakeTwilioRest,
    *, fast: bool, events: list[dict[str, Any]],
) -> CallerReport:  # fmt: skip
    """One call against a server in this process; Twilio's part in a transfer too."""
    from receptionist.runtime import open_services
    from receptionist.server import serve_app

    async with open_services(config, now=now) as services, trio.open_nursery() as nursery:
        binds = await nursery.start(serve_app, services, "127.0.0.1", 0)
        caller = TwilioCaller(binds[0], paced=not fast, auth_token=twilio.auth_token)
        report = await caller.run(utterances)
        await trio.sleep(0.5)  # let the server finish logging the call's end
        if any(e.get("outcome") == "transfer" for e in events if e["event"] == "call.end"):
            await follow_transfer(binds[0], twilio, caller.call_sid, caller.caller)
        if services.busy is not None:
            await _calendar_written(services.store, config.calendar.push_poll_s)
        nursery.cancel_scope.cancel()
    return report


async def _calendar_written(store: AppointmentStore, poll_s: float) -> None:
    """Wait for the call's calendar writes, at most ``CALENDAR_WAIT_S``: the calendar is
    written after the caller hears the booking confirmed, and may be down."""
    with trio.move_on_after(CALENDAR_WAIT_S):
        # The pusher's progress is in the database: nothing to wait on but time.
        while await trio.to_thread.run_sync(store.outbox_waiting, CALENDAR_TOPIC):  # noqa: ASYNC110
            await trio.sleep(poll_s)


def _report_text(
    fixture: Path,
    utterances: list[bytes],
    events: list[dict[str, Any]],
    report: CallerReport,
    config: Config,
) -> str:
    store = AppointmentStore(config)
    bookings = [format_booking(a) for a in store.appointments(include_past=True)]
    title = f"{fixture.name}: {len(utterances)} caller utterances"
    table = format_table(turn_rows(events), report)
    booked = "\n".join(f"  {line}" for line in bookings) or "  (none)"
    text = f"{title}\n{table}\nbookings:\n{booked}\n"
    if any(e.get("event", "").startswith("transfer.") for e in events):
        text += f"transfer:\n{transfer_lines(events)}\n"
    if config.calendar.kind != "none":
        text += f"calendar ({config.calendar.url}):\n{_calendar_lines(events, store)}\n"
    return text


def _calendar_lines(events: list[dict[str, Any]], store: AppointmentStore) -> str:
    """Each calendar write of the call, and the writes still waiting (the calendar down)."""
    lines = [
        f"  {e['action']} {e['uid']} (booking {e['booking_id']})"
        for e in events
        if e.get("event") == "calendar.written"
    ]
    if waiting := store.outbox_waiting(CALENDAR_TOPIC):
        lines.append(f"  {waiting} write(s) still waiting: see calendar.* in server.log")
    return "\n".join(lines) or "  (no writes)"


def dump_events(events: list[dict[str, Any]]) -> str:
    return "\n".join(json.dumps(e, default=str) for e in events)
