"""[[practitioners]] in config.toml: checked with the rest, each mistake naming its key."""

from __future__ import annotations

from typing import Any

import pytest

from receptionist.config import parse_config
from receptionist.errors import ConfigError

CLINIC = {"hours": {"monday": "09:00-17:00"}}
SERVICES = [{"name": "check-up", "minutes": 30}, {"name": "cleaning", "minutes": 45}]


def config(practitioners: list[dict[str, Any]]) -> Any:
    return parse_config({"clinic": CLINIC, "services": SERVICES, "practitioners": practitioners})


def test_practitioners_are_optional_and_read_with_their_services_and_hours() -> None:
    assert parse_config({"clinic": CLINIC, "services": SERVICES}).practitioners == ()
    read = config([{"name": "Dr.  Patel", "services": ["check-up"]},
                   {"name": "Lee", "hours": {"monday": "12:00-17:00"}}])  # fmt: skip
    patel, lee = read.practitioners
    assert patel.name == "Dr. Patel"
    assert patel.does("check-up")
    assert not patel.does("cleaning")
    assert lee.does("cleaning"), "no services listed: every service"
    assert lee.hours_on(0) is not None
    assert lee.hours_on(1) is None
    assert read.practitioner("dr patel") is None
    assert read.practitioner("DR. PATEL") is patel


@pytest.mark.parametrize(
    ("practitioners", "message"),
    [
        ([{"name": "Dr. Patel", "services": ["x-ray"]}, {"name": "Lee"}],
         "practitioners[0].services[0]: 'x-ray' is not a [[services]] name"),
        ([{"name": "Lee"}, {"name": "lee"}], "practitioners[1].name: 'lee' is already"),
        ([{"name": "Dr. Patel", "services": ["check-up"]}],
         "services[1].name: no practitioner does 'cleaning'"),
        ([{"name": " "}], "practitioners[0].name"),
        ([{"name": "Lee", "chair": 2}], "practitioners[0].chair"),
        ([{"name": "Lee", "hours": {"monday": "17:00-09:00"}}], "practitioners[0].hours.monday"),
        # Working only while the clinic is closed: never bookable, so say so at load.
        ([{"name": "Lee"}, {"name": "Kim", "hours": {"tuesday": "09:00-17:00"}}],
         "practitioners[1].hours: Kim never works while the clinic is open"),
        ([{"name": "Lee"}, {"name": "Kim", "hours": {"monday": "17:00-19:00"}}],
         "practitioners[1].hours: Kim never works while the clinic is open"),
    ],
)  # fmt: skip
def test_mistakes_name_their_key(practitioners: list[dict[str, Any]], message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        config(practitioners)
