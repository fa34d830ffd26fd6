"""The value types config.toml's keys are checked against, shared by every section.

TOML values are already typed, so scalars are strict: ``port = "8080"`` or
``smart_format = 1`` is a mistake to report, not a value to guess at. Numbers may be
written without a fraction where a float is expected (``keepalive_s = 5``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from pydantic import AfterValidator, ConfigDict, Field, Strict

SECTION = ConfigDict(extra="forbid")
"""Every table: an unknown key is an error (a misspelt key would otherwise be ignored)."""

Int = Annotated[int, Strict()]
Float = Annotated[float, Strict()]
Bool = Annotated[bool, Strict()]
Text = Annotated[str, Strict()]

Count = Annotated[int, Strict(), Field(ge=0)]
"""Zero or more."""
PositiveInt = Annotated[int, Strict(), Field(gt=0)]
PositiveFloat = Annotated[float, Strict(), Field(gt=0)]
Probability = Annotated[float, Strict(), Field(ge=0, le=1)]


class Invalid(ValueError):
    """What a check across keys found wrong: (key relative to where it was raised, problem)."""

    def __init__(self, *problems: tuple[str, str]) -> None:
        super().__init__("; ".join(f"{key}: {problem}" for key, problem in problems))
        self.problems = problems


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be empty")
    return value


NonBlank = Annotated[str, Strict(), AfterValidator(_not_blank)]


def url(*schemes: str) -> Callable[[str], str]:
    """A check that a URL starts with one of ``schemes`` (``"wss"``, ``"ws"``...)."""
    prefixes = tuple(f"{scheme}://" for scheme in schemes)

    def check(value: str) -> str:
        if not any(value.startswith(p) and len(value) > len(p) for p in prefixes):
            raise ValueError(f"must start with {' or '.join(prefixes)}, got {value!r}")
        return value

    return check
