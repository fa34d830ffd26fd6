"""Fixtures of the call-record tests."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from receptionist.config import Config
from tests.helpers.clinic import clinic_config


@pytest.fixture
def record_config(database: str, tmp_path: Path) -> Config:
    """The test clinic on each backend (SQLite, PostgreSQL), recordings in tmp_path."""
    config = clinic_config(database)
    return replace(config, records=replace(config.records, folder=str(tmp_path / "rec")))
