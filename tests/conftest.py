"""Shared test helpers."""

from __future__ import annotations

from pathlib import Path

import pytest

from receptionist.config import Config, load_config

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SAMPLES = Path(__file__).resolve().parent / "protocol_samples"
"""Real provider payloads, copied from the providers' docs and SDKs; each has a .source.txt."""


@pytest.fixture(scope="session")
def project_config() -> Config:
    """The config.toml users start from (no keys: tests never read the environment)."""
    return load_config(PROJECT_ROOT / "config.toml", environ={})
