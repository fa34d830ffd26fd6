"""``receptionist calendar check`` from the command line, against Radicale on 127.0.0.1."""

from __future__ import annotations

import pytest

from receptionist.cli import main
from tests.helpers.paths import PROJECT_ROOT
from tests.helpers.radicale_server import PASSWORD, USER, RadicaleServer

CONFIG = str(PROJECT_ROOT / "config.toml")


def check(url: str) -> list[str]:
    return [
        "--config", CONFIG, "calendar", "check",
        "--set", "calendar.kind=caldav", "--set", f"calendar.url={url}",
        "--set", f"calendar.user={USER}",
    ]  # fmt: skip


def test_check_prints_each_step_and_succeeds(
    radicale: RadicaleServer, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CALENDAR_SECRET", PASSWORD)
    assert main(check(radicale.new_calendar())) == 0
    out = capsys.readouterr().out
    for step in ("connect", "authenticate", "calendar", "read", "write", "delete"):
        assert f"ok   {step}" in out
    assert out.rstrip().endswith("calendar: ready")
    assert PASSWORD not in out


def test_check_with_a_wrong_password_fails_clearly(
    radicale: RadicaleServer, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CALENDAR_SECRET", "wrong-password")
    assert main(check(radicale.new_calendar())) == 1
    out = capsys.readouterr().out
    assert "FAIL authenticate" in out
    assert "HTTP 401" in out
    assert "wrong-password" not in out


def test_check_without_the_secret_names_the_variable(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("CALENDAR_SECRET", raising=False)
    assert main(check("http://127.0.0.1:9/clinic/calendar/")) == 2
    assert "CALENDAR_SECRET" in capsys.readouterr().err


def test_check_without_a_calendar_says_so(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--config", CONFIG, "calendar", "check"]) == 1
    assert 'kind = "none"' in capsys.readouterr().out
