"""Which practitioner a caller asks for: "with Dr. Patel", "can I see Sarah?"."""

from __future__ import annotations

import re
from collections.abc import Sequence

from receptionist.config import Practitioner

TITLES = frozenset({"dr", "doctor", "mr", "mrs", "ms", "miss", "prof", "professor", "nurse"})
"""Words of a practitioner's name that do not tell one from another."""


def practitioner_mention(text: str, practitioners: Sequence[Practitioner]) -> str:
    """The configured name a caller's words mention, by any word of it but a title: "doctor
    patel", "with Patel", "Sarah Jones"; "" when none (or several) are mentioned."""
    said = set(re.findall(r"[a-z']+", text.lower()))
    found = {
        practitioner.name for practitioner in practitioners if said & _name_words(practitioner.name)
    }
    return found.pop() if len(found) == 1 else ""


def _name_words(name: str) -> set[str]:
    words = set(re.findall(r"[a-z']+", name.lower()))
    return {word for word in words if word not in TITLES and len(word) > 2}
