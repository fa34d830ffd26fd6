"""What comes from the environment, never from config.toml: API keys and tokens.

Read once, with the file, by ``load_config``; a chosen cloud engine without its key stops
the start-up there, naming the variable. Every value is kept out of reprs and so out of logs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import field

from pydantic.dataclasses import dataclass

from receptionist.config.engines import EnginesConfig, LlmConfig
from receptionist.config.values import SECTION, Text

DEEPGRAM_KEY = "DEEPGRAM_API_KEY"
ELEVENLABS_KEY = "ELEVENLABS_API_KEY"
TWILIO_AUTH_TOKEN = "TWILIO_AUTH_TOKEN"
"""Set: every webhook must carry a valid X-Twilio-Signature (server.py); with the SID, the
REST API's password (staff/twilio_rest.py)."""
TWILIO_ACCOUNT_SID = "TWILIO_ACCOUNT_SID"
"""The REST API's user: warm transfers and SMS need it (with the auth token)."""
STREAM_SECRET = "RECEPTIONIST_STREAM_SECRET"
"""Set: the key that signs media-stream tokens, shared by processes serving one number."""
ADMIN_PASSWORD = "RECEPTIONIST_ADMIN_PASSWORD"
"""Set: the call review pages (/calls) are served to whoever logs in with it; unset: off."""
METRICS_TOKEN = "RECEPTIONIST_METRICS_TOKEN"
"""Set: /metrics answers requests with ``Authorization: Bearer <it>``; unset: /metrics is off."""
WEBHOOK_SECRET = "RECEPTIONIST_WEBHOOK_SECRET"
"""Set (with [notify] webhook_url): the key that signs each report POSTed to the clinic."""
DATABASE_PASSWORDS = ("RECEPTIONIST_DATABASE_PASSWORD", "PGPASSWORD")
"""The PostgreSQL password ([scheduler] database), the first of these that is set; never
in the URL."""
DEFAULT_LLM_KEY = "OPENAI_API_KEY"
"""``llm.api_key_env`` when the file does not set it."""


@dataclass(frozen=True, slots=True, config=SECTION)
class Secrets:
    """The environment's keys; "" when unset. ``llm_api_key`` is the variable named by
    ``llm.api_key_env``."""

    deepgram_api_key: Text = field(default="", repr=False)
    llm_api_key: Text = field(default="", repr=False)
    elevenlabs_api_key: Text = field(default="", repr=False)
    twilio_auth_token: Text = field(default="", repr=False)
    twilio_account_sid: Text = field(default="", repr=False)
    stream_secret: Text = field(default="", repr=False)
    admin_password: Text = field(default="", repr=False)
    metrics_token: Text = field(default="", repr=False)
    """/metrics answers only requests bearing it; unset, /metrics is off."""
    webhook_secret: Text = field(default="", repr=False)
    """Signs the [notify] webhook's requests; unset, the webhook is off."""
    database_password: Text = field(default="", repr=False)
    """PostgreSQL's password (DATABASE_PASSWORDS); "": none, or libpq's own ~/.pgpass."""
    calendar: Mapping[str, str] = field(default_factory=dict, repr=False)
    """The calendar's password, token or OAuth secrets, by the variable ``[calendar]`` names."""

    @classmethod
    def from_environ(
        cls, environ: Mapping[str, str], *, llm_api_key_env: str,
        calendar_variables: tuple[str, ...] = (),
    ) -> Secrets:  # fmt: skip
        def read(name: str) -> str:
            return environ.get(name, "").strip() if name else ""

        return cls(
            deepgram_api_key=read(DEEPGRAM_KEY),
            llm_api_key=read(llm_api_key_env),
            elevenlabs_api_key=read(ELEVENLABS_KEY),
            twilio_auth_token=read(TWILIO_AUTH_TOKEN),
            twilio_account_sid=read(TWILIO_ACCOUNT_SID),
            stream_secret=read(STREAM_SECRET),
            admin_password=read(ADMIN_PASSWORD),
            metrics_token=read(METRICS_TOKEN),
            webhook_secret=read(WEBHOOK_SECRET),
            database_password=next(filter(None, map(read, DATABASE_PASSWORDS)), ""),
            calendar={name: read(name) for name in calendar_variables if read(name)},
        )


def missing_keys(engines: EnginesConfig, llm: LlmConfig, secrets: Secrets) -> list[tuple[str, str]]:
    """(key, problem) for each chosen cloud engine whose API key is not in ``secrets``."""
    missing = []
    if engines.stt == "deepgram" and not secrets.deepgram_api_key:
        missing.append(("engines.stt", f"'deepgram' needs the {DEEPGRAM_KEY} environment variable"))
    if engines.dialogue == "openai" and llm.api_key_env and not secrets.llm_api_key:
        missing.append((
            "llm.api_key_env",
            f"'openai' (engines.dialogue) needs the environment variable {llm.api_key_env}: "
            f'the API key for {llm.base_url} (or api_key_env = "" for a server without keys)',
        ))  # fmt: skip
    if engines.tts == "elevenlabs" and not secrets.elevenlabs_api_key:
        missing.append(
            ("engines.tts", f"'elevenlabs' needs the {ELEVENLABS_KEY} environment variable")
        )
    return missing
