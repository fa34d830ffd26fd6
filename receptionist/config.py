"""config.toml, read once at start-up into frozen dataclasses.

A bad value raises ConfigError naming the key, so a mistake is found before the first call,
not during one.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from receptionist.errors import ConfigError

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
DEFAULT_CONFIG_PATH = Path("config.toml")
ENGINE_CHOICES = {
    "stt": ("offline", "deepgram"),
    "dialogue": ("offline", "openai"),
    "tts": ("offline", "elevenlabs"),
}


@dataclass(frozen=True, slots=True)
class ServerConfig:
    host: str = "0.0.0.0"
    port: int = 8080
    public_url: str = ""
    max_calls: int = 16


@dataclass(frozen=True, slots=True)
class Service:
    name: str
    minutes: int
    words: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class OpeningHours:
    opens: time
    closes: time


@dataclass(frozen=True, slots=True)
class ClinicConfig:
    name: str = "the clinic"
    timezone: str = "UTC"
    greeting: str = "Hello, how can I help you?"
    transfer_number: str = ""
    hours: tuple[OpeningHours | None, ...] = (None,) * 7
    """Indexed by weekday, Monday = 0; None when closed."""

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


@dataclass(frozen=True, slots=True)
class SchedulerConfig:
    database: str = "data/appointments.sqlite3"
    """A SQLite file path, or a postgresql://user@host:port/db URL (password from the
    environment only: PGPASSWORD or RECEPTIONIST_DATABASE_PASSWORD)."""
    pool_min_size: int = 1
    pool_max_size: int = 4
    """PostgreSQL connections each server process keeps open (at least) and opens (at most)."""
    slot_minutes: int = 15
    horizon_days: int = 60
    min_notice_minutes: int = 60


@dataclass(frozen=True, slots=True)
class EnginesConfig:
    stt: str = "offline"
    dialogue: str = "offline"
    tts: str = "offline"


@dataclass(frozen=True, slots=True)
class DeepgramConfig:
    """Deepgram's live speech-to-text, used when ``engines.stt = "deepgram"``; its API key
    comes only from the DEEPGRAM_API_KEY environment variable, never from the file."""

    base_url: str = "wss://api.deepgram.com"
    model: str = "nova-3"
    endpointing_ms: int = 300
    utterance_end_ms: int = 1000
    smart_format: bool = True
    interim_results: bool = True
    keepalive_s: float = 5.0
    reconnect_attempts: int = 5
    resend_buffer_s: float = 5.0
    finalize_after_ms: int = 200


@dataclass(frozen=True, slots=True)
class VadConfig:
    engine: str = "silero"
    threshold: float = 0.5
    webrtc_mode: int = 3
    min_speech_ms: int = 100
    end_silence_ms: int = 700
    preroll_ms: int = 300
    max_utterance_s: float = 30.0


@dataclass(frozen=True, slots=True)
class TtsConfig:
    voice: str = "en-us"
    words_per_minute: int = 165


@dataclass(frozen=True, slots=True)
class ElevenLabsConfig:
    """The ElevenLabs streaming TTS, used when ``engines.tts = "elevenlabs"``; its API key
    comes only from the ELEVENLABS_API_KEY environment variable, never from the file."""

    base_url: str = "https://api.elevenlabs.io"
    voice_id: str = "JBFqnCBsd6RMkjVDRZzb"
    model_id: str = "eleven_flash_v2_5"
    first_audio_timeout_s: float = 1.0
    stall_timeout_s: float = 2.0


@dataclass(frozen=True, slots=True)
class DialogueConfig:
    reprompt_after_s: float = 8.0
    max_reprompts: int = 2


@dataclass(frozen=True, slots=True)
class TurnTakingConfig:
    """When the caller's turn is over, and when a barge-in was a false alarm (turn_taking.py)."""

    unfinished_wait_ms: int = 1500
    false_barge_in_ms: int = 800
    preemptive_generation: bool = True
    preemptive_after_ms: int = 100


@dataclass(frozen=True, slots=True)
class LlmConfig:
    """The OpenAI-compatible chat model, used when ``engines.dialogue = "openai"``. Its API
    key comes only from the environment variable named by ``api_key_env`` ("" for a local
    server that needs none), never from the file."""

    base_url: str = "https://api.openai.com/v1"
    model: str = "gpt-4o-mini"
    temperature: float = 0.3
    max_tokens: int = 300
    api_key_env: str = "OPENAI_API_KEY"
    first_token_timeout_s: float = 4.0
    stall_timeout_s: float = 4.0
    max_tool_rounds: int = 4


@dataclass(frozen=True, slots=True)
class BufferConfig:
    inbound_audio_frames: int = 50
    dialogue_events: int = 64
    hints: int = 4
    sentences: int = 16
    outbound_frames: int = 100
    scheduler: int = 8
    preemptive_tokens: int = 128


@dataclass(frozen=True, slots=True)
class TwilioConfig:
    send_ahead_ms: int = 100


@dataclass(frozen=True, slots=True)
class LoggingConfig:
    level: str = "info"


@dataclass(frozen=True, slots=True)
class Config:
    server: ServerConfig = field(default_factory=ServerConfig)
    clinic: ClinicConfig = field(default_factory=ClinicConfig)
    services: tuple[Service, ...] = ()
    scheduler: SchedulerConfig = field(default_factory=SchedulerConfig)
    engines: EnginesConfig = field(default_factory=EnginesConfig)
    deepgram: DeepgramConfig = field(default_factory=DeepgramConfig)
    vad: VadConfig = field(default_factory=VadConfig)
    tts: TtsConfig = field(default_factory=TtsConfig)
    elevenlabs: ElevenLabsConfig = field(default_factory=ElevenLabsConfig)
    dialogue: DialogueConfig = field(default_factory=DialogueConfig)
    turn_taking: TurnTakingConfig = field(default_factory=TurnTakingConfig)
    llm: LlmConfig = field(default_factory=LlmConfig)
    buffers: BufferConfig = field(default_factory=BufferConfig)
    twilio: TwilioConfig = field(default_factory=TwilioConfig)
    logging: LoggingConfig = field(default_factory=LoggingConfig)

    def service(self, name: str) -> Service | None:
        return next((s for s in self.services if s.name == name), None)


def load_config(path: Path | str = DEFAULT_CONFIG_PATH, overrides: Sequence[str] = ()) -> Config:
    """Read and validate a config file.

    Args:
        overrides: ``section.key=value`` settings that replace the file's (the command
            line's ``--set``); the value is read as TOML, or else taken as a string.

    Raises:
        ConfigError: the file is missing, is not TOML, or holds a bad value.
    """
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(f"config file not found: {path}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}") from exc
    for override in overrides:
        _override(raw, override)
    return parse_config(raw)


def _override(raw: dict[str, Any], override: str) -> None:
    """Apply one ``section.key=value`` to the file's tables, before they are checked."""
    name, equals, value = override.partition("=")
    section, dot, key = name.strip().partition(".")
    if not (equals and dot and section and key) or "." in key:
        raise ConfigError(f"--set {override!r}: expected section.key=value")
    try:
        parsed = tomllib.loads(f"value = {value}")["value"]
    except tomllib.TOMLDecodeError:
        parsed = value  # a bare string: --set deepgram.base_url=ws://127.0.0.1:9000
    table = raw.setdefault(section, {})
    if not isinstance(table, dict):
        raise ConfigError(f"--set {override!r}: [{section}] is not a table")
    table[key] = parsed


def parse_config(raw: Mapping[str, Any]) -> Config:
    clinic_raw = dict(_table(raw, "clinic"))
    hours = _parse_hours(_table(clinic_raw, "hours", "clinic"))
    clinic_raw.pop("hours", None)
    clinic = _build(ClinicConfig, clinic_raw, "clinic", hours=hours)
    try:
        clinic.tz  # noqa: B018 - validate the timezone name now, not mid-call
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ConfigError(f"clinic.timezone: unknown timezone {clinic.timezone!r}") from exc
    scheduler_raw = _table(raw, "scheduler")
    config = Config(
        server=_build(ServerConfig, _table(raw, "server"), "server"),
        clinic=clinic,
        services=_parse_services(raw.get("services", [])),
        scheduler=_build(SchedulerConfig, scheduler_raw, "scheduler"),
        engines=_build(EnginesConfig, _table(raw, "engines"), "engines"),
        deepgram=_build(DeepgramConfig, _table(raw, "deepgram"), "deepgram"),
        vad=_build(VadConfig, _table(raw, "vad"), "vad"),
        tts=_build(TtsConfig, _table(raw, "tts"), "tts"),
        elevenlabs=_build(ElevenLabsConfig, _table(raw, "elevenlabs"), "elevenlabs"),
        dialogue=_build(DialogueConfig, _table(raw, "dialogue"), "dialogue"),
        turn_taking=_build(TurnTakingConfig, _table(raw, "turn_taking"), "turn_taking"),
        llm=_build(LlmConfig, _table(raw, "llm"), "llm"),
        buffers=_build(BufferConfig, _table(raw, "buffers"), "buffers"),
        twilio=_build(TwilioConfig, _table(raw, "twilio"), "twilio"),
        logging=_build(LoggingConfig, _table(raw, "logging"), "logging"),
    )
    _validate(config)
    return config


def _table(raw: Mapping[str, Any], key: str, parent: str = "") -> Mapping[str, Any]:
    value = raw.get(key, {})
    if not isinstance(value, Mapping):
        raise ConfigError(f"{parent + '.' if parent else ''}{key} must be a table")
    return value


def _build(cls: Any, values: Mapping[str, Any], section: str, **extra: Any) -> Any:
    known = set(cls.__dataclass_fields__)
    unknown = set(values) - known
    if unknown:
        raise ConfigError(f"[{section}] has unknown keys: {', '.join(sorted(unknown))}")
    for key, value in values.items():
        default = cls.__dataclass_fields__[key].default
        expected = type(default)
        ok = isinstance(value, expected) or (expected is float and isinstance(value, int))
        if isinstance(default, Path) or key in extra:
            ok = True
        if not ok or (expected is int and isinstance(value, bool)):
            raise ConfigError(f"{section}.{key} must be {expected.__name__}, got {value!r}")
    return cls(**{**values, **extra})


def _parse_hours(raw: Mapping[str, Any]) -> tuple[OpeningHours | None, ...]:
    unknown = set(raw) - set(WEEKDAYS)
    if unknown:
        raise ConfigError(f"clinic.hours: unknown days {', '.join(sorted(unknown))}")
    return tuple(_parse_span(day, raw.get(day, "")) for day in WEEKDAYS)


def _parse_span(day: str, span: Any) -> OpeningHours | None:
    if span in ("", None):
        return None
    try:
        opens, closes = (time.fromisoformat(part.strip()) for part in str(span).split("-"))
    except ValueError as exc:
        raise ConfigError(f"clinic.hours.{day} must look like '09:00-17:00', got {span!r}") from exc
    if closes <= opens:
        raise ConfigError(f"clinic.hours.{day}: closes before it opens ({span!r})")
    return OpeningHours(opens, closes)


def _parse_services(raw: Any) -> tuple[Service, ...]:
    if not isinstance(raw, list):
        raise ConfigError("services must be an array of tables ([[services]])")
    services = []
    for index, entry in enumerate(raw):
        name, minutes = entry.get("name"), entry.get("minutes")
        if not isinstance(name, str) or not name:
            raise ConfigError(f"services[{index}].name must be a non-empty string")
        if not isinstance(minutes, int) or minutes <= 0:
            raise ConfigError(f"services[{index}].minutes must be a positive integer")
        words = tuple(str(w).lower() for w in entry.get("words", ()))
        services.append(Service(name=name, minutes=minutes, words=words))
    return tuple(services)


def _validate(config: Config) -> None:
    if not config.services:
        raise ConfigError("at least one [[services]] entry is needed to book appointments")
    if not any(config.clinic.hours):
        raise ConfigError("clinic.hours: the clinic is never open")
    for name, choices in ENGINE_CHOICES.items():
        if getattr(config.engines, name) not in choices:
            raise ConfigError(f"engines.{name} must be one of {', '.join(choices)}")
    if config.vad.engine not in ("silero", "webrtc"):
        raise ConfigError("vad.engine must be 'silero' or 'webrtc'")
    for name in BufferConfig.__dataclass_fields__:
        if getattr(config.buffers, name) < 1:
            raise ConfigError(f"buffers.{name} must be at least 1")
    if config.turn_taking.preemptive_after_ms < 1:
        raise ConfigError("turn_taking.preemptive_after_ms must be at least 1")
    if not 0 <= config.scheduler.pool_min_size <= config.scheduler.pool_max_size:
        raise ConfigError("scheduler.pool_min_size must be 0 to scheduler.pool_max_size")
    if config.scheduler.pool_max_size < 1:
        raise ConfigError("scheduler.pool_max_size must be at least 1")
    if not 60 % config.scheduler.slot_minutes == 0:
        raise ConfigError("scheduler.slot_minutes must divide 60")
