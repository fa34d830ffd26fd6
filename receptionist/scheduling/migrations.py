"""The database schema's runner: which numbered steps (schema_steps.py) a database lacks.

Each step takes a database from ``version - 1`` to ``version``; the backends apply the steps
a database lacks, in order, in one transaction under a lock (SQLite's write lock, a
PostgreSQL advisory lock), and record each in ``schema_version``, so ``receptionist db
upgrade`` is idempotent and safe to run from two machines at once. A step is never edited
once released: a change is a new step.

SQLite also keeps the number in ``PRAGMA user_version``: version-1 files (before this table)
have only that, and releases before version 2 read it to refuse a newer file. PostgreSQL's
number is the highest row of ``schema_version``.
"""

from __future__ import annotations

from receptionist.scheduling.schema_steps import STEPS, Step

SQLITE_SCHEMA_VERSION_TABLE = """CREATE TABLE IF NOT EXISTS schema_version (
    version INTEGER PRIMARY KEY,
    description TEXT NOT NULL,
    applied_at REAL NOT NULL
)"""
POSTGRES_SCHEMA_VERSION_TABLE = """CREATE TABLE IF NOT EXISTS schema_version (
    version integer PRIMARY KEY,
    description text NOT NULL,
    applied_at timestamptz NOT NULL
)"""

LATEST = STEPS[-1].version
assert [step.version for step in STEPS] == list(range(1, LATEST + 1))


def steps_after(version: int) -> tuple[Step, ...]:
    """The steps a database at ``version`` lacks, in order."""
    return STEPS[version:]


def upgrade_hint(location: str, version: int) -> str:
    """Why a store refuses a database at ``version``; the fix, when there is one."""
    if version > LATEST:
        return (
            f"appointments database {location} has schema version {version}, newer than this"
            f" release's {LATEST}: upgrade receptionist"
        )
    return (
        f"appointments database {location} has schema version {version}, older than this"
        f" release's {LATEST}: run `receptionist db upgrade`"
    )
