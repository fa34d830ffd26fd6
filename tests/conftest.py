"""Shared test helpers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from receptionist.calendar.config import CalendarConfig
from receptionist.config import Config, load_config

from .calendar_helpers import calendar_settings
from .calendar_outbox import TestOutbox
from .radicale_server import RadicaleServer

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SAMPLES = Path(__file__).resolve().parent / "protocol_samples"
"""Real provider payloads, copied from the providers' docs and SDKs; each has a .source.txt."""


@pytest.fixture(scope="session")
def project_config() -> Config:
    """The config.toml users start from."""
    return load_config(PROJECT_ROOT / "config.toml")


@pytest.fixture(scope="session")
def radicale(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """A CalDAV server (Radicale) on 127.0.0.1 for the whole session."""
    server = RadicaleServer(tmp_path_factory.mktemp("radicale"))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def settings(radicale: RadicaleServer) -> CalendarConfig:
    """A fresh, empty calendar on the session's Radicale."""
    return calendar_settings(radicale.new_calendar())


@pytest.fixture
def outbox(tmp_path: Path) -> TestOutbox:
    return TestOutbox(tmp_path / "outbox.sqlite3")
