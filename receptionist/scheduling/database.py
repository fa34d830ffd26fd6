"""Which database backend ``[scheduler] database`` names: PostgreSQL for a URL, else SQLite."""

from __future__ import annotations

from collections.abc import Mapping

from receptionist.config import Config
from receptionist.scheduling.backend import Backend
from receptionist.scheduling.postgres_store import PostgresBackend
from receptionist.scheduling.sqlite_store import SqliteBackend


def open_backend(
    database: str, config: Config, environ: Mapping[str, str] | None = None
) -> Backend:
    """The backend for ``[scheduler] database``: a ``postgresql://`` URL or a file path.

    Raises:
        ConfigError: a PostgreSQL URL that is malformed or holds a password.
    """
    if database.startswith(("postgresql://", "postgres://")):
        return PostgresBackend(database, config, environ)
    return SqliteBackend(database, config.clinic.tz)
