"""Which database backend ``[scheduler] database`` names: PostgreSQL for a URL, else SQLite."""

from __future__ import annotations

from receptionist.config import Config
from receptionist.config.clinic import is_postgres_url
from receptionist.scheduling.backend import Backend
from receptionist.scheduling.postgres_store import PostgresBackend
from receptionist.scheduling.sqlite_store import SqliteBackend


def open_backend(database: str, config: Config) -> Backend:
    """The backend for ``[scheduler] database``: a ``postgresql://`` URL or a file path (the
    password is ``config.secrets.database_password``)."""
    if is_postgres_url(database):
        return PostgresBackend(database, config)
    return SqliteBackend(database, config.clinic.tz)
