"""The whole configuration: config.toml's sections, and the secrets from the environment."""

from __future__ import annotations

from dataclasses import field
from typing import Annotated

from pydantic import AfterValidator, model_validator
from pydantic.dataclasses import dataclass

from receptionist.config.calendar import CalendarConfig
from receptionist.config.calls import (
    BufferConfig,
    DialogueConfig,
    LoggingConfig,
    ServerConfig,
    TurnTakingConfig,
    TwilioConfig,
)
from receptionist.config.clinic import ClinicConfig, SchedulerConfig, Service, check_services
from receptionist.config.engines import (
    DeepgramConfig,
    ElevenLabsConfig,
    EnginesConfig,
    LlmConfig,
    TtsConfig,
    VadConfig,
)
from receptionist.config.environment import Secrets, missing_keys
from receptionist.config.escalation import EscalationConfig
from receptionist.config.notify import NotifyConfig
from receptionist.config.practitioners import Practitioner, check_practitioners
from receptionist.config.records import RecordsConfig
from receptionist.config.values import SECTION, Invalid


@dataclass(frozen=True, slots=True, kw_only=True, config=SECTION)
class Config:
    """Built by ``load_config``; ``dataclasses.replace`` on it (or a section) checks again."""

    server: ServerConfig = ServerConfig()
    clinic: ClinicConfig
    services: Annotated[tuple[Service, ...], AfterValidator(check_services)]
    practitioners: tuple[Practitioner, ...] = ()
    """Who appointments are booked with; none: the clinic as a whole (practitioners.py)."""
    scheduler: SchedulerConfig = SchedulerConfig()
    engines: EnginesConfig = EnginesConfig()
    deepgram: DeepgramConfig = DeepgramConfig()
    vad: VadConfig = VadConfig()
    tts: TtsConfig = TtsConfig()
    elevenlabs: ElevenLabsConfig = ElevenLabsConfig()
    dialogue: DialogueConfig = DialogueConfig()
    turn_taking: TurnTakingConfig = TurnTakingConfig()
    llm: LlmConfig = LlmConfig()
    buffers: BufferConfig = BufferConfig()
    twilio: TwilioConfig = TwilioConfig()
    logging: LoggingConfig = LoggingConfig()
    calendar: CalendarConfig = CalendarConfig()
    records: RecordsConfig = RecordsConfig()
    escalation: EscalationConfig = EscalationConfig()
    notify: NotifyConfig = NotifyConfig()
    secrets: Secrets = field(default=Secrets(), repr=False)
    """From the environment only (``load_config``'s ``environ``), never from the file."""

    def service(self, name: str) -> Service | None:
        return next((s for s in self.services if s.name == name), None)

    def practitioner(self, name: str) -> Practitioner | None:
        """The practitioner a caller named, whatever the case and spacing."""
        wanted = " ".join(name.split()).casefold()
        return next((p for p in self.practitioners if p.name.casefold() == wanted), None)

    @model_validator(mode="after")
    def _checked_across_sections(self) -> Config:
        missing = missing_keys(self.engines, self.llm, self.secrets)
        if self.calendar.kind != "none":
            missing += self.calendar.missing_secrets(self.secrets.calendar)
        missing += check_practitioners(self.practitioners, self.services, self.clinic.hours)
        if missing:
            raise Invalid(*missing)
        return self
