"""Where the tests find the project and the real provider payloads they replay."""

from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]
SAMPLES = PROJECT_ROOT / "tests" / "protocol_samples"
"""Real provider payloads, copied from the providers' docs and SDKs; each has a .source.txt."""
FIXTURES = PROJECT_ROOT / "tests" / "fixtures"
"""Caller fixtures: espeak-spoken calls (WAV) and their Deepgram scripts (JSON)."""
