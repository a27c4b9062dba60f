"""Reliability tests run real servers (``medpolicy serve`` subprocesses) on loopback ports."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.api.support import pg_available, pg_database
from tests.support import unavailable

BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture(params=BACKENDS)
def server_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh database for a server process: a SQLite file or a new PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'service.db'}"
        return
    if not pg_available():
        unavailable("PostgreSQL is not reachable at 127.0.0.1:5432")
    with pg_database() as url:
        yield url
