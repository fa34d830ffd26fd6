"""Shared by the config tests: the project's config.toml, changed table by table, and the
lines of the ConfigError a raw config gives."""

from __future__ import annotations

import copy
import tomllib
from typing import Any

import pytest

from receptionist.config import parse_config
from receptionist.errors import ConfigError
from tests.helpers.paths import PROJECT_ROOT

CONFIG_TOML = PROJECT_ROOT / "config.toml"
RAW = tomllib.loads(CONFIG_TOML.read_text(encoding="utf-8"))


def changed(**tables: Any) -> dict[str, Any]:
    """config.toml with these tables' keys replaced (a non-table value replaces the table)."""
    raw = copy.deepcopy(RAW)
    for name, value in tables.items():
        raw[name] = {**raw.get(name, {}), **value} if isinstance(value, dict) else value
    return raw


def problems(raw: dict[str, Any], environ: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(ConfigError) as error:
        parse_config(raw, environ=environ or {})
    return str(error.value).splitlines()
