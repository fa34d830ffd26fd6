"""Reading config.toml (and ``--set`` overrides, and the environment's keys) into a Config.

Every problem is reported at once, one line each, naming its key::

    scheduler.slot_minutes: must divide 60 (5, 10, 15, 20, 30...), got 0
    services[0].minutes: must be greater than 0, got -5
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import MappingProxyType
from typing import Any

from pydantic import TypeAdapter, ValidationError
from pydantic_core import ErrorDetails

from receptionist.config.calendar import CalendarConfig
from receptionist.config.environment import DEFAULT_LLM_KEY, Secrets
from receptionist.config.model import Config
from receptionist.config.values import Invalid
from receptionist.errors import ConfigError

DEFAULT_CONFIG_PATH = Path("config.toml")
NO_ENVIRONMENT: Mapping[str, str] = MappingProxyType({})
_CONFIG = TypeAdapter(Config)
_MESSAGES = {
    "missing": "required",
    "unexpected_keyword_argument": "unknown key",
    "dataclass_type": "must be a table",
    "dataclass_exact_type": "must be a table",
    "tuple_type": "must be an array",
    "int_type": "must be an integer",
    "float_type": "must be a number",
    "bool_type": "must be true or false",
    "string_type": "must be a string",
    "path_type": "must be a path (a string)",
}
"""Pydantic's wording, in the file's terms (a table, an array), where it differs."""
_PHRASES = (
    ("Input should be", "must be"),
    ("greater than or equal to", "at least"),
    ("less than or equal to", "at most"),
)


def load_config(
    path: Path | str = DEFAULT_CONFIG_PATH,
    overrides: Sequence[str] = (),
    *,
    environ: Mapping[str, str] | None = None,
) -> Config:
    """Read and check a config file, and the API keys its engines need.

    Args:
        overrides: ``section.key=value`` settings that replace the file's (the command
            line's ``--set``); the value is read as TOML, or else taken as a string.
        environ: where the keys are read from; by default ``os.environ``.

    Raises:
        ConfigError: the file is missing or is not TOML, a value is bad, or a chosen
            cloud engine's key is not in the environment. One line per problem.
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
    return parse_config(raw, environ=os.environ if environ is None else environ)


def parse_config(raw: Mapping[str, Any], *, environ: Mapping[str, str] = NO_ENVIRONMENT) -> Config:
    """Check config.toml's tables; the keys come from ``environ`` (none by default)."""
    if "secrets" in raw:
        raise ConfigError("secrets: keys are read from the environment only, never from a file")
    secrets = Secrets.from_environ(
        environ, llm_api_key_env=_llm_key_variable(raw),
        calendar_variables=_calendar_variables(raw),
    )  # fmt: skip
    try:
        return _CONFIG.validate_python({**raw, "secrets": secrets})
    except ValidationError as exc:
        raise ConfigError(describe(exc)) from None


def _llm_key_variable(raw: Mapping[str, Any]) -> str:
    """``llm.api_key_env`` as written; a bad one is reported by the check that follows."""
    llm = raw.get("llm")
    name = llm.get("api_key_env", DEFAULT_LLM_KEY) if isinstance(llm, Mapping) else DEFAULT_LLM_KEY
    return name if isinstance(name, str) else ""


def _calendar_variables(raw: Mapping[str, Any]) -> tuple[str, ...]:
    """The variables ``[calendar]`` names for its secrets; a bad table is reported later."""
    table = raw.get("calendar", {})
    if not isinstance(table, Mapping) or table.get("kind", "none") == "none":
        return ()
    try:
        return CalendarConfig.model_validate(table).secret_variables
    except ValidationError:
        return ()


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


def describe(error: ValidationError) -> str:
    """One line per problem, each starting with the key: ``services[0].minutes: ...``."""
    lines = []
    for problem in error.errors():
        where = _key(problem["loc"])
        cause = problem.get("ctx", {}).get("error")
        if isinstance(cause, Invalid):
            lines += [f"{_join(where, key)}: {text}" for key, text in cause.problems]
        else:
            lines.append(f"{where or '(top level)'}: {_message(problem, cause)}")
    return "\n".join(lines)


def _message(problem: ErrorDetails, cause: object) -> str:
    if isinstance(cause, ValueError):
        return str(cause)
    kind, given = problem["type"], problem["input"]
    text = _MESSAGES.get(kind) or _plain(problem["msg"])
    if kind in ("missing", "unexpected_keyword_argument") or isinstance(given, Mapping):
        return text
    return f"{text}, got {given!r}"


def _plain(message: str) -> str:
    """ "Input should be greater than or equal to 1": "must be at least 1"."""
    for said, meant in _PHRASES:
        message = message.replace(said, meant)
    return message


def _key(loc: tuple[int | str, ...]) -> str:
    return "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in loc).lstrip(".")


def _join(where: str, key: str) -> str:
    if not where:
        return key
    return where + key if key.startswith("[") else f"{where}.{key}"
