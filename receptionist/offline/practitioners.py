"""Which practitioner a caller asks for: "with Dr. Patel", "can I see Sarah?"."""

from __future__ import annotations

import re
from collections.abc import Sequence

from receptionist.config import Practitioner

TITLES = frozenset({"dr", "doctor", "mr", "mrs", "ms", "miss", "prof", "professor", "nurse"})
"""Words of a practitioner's name that do not tell one from another."""
ASKING = TITLES | {"with", "see", "seeing"}
"""Words before a name that show it is a practitioner asked for: many names are words too
("Dr. May": "may I book"; "Dr. Anna Day": "any day")."""


def practitioner_mention(text: str, practitioners: Sequence[Practitioner]) -> str:
    """The configured name a caller's words mention: any word of it but a title after a
    title, "with" or "see" ("doctor patel", "with Patel", "can I see Sarah"), or the whole
    name ("Sarah Jones"); "" when none (or several) are mentioned."""
    said = re.findall(r"[a-z']+", text.lower())
    found = {
        practitioner.name
        for practitioner in practitioners
        if _mentioned(said, _name_words(practitioner.name))
    }
    return found.pop() if len(found) == 1 else ""


def _mentioned(said: list[str], name: list[str]) -> bool:
    if any(word in name and said[i - 1] in ASKING for i, word in enumerate(said) if i):
        return True
    return len(name) > 1 and any(said[i : i + len(name)] == name for i in range(len(said)))


def _name_words(name: str) -> list[str]:
    words = re.findall(r"[a-z']+", name.lower())
    return [word for word in words if word not in TITLES and len(word) > 2]
