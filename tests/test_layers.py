"""Imports run down the house, never back up: the libraries the actors use know nothing of
the features built on them (call records, staff, review), of the actors, or of the process
that wires them; only the CLI and the developer tools themselves import the developer tools."""

from __future__ import annotations

import ast
from collections.abc import Iterator

from tests.helpers.paths import PROJECT_ROOT

LIBRARIES = (
    "receptionist.logs", "receptionist.metrics", "receptionist.errors", "receptionist.messages",
    "receptionist.config", "receptionist.telephony", "receptionist.turns", "receptionist.offline",
    "receptionist.llm", "receptionist.engines", "receptionist.scheduling", "receptionist.calendar",
)  # fmt: skip
ABOVE_THE_LIBRARIES = (
    "receptionist.records", "receptionist.staff", "receptionist.review", "stages",
    "receptionist.call", "receptionist.call_stream", "receptionist.server", "receptionist.runtime",
    "receptionist.cli", "receptionist.devtools",
)  # fmt: skip


def _imports() -> Iterator[tuple[str, str]]:
    """(importing module, imported module) for every import in receptionist/ and stages/."""
    for folder in ("receptionist", "stages"):
        for path in sorted((PROJECT_ROOT / folder).rglob("*.py")):
            module = ".".join(path.relative_to(PROJECT_ROOT).with_suffix("").parts)
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                    names = [f"{node.module}.{alias.name}" for alias in node.names]
                    yield from ((module, name) for name in names)
                elif isinstance(node, ast.Import):
                    yield from ((module, alias.name) for alias in node.names)


def _within(module: str, rooms: tuple[str, ...]) -> bool:
    return any(module == room or module.startswith(room + ".") for room in rooms)


def test_the_libraries_import_nothing_above_them() -> None:
    imports = list(_imports())
    assert ("receptionist.logs", "receptionist.metrics") in imports  # the walk sees imports
    upward = [
        f"{module} -> {imported}"
        for module, imported in imports
        if _within(module, LIBRARIES) and _within(imported, ABOVE_THE_LIBRARIES)
    ]
    assert upward == []


def test_only_the_cli_and_the_developer_tools_import_the_developer_tools() -> None:
    importers = {
        module
        for module, imported in _imports()
        if _within(imported, ("receptionist.devtools",))
        and not _within(module, ("receptionist.devtools", "receptionist.cli"))
    }
    assert importers == set()
