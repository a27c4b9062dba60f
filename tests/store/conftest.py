"""The store tests use the service tests' databases (SQLite file and PostgreSQL schema)."""

from tests.api.conftest import database_url, pg_session_url, store

__all__ = ["database_url", "pg_session_url", "store"]
