"""config.toml, read once at start-up into frozen, checked dataclasses (pydantic).

Every section is checked in this package and nowhere else: types, ranges, choices, and the
checks across keys (a service to book, a day the clinic opens, the API key of each chosen
cloud engine). A mistake is a ConfigError naming its key, found before the first call
rather than during one. The engines take their API keys from ``Config.secrets``, which
``load_config`` reads from the environment, never from the file.

- ``values``: the value types shared by the sections; ``clinic``: clinic, hours, services,
  scheduler; ``engines``: engine choices and settings; ``calendar``: the CalDAV calendar;
  ``calls``: server, dialogue, turn-taking, buffers, Twilio, logging; ``environment``: the
  secrets; ``practitioners``: who appointments are booked with; ``model``: Config;
  ``loading``: load_config, ``--set`` overrides, error messages.
"""

from receptionist.config.calendar import CalendarConfig
from receptionist.config.calls import (
    BufferConfig,
    DialogueConfig,
    LoggingConfig,
    ServerConfig,
    TurnTakingConfig,
    TwilioConfig,
)
from receptionist.config.clinic import (
    WEEKDAYS,
    ClinicConfig,
    OpeningHours,
    SchedulerConfig,
    Service,
    WeeklyHours,
)
from receptionist.config.engines import (
    ENGINE_CHOICES,
    DeepgramConfig,
    ElevenLabsConfig,
    EnginesConfig,
    LlmConfig,
    TtsConfig,
    VadConfig,
)
from receptionist.config.environment import Secrets
from receptionist.config.escalation import EscalationConfig
from receptionist.config.loading import DEFAULT_CONFIG_PATH, load_config, parse_config
from receptionist.config.model import Config
from receptionist.config.notify import NotifyConfig
from receptionist.config.practitioners import Practitioner
from receptionist.config.records import RecordsConfig

__all__ = [
    "DEFAULT_CONFIG_PATH",
    "ENGINE_CHOICES",
    "WEEKDAYS",
    "BufferConfig",
    "CalendarConfig",
    "ClinicConfig",
    "Config",
    "DeepgramConfig",
    "DialogueConfig",
    "ElevenLabsConfig",
    "EnginesConfig",
    "EscalationConfig",
    "LlmConfig",
    "LoggingConfig",
    "NotifyConfig",
    "OpeningHours",
    "Practitioner",
    "RecordsConfig",
    "SchedulerConfig",
    "Secrets",
    "ServerConfig",
    "Service",
    "TtsConfig",
    "TurnTakingConfig",
    "TwilioConfig",
    "VadConfig",
    "WeeklyHours",
    "load_config",
    "parse_config",
]
